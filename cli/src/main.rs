//! `renkei`: the one binary. It only wires the library crates: the gateway (`renkei_gateway`),
//! the mapping tools (`renkei_mappings`), and — for `demo`, `simulate` and `conformance` only —
//! the simulated core systems and the conformance runner (`renkei_conformance`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use renkei_gateway::config::{Config, TelemetryConfig};

mod audit;
mod backup;
mod card;
mod conformance;
mod demo;
mod handover;
mod hub;
mod intake;
mod keys;
mod mappings;
mod qr;
mod render;
mod report;
mod simulate;
mod telemetry;
mod users;

/// renkei — interoperability middleware for municipal counters.
///
/// renkei sits between the write-free counter (書かない窓口) and the standard core systems
/// (住民記録, 税, 国保, 福祉): one canonical model, one adapter per core system, durable
/// delivery, and a gRPC API (renkei.v1) for the counter app.
///
/// Start with `renkei demo`: the gateway with a simulated resident record of synthetic people,
/// all on loopback.
#[derive(Debug, Parser)]
#[command(name = "renkei", version, propagate_version = true)]
struct Cli {
    /// Log filter, e.g. `info`, `renkei_gateway=debug` (also RUST_LOG).
    #[arg(long, global = true, env = "RUST_LOG", default_value = "info")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway: gRPC counter API, HTTP health, delivery workers.
    ///
    /// Settings come from --config (TOML; see the example in the README) with flags on top.
    /// The embedded SQLite database is created in --data-dir on first start.
    ///
    /// Example:
    ///   renkei serve --resident-record-url https://jumin.example.lg.jp/api/v1
    Serve(ServeArgs),
    /// Run the gateway with a simulated resident record of synthetic residents, on loopback.
    ///
    /// Prints the addresses and a command to try. Nothing leaves the machine; every person is
    /// made up (deterministically from --seed).
    Demo(demo::DemoArgs),
    /// Print a visit's documents as PDF through a running gateway: the procedure guide
    /// (手続案内書), a prefilled application form, or the reception receipt.
    Render(render::RenderArgs),
    /// Reports from the gateway's database: `renkei report kpi --from --to` writes the counter's
    /// KPIs per session as CSV.
    Report(report::ReportArgs),
    /// The change-feed hub: where each subscriber is, what is pending, what was quarantined.
    Hub(hub::HubArgs),
    /// Card readers at this machine: read a card, watch readers, emulate a card for the demo.
    Card(card::CardArgs),
    /// Pre-entry QR codes: make a signing key, make a signed code from JSON, read one back.
    Qr(qr::QrArgs),
    /// Check, test, try, diff and bulk-convert mapping files (see `renkei mappings --help`).
    Mappings(mappings::MappingsArgs),
    /// Intake files: `renkei intake online FILE` reads online application XML through its
    /// mapping and shows the applications or the refusals.
    Intake(intake::IntakeArgs),
    /// One simulated core system as its own process (resident record, tax, NHI, welfare),
    /// decoding what it receives with its own readers; the first line printed is its address.
    ///
    /// Example:
    ///   renkei simulate nhi --listen 127.0.0.1:8102 --inbox /tmp/nhi-inbox --faults unavailable,latency=200ms
    Simulate(simulate::SimulateArgs),
    /// Conformance suites: `renkei conformance run [SUITE…] --target demo|ENDPOINTS.toml` writes
    /// JUnit XML and an HTML report and exits non-zero on a failure; `check` reads suites only.
    Conformance(conformance::ConformanceArgs),
    /// renkei's own staff accounts: add, passwd, disable, enable, list, token.
    ///
    /// Example:
    ///   printf '%s\n' "$PASSWORD" | renkei users --data-dir /var/lib/renkei add staff-001 --name '試験 職員' --group 窓口職員
    Users(users::UsersArgs),
    /// The groups and their permissions: list, check FILE, permissions.
    Groups(users::GroupsArgs),
    /// The access log: verify its chain, export it (JSON Lines, CSV), search it.
    Audit(audit::AuditArgs),
    /// Backups of the embedded database: now, list, verify, restore.
    Backup(backup::BackupArgs),
    /// Write every table as JSON Lines with a manifest (schema version, rows, SHA-256 per file),
    /// for handing the data over.
    ///
    /// Example:
    ///   renkei export --data-dir /var/lib/renkei --to /media/handover/renkei-2027-03-31
    Export(handover::ExportArgs),
    /// Load an export into an empty database, every table or none; a file that does not match
    /// its manifest is refused by name.
    Import(handover::ImportArgs),
    /// The keys personal data is sealed with: `renkei keys rotate` adds one and re-seals under it.
    Keys(keys::KeysArgs),
}

/// Which database a command reads: the embedded SQLite file in --data-dir, or PostgreSQL.
#[derive(Debug, clap::Args)]
struct DatabaseArgs {
    /// Directory of the embedded SQLite database (as for `renkei serve`).
    #[arg(long, default_value = "renkei-data")]
    data_dir: PathBuf,
    /// PostgreSQL URL, instead of --data-dir.
    #[arg(long, env = "RENKEI_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// The keyring file personal data is sealed with (`[storage].key_file`; data.key in
    /// --data-dir). RENKEI_DATA_KEYS, holding the keyring's lines, takes precedence.
    #[arg(long = "keyring", value_name = "FILE")]
    key_file: Option<PathBuf>,
}

impl DatabaseArgs {
    /// The same storage settings `renkei serve` would use.
    fn storage(&self) -> renkei_gateway::config::StorageConfig {
        renkei_gateway::config::StorageConfig {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            key_file: self.key_file.clone(),
        }
    }

    async fn open(self) -> anyhow::Result<renkei_gateway::storage::Db> {
        let storage = self.storage();
        let (url, keys) = (storage.database_url(), std::sync::Arc::new(storage.keyring()?));
        Ok(tokio::task::spawn_blocking(move || renkei_gateway::storage::Db::open(&url, keys)).await??)
    }
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// gRPC address (default 127.0.0.1:50051).
    #[arg(long)]
    grpc_listen: Option<std::net::SocketAddr>,
    /// HTTP address for /healthz and /readyz (default 127.0.0.1:8080).
    #[arg(long)]
    http_listen: Option<std::net::SocketAddr>,
    /// Directory of the embedded SQLite database (default ./renkei-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://…) when several replicas share the work; overrides --data-dir.
    #[arg(long, env = "RENKEI_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// An operator's mapping set (codes/, procedures/); the embedded default set otherwise.
    #[arg(long)]
    mappings: Option<PathBuf>,
    /// Base URL of the resident record's API (sets [systems.resident-record].base_url).
    #[arg(long)]
    resident_record_url: Option<String>,
}

impl ServeArgs {
    fn into_config(self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(a) = self.grpc_listen {
            config.server.grpc_listen = a;
        }
        if let Some(a) = self.http_listen {
            config.server.http_listen = a;
        }
        if let Some(d) = self.data_dir {
            config.storage.data_dir = d;
        }
        if let Some(u) = self.database_url {
            config.storage.database_url = Some(u);
        }
        if let Some(m) = self.mappings {
            config.mappings.dir = Some(m);
        }
        if let Some(url) = self.resident_record_url {
            config
                .systems
                .entry("resident-record".to_owned())
                .and_modify(|s| match &mut s.transport {
                    renkei_adapter_core::TransportConfig::Rest(rest) => rest.base_url = url.clone(),
                    other => *other = renkei_gateway::config::SystemConfig::rest(url.clone()).transport,
                })
                .or_insert_with(|| renkei_gateway::config::SystemConfig::rest(url));
        }
        Ok(config)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = cli.log;
    let success = |()| ExitCode::SUCCESS;
    let passed = |passed: bool| if passed { ExitCode::SUCCESS } else { ExitCode::from(2) };
    let result = match cli.command {
        // Offline tools: no runtime, no logging set-up; output is for the integrator.
        Command::Mappings(args) => mappings::run(args).map(success),
        // Offline, like the mapping tools: nothing is committed.
        Command::Intake(args) => intake::run(args, &mut std::io::stdout().lock()).map(passed),
        Command::Serve(args) => args.into_config().and_then(|config| {
            let telemetry = config.telemetry.clone();
            traced(&log, &telemetry, async {
                let gateway = renkei_gateway::server::start(config).await?;
                gateway.run_until(ctrl_c()).await
            })
            .map(success)
        }),
        Command::Demo(args) => online(&log, demo::run(args)).map(success),
        Command::Render(args) => online(&log, render::run(args)).map(success),
        Command::Report(args) => online(&log, report::run(args)).map(success),
        Command::Hub(args) => online(&log, hub::run(args)).map(success),
        Command::Card(args) => online(&log, card::run(args)).map(success),
        Command::Qr(args) => online(&log, async { qr::run(args) }).map(success),
        Command::Simulate(args) => online(&log, simulate::run(args)).map(success),
        Command::Conformance(args) => online(&log, conformance::run(args)).map(passed),
        Command::Users(args) => online(&log, users::run(args)).map(success),
        Command::Groups(args) => users::run_groups(args).map(passed),
        Command::Audit(args) => online(&log, audit::run(args)).map(passed),
        Command::Backup(args) => online(&log, backup::run(args)).map(passed),
        Command::Export(args) => online(&log, handover::export(args)).map(success),
        Command::Import(args) => online(&log, handover::import(args)).map(success),
        Command::Keys(args) => online(&log, keys::run(args)).map(success),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Run a command that talks to the network or the database: with logging to the `--log` filter,
/// on a multi-threaded runtime.
fn online<T>(log: &str, command: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    traced(log, &TelemetryConfig::default(), command)
}

/// [`online`], with spans exported as `telemetry` says ([`telemetry`]).
fn traced<T>(
    log: &str,
    telemetry: &TelemetryConfig,
    command: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    telemetry.check().map_err(|e| anyhow::anyhow!(e))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    let _telemetry = telemetry::init(log, telemetry)?;
    runtime.block_on(command)
}

pub(crate) async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling available: run until killed.
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn the_command_line_is_consistent_and_parses_the_documented_examples() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "renkei",
            "render",
            "guide",
            "--event",
            "move_in",
            "--atena",
            "0000000019",
            "--answer",
            "employee_insurance=いいえ",
            "-o",
            "guide.pdf",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Render(_)));
        let cli =
            Cli::try_parse_from(["renkei", "report", "kpi", "--from", "2026-04-01", "--to", "2026-05-01"])
                .unwrap();
        assert!(matches!(cli.command, Command::Report(_)));
        assert!(
            Cli::try_parse_from(["renkei", "report", "kpi", "--from", "April", "--to", "2026-05-01"])
                .is_err()
        );
    }
}
