//! `renkei audit`: verify the access log's chain, export it for the city's own analysis, search it.

use std::io::Write;
use std::path::PathBuf;

use renkei_gateway::storage::AuditEntry;
use renkei_gateway::storage::archive;
use renkei_gateway::storage::audit::{self, Checkpointer, Search};

#[derive(Debug, clap::Args)]
pub(super) struct AuditArgs {
    #[command(flatten)]
    database: super::DatabaseArgs,
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Check the chain: every entry's hash, its link to the one before, that none is missing, and
    /// the signed checkpoints (a cut-off tail). Names the first entry that does not check and
    /// exits non-zero.
    ///
    /// Example:
    ///   renkei audit --data-dir /var/lib/renkei verify
    Verify {
        /// The first place (seq) to check; the start of the chain when absent.
        #[arg(long)]
        from: Option<i64>,
        /// The last place to check; the end of the chain when absent.
        #[arg(long)]
        to: Option<i64>,
        /// The checkpoints' signing key (`[audit].signing_key_file`; audit.key in --data-dir).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Where archived segments are (`[audit].archive_dir`; audit-archive in --data-dir).
        #[arg(long)]
        archive_dir: Option<PathBuf>,
    },
    /// Write entries as JSON Lines or CSV to standard output, oldest first.
    ///
    /// Example:
    ///   renkei audit export --from 2026-04-01 --to 2027-04-01 --format csv > audit.csv
    Export {
        #[command(flatten)]
        filter: Filter,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
    },
    /// Entries of a staff member, a resident (宛名番号) or an action, as a table.
    ///
    /// Example:
    ///   renkei audit search --subject 0000000019
    Search {
        #[command(flatten)]
        filter: Filter,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Jsonl,
    Csv,
}

#[derive(Debug, clap::Args)]
struct Filter {
    /// From this day (YYYY-MM-DD, inclusive, UTC).
    #[arg(long)]
    from: Option<chrono::NaiveDate>,
    /// Up to this day (exclusive).
    #[arg(long)]
    to: Option<chrono::NaiveDate>,
    #[arg(long)]
    staff: Option<String>,
    /// A 宛名番号.
    #[arg(long)]
    subject: Option<String>,
    /// e.g. read_resident, refused_call, take_over_session.
    #[arg(long)]
    action: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 1_000_000)]
    limit: i64,
}

impl Filter {
    fn search(&self) -> Search {
        let ms = |d: chrono::NaiveDate| {
            d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp_millis()
        };
        Search {
            staff_id: self.staff.clone(),
            subject: self.subject.clone(),
            action: self.action.clone(),
            from_ms: self.from.map(ms),
            to_ms: self.to.map(ms),
        }
    }
}

const COLUMNS: [&str; 10] =
    ["seq", "at", "id", "session_id", "staff_id", "action", "subject", "detail", "prev_hash", "hash"];

fn row(e: &AuditEntry) -> [String; 10] {
    let at = chrono::DateTime::from_timestamp_millis(e.at_ms).map(|t| t.to_rfc3339()).unwrap_or_default();
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        e.seq.map(|s| s.to_string()).unwrap_or_default(),
        at,
        e.id.clone(),
        text(&e.session_id),
        text(&e.staff_id),
        e.action.clone(),
        text(&e.subject),
        text(&e.detail),
        text(&e.prev_hash),
        text(&e.hash),
    ]
}

/// Ok(false) when the chain does not verify.
pub(super) async fn run(args: AuditArgs) -> anyhow::Result<bool> {
    let data_dir = args.database.data_dir.clone();
    let db = args.database.open().await?;
    match args.command {
        AuditCommand::Verify { from, to, key_file, archive_dir } => {
            // The flags are the `[audit]` keys; absent ones default as the gateway's do.
            let audit = renkei_gateway::config::AuditConfig {
                signing_key_file: key_file,
                archive_dir,
                ..Default::default()
            };
            let key_file = audit.key_file(&data_dir);
            anyhow::ensure!(key_file.exists(), "--key-file: {} does not exist", key_file.display());
            let key =
                Checkpointer::load_or_create(&key_file).map_err(|e| anyhow::anyhow!(e))?.verifying_key();
            // The archived segments first: the live chain links to the last of them.
            let archive_dir = audit.archive_dir(&data_dir);
            let segment_key = key;
            match db.read(move |c| archive::verify_segments(c, &segment_key, &archive_dir)).await? {
                Ok(0) => {}
                Ok(n) => println!("the archived segments check: {n} entries"),
                Err(broken) => {
                    eprintln!("the access log does not check: {broken}");
                    return Ok(false);
                }
            }
            match db.read(move |c| audit::verify(c, &key, from, to)).await? {
                Ok(v) => {
                    println!(
                        "the access log checks: {} entries up to {}, {} signed checkpoints",
                        v.entries, v.last_seq, v.checkpoints
                    );
                    Ok(true)
                }
                Err(broken) => {
                    eprintln!("the access log does not check: {broken}");
                    Ok(false)
                }
            }
        }
        AuditCommand::Export { filter, format } => {
            let (search, limit) = (filter.search(), filter.limit);
            let entries = db.read(move |c| AuditEntry::search(c, &search, limit)).await?;
            let mut out = std::io::stdout().lock();
            match format {
                Format::Jsonl => {
                    for e in &entries {
                        let object: serde_json::Map<String, serde_json::Value> =
                            COLUMNS.iter().zip(row(e)).map(|(k, v)| ((*k).to_owned(), v.into())).collect();
                        writeln!(out, "{}", serde_json::Value::Object(object))?;
                    }
                }
                Format::Csv => {
                    let mut w = csv::Writer::from_writer(out);
                    w.write_record(COLUMNS)?;
                    for e in &entries {
                        w.write_record(row(e))?;
                    }
                    w.flush()?;
                }
            }
            eprintln!("{} entries", entries.len());
            Ok(true)
        }
        AuditCommand::Search { filter } => {
            let (search, limit) = (filter.search(), filter.limit.min(1000));
            let entries = db.read(move |c| AuditEntry::search(c, &search, limit)).await?;
            println!("{:>8}  {:<25} {:<14} {:<22} {:<12} detail", "seq", "at", "staff", "action", "subject");
            for e in &entries {
                let r = row(e);
                println!("{:>8}  {:<25} {:<14} {:<22} {:<12} {}", r[0], r[1], r[4], r[5], r[6], r[7]);
            }
            Ok(true)
        }
    }
}
