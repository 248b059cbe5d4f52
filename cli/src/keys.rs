//! `renkei keys`: the keyring personal data is sealed with (`renkei_store::sealed`).

use renkei_gateway::storage::{Keyring, sealed};

#[derive(Debug, clap::Args)]
pub(super) struct KeysArgs {
    #[command(flatten)]
    database: super::DatabaseArgs,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// The keyring's key ids, oldest first, and the one that seals new values.
    List,
    /// Add a fresh key to the keyring file and re-seal every value under it, while the gateway
    /// serves: replicas reading the same file take up the new key within seconds. The old keys
    /// stay in the file, so backups taken before the rotation still open.
    ///
    /// Example:
    ///   renkei keys --data-dir /var/lib/renkei rotate
    Rotate {
        /// Values re-sealed per transaction.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
}

/// How long a rotation waits for replicas still sealing under the old key to take up the new one.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(15);

pub(super) async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let storage = args.database.storage();
    match args.command {
        KeysCommand::List => {
            let keys = storage.keyring()?;
            let current = keys.current_id();
            for id in keys.ids() {
                println!("{id}{}", if id == current { "  (seals new values)" } else { "" });
            }
            Ok(())
        }
        KeysCommand::Rotate { batch } => {
            anyhow::ensure!(
                std::env::var_os(sealed::ENV).is_none(),
                "the keyring comes from {}: add a key there (a line `<id> <base64 key>`, see `renkei keys list`) \
                 and restart; rotation here rewrites a key file",
                sealed::ENV
            );
            let file = storage.key_file();
            anyhow::ensure!(file.exists(), "--keyring: {} does not exist", file.display());
            let added = Keyring::add_key(&file).map_err(|e| anyhow::anyhow!(e))?;
            eprintln!("added key {added} to {}; re-sealing", file.display());
            let db = args.database.open().await?;
            let started = std::time::Instant::now();
            let mut total = 0;
            loop {
                let keys = db.keys().clone();
                let done = db.write(move |c| sealed::reseal(c, &keys, batch.max(1))).await?;
                total += done;
                if done > 0 {
                    eprintln!("  {total} values re-sealed");
                    continue;
                }
                // Nothing left under the old keys — unless a replica still seals with one; it
                // re-reads the file within seconds, so look again until that time has passed.
                if started.elapsed() > SETTLE {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            println!("every value is sealed under {added} ({total} re-sealed)");
            Ok(())
        }
    }
}
