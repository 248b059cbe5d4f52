//! `renkei export` and `renkei import`: every table as documented JSON Lines with a manifest, for
//! handing the data over to the next operator (`renkei_store::export`).

use std::path::PathBuf;

use renkei_gateway::storage::export;

#[derive(Debug, clap::Args)]
pub(super) struct ExportArgs {
    #[command(flatten)]
    database: super::DatabaseArgs,
    /// A new or empty directory for the files and manifest.json.
    #[arg(long)]
    to: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(super) struct ImportArgs {
    #[command(flatten)]
    database: super::DatabaseArgs,
    /// The directory an export wrote.
    from: PathBuf,
}

pub(super) async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let db = args.database.open().await?;
    let to = args.to.clone();
    // In one transaction, so the tables are of one moment (on SQLite writers wait meanwhile).
    let manifest =
        db.write(move |c| export::export(c, &to, |table, rows| eprintln!("  {table}: {rows} rows"))).await?;
    println!(
        "exported {} tables (schema {}) to {}",
        manifest.tables.len(),
        manifest.schema_version,
        args.to.display()
    );
    println!("sealed columns stay sealed: hand the keyring over with the export, apart from it");
    Ok(())
}

pub(super) async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let db = args.database.open().await?;
    let from = args.from.clone();
    let manifest = db
        .write(move |c| export::import(c, &from, |table, rows| eprintln!("  {table}: {rows} rows")))
        .await?;
    println!("imported {} tables from {}", manifest.tables.len(), args.from.display());
    export::summary(&manifest, &mut std::io::stdout().lock())?;
    Ok(())
}
