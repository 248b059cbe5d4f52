//! `renkei backup`: the embedded database's verified generations (`renkei_store::backup`).

use std::path::PathBuf;

use renkei_gateway::storage::audit::Checkpointer;
use renkei_gateway::storage::backup;

#[derive(Debug, clap::Args)]
pub(super) struct BackupArgs {
    #[command(flatten)]
    database: super::DatabaseArgs,
    /// Where the generations are (`[backup].dir`; backups in --data-dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    command: BackupCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BackupCommand {
    /// Take a backup now, while the gateway serves, and verify it.
    ///
    /// Example:
    ///   renkei backup --data-dir /var/lib/renkei now
    Now,
    /// The generations, oldest first: when each was taken, its rows, when it was last verified.
    List,
    /// Check a backup again: it opens, passes SQLite's integrity check, its row counts and the
    /// access log's head match its manifest, the chain and checkpoints verify, and every sealed
    /// value opens with the keyring. Exits non-zero naming what failed.
    ///
    /// Example:
    ///   renkei backup --data-dir /var/lib/renkei verify renkei-20261203T020000000
    Verify {
        /// The backup's name (from `list`); the newest when absent.
        name: Option<String>,
        /// The access log's signing key (`[audit].signing_key_file`; audit.key in --data-dir).
        #[arg(long)]
        audit_key: Option<PathBuf>,
    },
    /// Restore a backup as the database of an empty data directory, after verifying it. Stop the
    /// gateway, restore into a new directory, then start the gateway on it.
    ///
    /// Example:
    ///   renkei backup --data-dir /var/lib/renkei restore renkei-20261203T020000000 --to /var/lib/renkei-restored
    Restore {
        name: String,
        /// The data directory to restore into; it must hold no database.
        #[arg(long)]
        to: PathBuf,
    },
}

pub(super) async fn run(args: BackupArgs) -> anyhow::Result<bool> {
    let data_dir = args.database.data_dir.clone();
    let dir = renkei_gateway::backups::BackupConfig { dir: args.dir.clone(), ..Default::default() }
        .dir(&args.database.data_dir);
    let audit_key = |file: Option<PathBuf>| {
        renkei_gateway::config::AuditConfig { signing_key_file: file, ..Default::default() }
            .key_file(&data_dir)
    };
    let keys = args.database.storage().keyring()?;
    match args.command {
        BackupCommand::Now => {
            let db = args.database.open().await?;
            let manifest = tokio::task::spawn_blocking(move || backup::take(&db, &dir)).await??;
            println!("{} taken and verified ({} access-log entries)", manifest.name, manifest.audit_seq);
            Ok(true)
        }
        BackupCommand::List => {
            let all = backup::list(&dir)?;
            if all.is_empty() {
                println!("no backups in {}", dir.display());
            }
            for m in all {
                let at = |ms: i64| {
                    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339()).unwrap_or_default()
                };
                let verified = m.verified_at_ms.map(at).unwrap_or_else(|| "never".into());
                let applications = m.rows.get("applications").copied().unwrap_or(0);
                println!(
                    "{}  taken {}  {applications} applications  verified {verified}",
                    m.name,
                    at(m.taken_at_ms)
                );
            }
            Ok(true)
        }
        BackupCommand::Verify { name, audit_key: audit_key_file } => {
            let name = match name {
                Some(name) => name,
                None => backup::list(&dir)?
                    .pop()
                    .map(|m| m.name)
                    .ok_or_else(|| anyhow::anyhow!("no backups in {}", dir.display()))?,
            };
            let key_file = audit_key(audit_key_file);
            let key = match key_file.exists() {
                true => Some(
                    Checkpointer::load_or_create(&key_file).map_err(|e| anyhow::anyhow!(e))?.verifying_key(),
                ),
                false => {
                    eprintln!("no {}: the access log's checkpoints are not checked", key_file.display());
                    None
                }
            };
            match backup::verify(&dir, &name, &keys, key.as_ref()) {
                Ok(m) => {
                    println!(
                        "{} checks: {} tables, {} access-log entries",
                        m.name,
                        m.rows.len(),
                        m.audit_seq
                    );
                    Ok(true)
                }
                Err(e) => {
                    println!("{e}");
                    Ok(false)
                }
            }
        }
        BackupCommand::Restore { name, to } => {
            let target = backup::restore(&dir, &name, &to, &keys)?;
            // The restored database opens with this keyring and continues this access log's
            // chain: the new data directory gets both keys, unless it has its own.
            for key in [args.database.storage().key_file(), audit_key(None)] {
                let copy = to.join(key.file_name().unwrap_or_default());
                if key.exists() && !copy.exists() {
                    let bytes = std::fs::read(&key)?;
                    renkei_gateway::storage::write_private(&copy, &bytes)?;
                }
            }
            println!(
                "{name} restored as {}; start the gateway with --data-dir {}",
                target.display(),
                to.display()
            );
            Ok(true)
        }
    }
}
