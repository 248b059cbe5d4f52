//! `renkei conformance run`: the conformance suites against a gateway and the systems it
//! delivers to, with JUnit XML and HTML reports.
//!
//! `--target demo` starts the four simulated core systems as separate processes
//! (`renkei simulate …`) and a gateway configured against them; `--target ENDPOINTS.toml`
//! points at a running gateway and receivers:
//!
//! ```toml
//! grpc = "http://127.0.0.1:50051"
//! residents = 10000       # the synthetic population the resident record serves
//! seed = 1
//! [receivers]             # system → the simulator's base URL
//! tax = "http://127.0.0.1:8101/api/v1"
//! nhi = "http://127.0.0.1:8102/api/v1"
//! welfare = "http://127.0.0.1:8103/api/v1"
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use renkei_conformance::runner::{self, Target, report};
use renkei_conformance::suite::Suite;
use tokio::io::AsyncBufReadExt;

use super::demo::SimulatedCity;
use super::simulate::LISTENING;

#[derive(Debug, clap::Args)]
pub(super) struct ConformanceArgs {
    #[command(subcommand)]
    command: ConformanceCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ConformanceCommand {
    /// Run suites: every case is a visit at the counter, checked item by item at the systems.
    ///
    /// Exits non-zero when a case fails or a target cannot be reached.
    ///
    /// Examples:
    ///   renkei conformance run --target demo
    ///   renkei conformance run conformance/suites/nhi.toml --target endpoints.toml --html nhi.html
    Run(RunArgs),
    /// Check suite files (unknown interfaces, items, households, events) without running them.
    Check {
        /// Suite files or directories of them.
        #[arg(default_value = "conformance/suites")]
        suites: Vec<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Suite files or directories of them.
    #[arg(default_value = "conformance/suites")]
    suites: Vec<PathBuf>,
    /// `demo` (simulated systems started here) or an ENDPOINTS.toml file.
    #[arg(long, default_value = "demo")]
    target: String,
    /// With an ENDPOINTS.toml target: an access token of a user in 窓口職員 and バックヤード審査
    /// (`renkei users token USER` prints one). `--target demo` makes its own.
    #[arg(long, env = "RENKEI_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Where to write the JUnit XML report.
    #[arg(long, default_value = "target/conformance/junit.xml")]
    junit: PathBuf,
    /// Where to write the HTML report.
    #[arg(long, default_value = "target/conformance/report.html")]
    html: PathBuf,
    /// Cases run at once.
    #[arg(long, default_value_t = 8)]
    parallel: usize,
    /// Seconds a case waits for what it expects to arrive.
    #[arg(long, default_value_t = 20)]
    timeout: u64,
    /// Residents of the synthetic population (`--target demo`).
    #[arg(long, default_value_t = 300)]
    residents: usize,
    /// Seed of the synthetic population (`--target demo`).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// An operator's mapping set for the gateway of `--target demo` (the embedded set otherwise):
    /// check an edited set against the suites before it goes live.
    #[arg(long)]
    mappings: Option<PathBuf>,
}

/// Suites named on the command line: files, or every `*.toml` of a directory.
fn load(paths: &[PathBuf]) -> anyhow::Result<Vec<Suite>> {
    let mut suites = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let loaded = if path.is_dir() { Suite::load_dir(path) } else { Suite::load(path).map(|s| vec![s]) };
        match loaded {
            Ok(s) => suites.extend(s),
            Err(e) => problems.extend(e),
        }
    }
    if !problems.is_empty() {
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::bail!("{}\n{} problem(s) in the suites", text.join("\n"), problems.len());
    }
    Ok(suites)
}

/// Ok(true) when every case passed.
pub(super) async fn run(args: ConformanceArgs) -> anyhow::Result<bool> {
    match args.command {
        ConformanceCommand::Check { suites } => {
            let suites = load(&suites)?;
            let cases: usize = suites.iter().map(|s| s.cases.len()).sum();
            println!("{} suites, {cases} cases: no problems", suites.len());
            Ok(true)
        }
        ConformanceCommand::Run(args) => run_suites(args).await,
    }
}

async fn run_suites(args: RunArgs) -> anyhow::Result<bool> {
    let suites = load(&args.suites)?;
    let cases: usize = suites.iter().map(|s| s.cases.len()).sum();
    let timeout = Duration::from_secs(args.timeout);
    let (target, demo) = if args.target == "demo" {
        let demo = Demo::start(args.residents, args.seed, args.mappings.clone()).await?;
        (demo.target(args.residents, args.seed, timeout).await?, Some(demo))
    } else {
        let token = args.token.clone().context(
            "--token (or RENKEI_TOKEN): the suites log in as a user in 窓口職員 and バックヤード審査",
        )?;
        (endpoints(Path::new(&args.target), token, timeout)?, None)
    };
    eprintln!("running {cases} cases of {} suites against {}", suites.len(), target.grpc);
    let mut done = 0;
    let outcomes = runner::run(&target, &suites, args.parallel, |o| {
        done += 1;
        if !o.passed() {
            eprintln!("FAIL {} ({}:{})", o.case.id, o.file, o.case.line);
            for f in &o.failures {
                eprintln!("     {}: {}", f.interface, report::describe(f));
            }
        } else if done % 50 == 0 {
            eprintln!("  {done}/{cases} cases run");
        }
    })
    .await;
    if let Some(demo) = demo {
        demo.gateway.shutdown().await?;
    }
    let outcomes = outcomes?;
    for (path, text) in [(&args.junit, report::junit(&outcomes)), (&args.html, report::html(&outcomes))] {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let summary = report::Summary::of(&outcomes);
    let mut out = std::io::stdout().lock();
    let mut per_interface: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for o in &outcomes {
        let entry = per_interface.entry(o.interface()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(!o.passed());
    }
    for (interface, (n, failed)) in &per_interface {
        writeln!(out, "  {interface:<32} {n:>4} cases  {failed:>3} failed")?;
    }
    writeln!(out, "{summary} — JUnit {} , HTML {}", args.junit.display(), args.html.display())?;
    Ok(summary.failed == 0)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Endpoints {
    grpc: String,
    residents: usize,
    seed: u64,
    receivers: BTreeMap<String, String>,
}

fn endpoints(path: &Path, token: String, timeout: Duration) -> anyhow::Result<Target> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--target {}", path.display()))?;
    let e: Endpoints = toml::from_str(&text).with_context(|| format!("--target {}", path.display()))?;
    Ok(Target { grpc: e.grpc, token, receivers: e.receivers, residents: e.residents, seed: e.seed, timeout })
}

/// The simulated city of `--target demo`: four simulator processes and a gateway.
struct Demo {
    _children: Vec<tokio::process::Child>,
    gateway: renkei_gateway::server::RunningGateway,
    city: SimulatedCity,
    _dir: tempfile::TempDir,
}

impl Demo {
    async fn start(residents: usize, seed: u64, mappings: Option<PathBuf>) -> anyhow::Result<Demo> {
        let dir = tempfile::tempdir()?;
        let exe = std::env::current_exe()?;
        let nhi_inbox = dir.path().join("nhi-inbox");
        let mut children = Vec::new();
        let mut urls = Vec::new();
        for system in ["resident-record", "tax", "nhi", "welfare"] {
            let mut command = tokio::process::Command::new(&exe);
            command
                .args(["--log", "warn", "simulate", system, "--listen", "127.0.0.1:0"])
                .args(["--residents", &residents.to_string(), "--seed", &seed.to_string()])
                .stdout(Stdio::piped())
                .kill_on_drop(true);
            if system == "nhi" {
                command.arg("--inbox").arg(&nhi_inbox);
            }
            let mut child = command.spawn().with_context(|| format!("starting the {system} simulator"))?;
            let stdout = child.stdout.take().expect("piped");
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .with_context(|| format!("the {system} simulator did not start within 60 s"))??
                .with_context(|| format!("the {system} simulator exited before listening"))?;
            let url = line
                .strip_prefix(LISTENING)
                .with_context(|| format!("the {system} simulator said {line:?}"))?
                .to_owned();
            urls.push(url);
            children.push(child);
        }
        let city = SimulatedCity {
            resident_record: urls[0].clone(),
            tax: urls[1].clone(),
            nhi: urls[2].clone(),
            nhi_inbox,
            nhi_feed: dir.path().join("nhi-feed"),
            welfare: urls[3].clone(),
        };
        let mut config = city.config(dir.path().join("gateway"))?;
        config.server.grpc_listen = "127.0.0.1:0".parse()?;
        config.server.http_listen = "127.0.0.1:0".parse()?;
        config.delivery.poll_interval_ms = 50;
        config.delivery.initial_backoff_ms = 100;
        config.hub.poll_interval_ms = 200;
        config.mappings.dir = mappings;
        // The suites' one user makes the calls of many counters at once.
        config.auth.calls_per_second = 100_000;
        config.auth.calls_burst = 100_000;
        let gateway = renkei_gateway::server::start(config).await?;
        Ok(Demo { _children: children, gateway, city, _dir: dir })
    }

    /// The target, with a token of a user made for the run.
    async fn target(&self, residents: usize, seed: u64, timeout: Duration) -> anyhow::Result<Target> {
        let auth = &self.gateway.state().auth;
        super::demo::add_user(auth, "conformance", "適合性試験", &["窓口職員", "バックヤード審査"]).await?;
        let token = auth.issue("conformance", 3600).await?;
        let receivers = [
            ("resident-record", &self.city.resident_record),
            ("tax", &self.city.tax),
            ("nhi", &self.city.nhi),
            ("welfare", &self.city.welfare),
        ]
        .into_iter()
        .map(|(s, u)| (s.to_owned(), u.clone()))
        .collect();
        Ok(Target {
            grpc: format!("http://{}", self.gateway.grpc_addr),
            token,
            receivers,
            residents,
            seed,
            timeout,
        })
    }
}
