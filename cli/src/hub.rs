//! `renkei hub`: the change-feed hub's state, from the gateway's database.

use renkei_delivery::hub;
use renkei_gateway::storage::feed::SOURCE;

#[derive(Debug, clap::Args)]
pub(super) struct HubArgs {
    #[command(subcommand)]
    command: HubCommand,
}

#[derive(Debug, clap::Subcommand)]
enum HubCommand {
    /// Where the source and each subscriber are: the last seq taken or delivered, the batch in
    /// flight, how far behind the source, failed attempts and the last error; then the changes a
    /// subscriber's mapping refused (quarantined), with the record and item.
    ///
    /// Example:
    ///   renkei hub status --data-dir /var/lib/renkei
    Status {
        #[command(flatten)]
        database: super::DatabaseArgs,
    },
}

pub(super) async fn run(args: HubArgs) -> anyhow::Result<()> {
    match args.command {
        HubCommand::Status { database } => {
            let db = database.open().await?;
            let status = hub::status(&db).await?;
            if status.cursors.is_empty() {
                println!("the hub has not run against this database (no cursors)");
                return Ok(());
            }
            let source = status.cursors.iter().find(|c| c.name == SOURCE).map_or(0, |c| c.position);
            println!(
                "{:<20} {:>10} {:>10} {:>8} {:>8}  last error",
                "cursor", "position", "pending", "behind", "attempts"
            );
            for c in &status.cursors {
                let pending = c.pending_to.map_or_else(|| "-".to_owned(), |p| p.to_string());
                let behind =
                    if c.name == SOURCE { "-".to_owned() } else { (source - c.position).to_string() };
                println!(
                    "{:<20} {:>10} {:>10} {:>8} {:>8}  {}",
                    c.name,
                    c.position,
                    pending,
                    behind,
                    c.attempts,
                    c.last_error.as_deref().unwrap_or("")
                );
            }
            if !status.quarantined.is_empty() {
                println!("\nquarantined ({}):", status.quarantined.len());
                for q in &status.quarantined {
                    println!("  {} seq {}: {}", q.subscriber, q.seq, q.error);
                }
            }
            Ok(())
        }
    }
}
