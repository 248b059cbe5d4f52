//! A full export for handover: every table as JSON Lines, one object per row with the columns as
//! keys, and a manifest naming the schema version and each file's rows and SHA-256. An import
//! loads an export into an empty database of this schema version in one transaction; a round
//! trip is lossless.
//!
//! Values are exported as stored: the sealed columns (`applications.payload`,
//! `feed_changes.resident`, `visits.state`) stay sealed, so an export is handed over together
//! with the keyring, apart from it (docs/OPERATIONS.md). Integers are JSON numbers, text is JSON
//! strings, absent values are `null`. SQLite writes booleans as 0/1 and PostgreSQL as
//! true/false: an export loads into the backend it came from.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};

use crate::backup::TABLES;
use crate::{AnyConnection, StorageError};

/// The format this build writes and reads.
pub const FORMAT: &str = "renkei-export/1";

/// `manifest.json` of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportManifest {
    pub format: String,
    /// The last migration applied to the exported database.
    pub schema_version: String,
    pub exported_at_ms: i64,
    /// `sqlite` or `postgresql`.
    pub backend: String,
    pub tables: BTreeMap<String, TableFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFile {
    pub file: String,
    pub rows: u64,
    pub sha256: String,
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Json {
    #[diesel(sql_type = Text)]
    row: String,
}

fn columns(conn: &mut AnyConnection, table: &str) -> Result<Vec<String>, StorageError> {
    let rows: Vec<Column> = match conn {
        AnyConnection::Sqlite(c) => {
            diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"))
                .load(c)?
        }
        AnyConnection::Postgresql(c) => diesel::sql_query(
            "SELECT column_name AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind::<Text, _>(table)
        .load(c)?,
    };
    Ok(rows.into_iter().map(|c| c.name).collect())
}

fn schema_version(conn: &mut AnyConnection) -> Result<String, StorageError> {
    let rows: Vec<Column> = diesel::sql_query(
        "SELECT version AS name FROM __diesel_schema_migrations ORDER BY version DESC LIMIT 1",
    )
    .load(conn)?;
    Ok(rows.into_iter().next().map(|c| c.name).unwrap_or_default())
}

/// Write every table of `conn` into the empty or new directory `dir`; `progress` is told each
/// table as it is written. Run it in a read transaction, so the tables are of one moment.
pub fn export(
    conn: &mut AnyConnection,
    dir: &Path,
    mut progress: impl FnMut(&str, u64),
) -> Result<ExportManifest, StorageError> {
    let setup = |what: String| StorageError::Setup(what);
    crate::create_private_dir(dir).map_err(|e| setup(format!("{}: {e}", dir.display())))?;
    if std::fs::read_dir(dir).map_err(|e| setup(format!("{}: {e}", dir.display())))?.next().is_some() {
        return Err(setup(format!("{} is not empty: export into a new directory", dir.display())));
    }
    let backend = match conn {
        AnyConnection::Sqlite(_) => "sqlite",
        AnyConnection::Postgresql(_) => "postgresql",
    };
    let mut tables = BTreeMap::new();
    for table in TABLES {
        let cols = columns(conn, table)?;
        let order = (1..=cols.len()).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
        let query = match conn {
            AnyConnection::Sqlite(_) => {
                let pairs = cols.iter().map(|c| format!("'{c}', \"{c}\"")).collect::<Vec<_>>().join(", ");
                let cols = cols.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
                format!(
                    "SELECT json_object({pairs}) AS row FROM (SELECT {cols} FROM {table} ORDER BY {order})"
                )
            }
            AnyConnection::Postgresql(_) => {
                let cols = cols.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
                format!(
                    "SELECT row_to_json(t)::text AS row FROM (SELECT {cols} FROM {table} ORDER BY {order}) t"
                )
            }
        };
        let rows: Vec<Json> = diesel::sql_query(query).load(conn)?;
        let file = format!("{table}.jsonl");
        let path = dir.join(&file);
        let mut text = Vec::new();
        for row in &rows {
            text.extend_from_slice(row.row.as_bytes());
            text.push(b'\n');
        }
        crate::write_private(&path, &text).map_err(|e| setup(format!("{}: {e}", path.display())))?;
        let entry = TableFile { file, rows: rows.len() as u64, sha256: crate::sha256_hex(&text) };
        progress(table, entry.rows);
        tables.insert(table.to_owned(), entry);
    }
    let manifest = ExportManifest {
        format: FORMAT.into(),
        schema_version: schema_version(conn)?,
        exported_at_ms: crate::now_ms(),
        backend: backend.into(),
        tables,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| setup(e.to_string()))?;
    crate::write_private(&dir.join("manifest.json"), &text)
        .map_err(|e| setup(format!("manifest.json: {e}")))?;
    Ok(manifest)
}

/// Read and check the export in `dir`: its manifest, and every file's rows and SHA-256.
pub fn check(dir: &Path) -> Result<ExportManifest, StorageError> {
    let bad = |what: String| StorageError::Corrupt(what);
    let path = dir.join("manifest.json");
    let text = std::fs::read(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    let manifest: ExportManifest = serde_json::from_slice(&text)
        .map_err(|e| bad(format!("manifest.json: not an export manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(bad(format!(
            "manifest.json: format {:?}, this renkei reads {FORMAT:?}",
            manifest.format
        )));
    }
    for table in TABLES {
        let entry = manifest
            .tables
            .get(table)
            .ok_or_else(|| bad(format!("manifest.json: no entry for table {table}")))?;
        let path = dir.join(&entry.file);
        let bytes = std::fs::read(&path).map_err(|e| bad(format!("{}: {e}", entry.file)))?;
        let rows = bytes.iter().filter(|b| **b == b'\n').count() as u64;
        if rows != entry.rows {
            return Err(bad(format!("{}: {rows} rows, the manifest says {}", entry.file, entry.rows)));
        }
        if crate::sha256_hex(&bytes) != entry.sha256 {
            return Err(bad(format!("{}: its SHA-256 is not the manifest's", entry.file)));
        }
    }
    Ok(manifest)
}

/// Load the export in `dir` into the empty database of `conn`, in the caller's transaction:
/// every table or none. The export is checked first; a row that does not load names its file
/// and line.
pub fn import(
    conn: &mut AnyConnection,
    dir: &Path,
    mut progress: impl FnMut(&str, u64),
) -> Result<ExportManifest, StorageError> {
    let manifest = check(dir)?;
    let bad = |what: String| StorageError::Corrupt(what);
    let here = schema_version(conn)?;
    if manifest.schema_version != here {
        return Err(bad(format!(
            "the export is of schema {}, this database of {here}: import with the renkei that made it",
            manifest.schema_version
        )));
    }
    let backend = match conn {
        AnyConnection::Sqlite(_) => "sqlite",
        AnyConnection::Postgresql(_) => "postgresql",
    };
    if manifest.backend != backend {
        return Err(bad(format!("the export is of {}, this database is {backend}", manifest.backend)));
    }
    // A new database holds only the access log's initial head.
    for (table, rows) in crate::backup::counts(conn)? {
        let fresh = if table == "audit_head" { 1 } else { 0 };
        if rows > fresh {
            return Err(StorageError::Setup(format!(
                "table {table} holds rows: import into an empty database"
            )));
        }
    }
    diesel::sql_query("DELETE FROM audit_head").execute(conn)?;
    for table in TABLES {
        let entry = &manifest.tables[table];
        let cols = columns(conn, table)?;
        let names = cols.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
        let insert = match conn {
            AnyConnection::Sqlite(_) => {
                let values =
                    cols.iter().map(|c| format!("json_extract(?1, '$.{c}')")).collect::<Vec<_>>().join(", ");
                format!("INSERT INTO {table} ({names}) SELECT {values}")
            }
            AnyConnection::Postgresql(_) => {
                format!(
                    "INSERT INTO {table} ({names}) SELECT {names} FROM json_populate_record(NULL::{table}, $1::json)"
                )
            }
        };
        let file =
            std::fs::File::open(dir.join(&entry.file)).map_err(|e| bad(format!("{}: {e}", entry.file)))?;
        let mut loaded = 0;
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| bad(format!("{}: line {}: {e}", entry.file, n + 1)))?;
            diesel::sql_query(&insert)
                .bind::<Text, _>(&line)
                .execute(conn)
                .map_err(|e| bad(format!("{}: line {}: {e}", entry.file, n + 1)))?;
            loaded += 1;
        }
        progress(table, loaded);
    }
    Ok(manifest)
}

/// Write `manifest` as a summary to `out` (the CLI's).
pub fn summary(manifest: &ExportManifest, out: &mut impl Write) -> std::io::Result<()> {
    for (table, entry) in &manifest.tables {
        writeln!(out, "  {table:<18} {:>8} rows  {}", entry.rows, entry.file)?;
    }
    Ok(())
}
