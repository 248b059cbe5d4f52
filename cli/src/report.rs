//! `renkei report`: the KPIs of the counter, from the gateway's database.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{NaiveDate, TimeZone};
use renkei_gateway::storage::kpi::{self, SessionKpi};

#[derive(Debug, clap::Args)]
pub(super) struct ReportArgs {
    #[command(subcommand)]
    report: Report,
}

#[derive(Debug, clap::Subcommand)]
enum Report {
    /// Per counter session: seconds from opening to the last submission, form entries filled by
    /// renkei and by hand, applications per pattern (1–4), backyard items and returns. CSV.
    ///
    /// Sessions opened from --from (inclusive) to --to (exclusive), local dates.
    ///
    /// Example:
    ///   renkei report kpi --from 2026-04-01 --to 2026-05-01 --data-dir /var/lib/renkei -o april.csv
    Kpi {
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: NaiveDate,
        /// Day after the last, YYYY-MM-DD.
        #[arg(long)]
        to: NaiveDate,
        #[command(flatten)]
        database: super::DatabaseArgs,
        /// Where to write the CSV (standard output when absent).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

fn start_of(day: NaiveDate) -> anyhow::Result<i64> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    chrono::Local
        .from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.timestamp_millis())
        .with_context(|| format!("{day} has no local midnight"))
}

pub(super) async fn run(args: ReportArgs) -> anyhow::Result<()> {
    match args.report {
        Report::Kpi { from, to, database, out } => {
            anyhow::ensure!(from < to, "--from {from} must be before --to {to}");
            let (from_ms, to_ms) = (start_of(from)?, start_of(to)?);
            let db = database.open().await?;
            let rows = db.read(move |c| kpi::sessions_between(c, from_ms, to_ms)).await?;
            let mut csv = String::from(SessionKpi::CSV_HEADER);
            csv.push('\n');
            for row in &rows {
                csv.push_str(&row.csv_row());
                csv.push('\n');
            }
            match out {
                Some(path) => {
                    std::fs::write(&path, csv).with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("{} sessions → {}", rows.len(), path.display());
                }
                None => std::io::stdout().write_all(csv.as_bytes())?,
            }
            Ok(())
        }
    }
}
