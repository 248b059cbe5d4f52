//! Backups of the embedded SQLite database, each checked after it is written.
//!
//! A backup is `VACUUM INTO` a new file while the gateway serves, taken on the write connection so
//! nothing is committed between the moment's row counts and the copy: the copy holds exactly what
//! was acknowledged before it began. It is written as `<name>.db.partial`, verified, then renamed
//! to `<name>.db` beside its manifest `<name>.json`; a crash during a backup leaves a `.partial`
//! that is never listed or restored, and the generations before it untouched.
//!
//! Verifying a backup opens it read-only and checks, against its manifest: SQLite's
//! `integrity_check`, every table's row count, the access log's chain and head, and that every
//! sealed value opens with the keyring. Restoring verifies first and writes into an empty data
//! directory through a temporary name, so nothing is half-restored.
//!
//! Generations are kept for `keep_business_days` business days back ([`crate::calendar`]), and
//! never fewer than two.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{FixedOffset, TimeZone};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::{AnyConnection, DatabaseUrl, Db, Keyring, StorageError, audit, now_ms};

/// Every table, for the row counts of a manifest and the export.
pub const TABLES: [&str; 15] = [
    "sessions",
    "visits",
    "submissions",
    "applications",
    "work_items",
    "deliveries",
    "audit_log",
    "audit_head",
    "audit_checkpoints",
    "audit_segments",
    "feed_changes",
    "feed_cursors",
    "feed_quarantine",
    "users",
    "logins",
];

/// What a backup holds, written beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    /// When the copy began (ms since the epoch): every commit acknowledged before is in it.
    pub taken_at_ms: i64,
    pub rows: BTreeMap<String, i64>,
    /// The access log's head at that moment: (seq, hash).
    pub audit_seq: i64,
    pub audit_hash: String,
    /// SHA-256 of the backup file, hex: any byte changed since it was written shows.
    pub sha256: String,
    /// When the backup was last verified, and by whom (`gateway`, `renkei backup verify`).
    pub verified_at_ms: Option<i64>,
}

/// Why a backup cannot be taken, trusted or restored: what failed, and where.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackupError(String);

impl From<StorageError> for BackupError {
    fn from(e: StorageError) -> Self {
        BackupError(e.to_string())
    }
}

fn fail(what: impl std::fmt::Display) -> BackupError {
    BackupError(what.to_string())
}

fn db_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.db"))
}

fn manifest_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

/// Every table's row count.
pub(crate) fn counts(conn: &mut AnyConnection) -> Result<BTreeMap<String, i64>, StorageError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut rows = BTreeMap::new();
    for table in TABLES {
        let count: Count =
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result(conn)?;
        rows.insert(table.to_owned(), count.n);
    }
    Ok(rows)
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    let path = manifest_path(dir, &manifest.name);
    let partial = path.with_extension("json.partial");
    let _ = std::fs::remove_file(&partial);
    let text = serde_json::to_string_pretty(manifest).map_err(fail)?;
    crate::write_private(&partial, text.as_bytes())
        .map_err(|e| fail(format!("{}: {e}", partial.display())))?;
    std::fs::rename(&partial, &path).map_err(|e| fail(format!("{}: {e}", path.display())))
}

/// Take a backup of `db` into `dir`, verify it, and return its manifest. Blocking: call it on
/// the blocking pool.
pub fn take(db: &Db, dir: &Path) -> Result<Manifest, BackupError> {
    let DatabaseUrl::Sqlite(_) = db.url() else {
        return Err(fail(
            "backups of PostgreSQL are the database's own (pg_basebackup, pg_dump): see docs/OPERATIONS.md",
        ));
    };
    crate::create_private_dir(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    let now = now_ms();
    let stamp = FixedOffset::east_opt(9 * 3600).expect("JST").timestamp_millis_opt(now).unwrap();
    let name = format!("renkei-{}", stamp.format("%Y%m%dT%H%M%S%3f"));
    let partial = dir.join(format!("{name}.db.partial"));
    // VACUUM INTO takes an empty file, so the copy is created readable by renkei's user only.
    crate::write_private(&partial, b"").map_err(|e| fail(format!("{}: {e}", partial.display())))?;
    let manifest = db
        .write_connection(|conn| {
            let rows = counts(conn)?;
            let (audit_seq, audit_hash) = audit::head(conn)?;
            let target = partial.to_string_lossy().replace('\'', "''");
            conn.batch_execute(&format!("VACUUM INTO '{target}'"))?;
            Ok(Manifest {
                name: name.clone(),
                taken_at_ms: now,
                rows,
                audit_seq,
                audit_hash,
                sha256: String::new(),
                verified_at_ms: None,
            })
        })
        .map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            fail(format!("taking {name}: {e}"))
        })?;
    let manifest = Manifest { sha256: sha256_of(&partial)?, ..manifest };
    if let Err(e) = check(&partial, &manifest, db.keys(), None) {
        let _ = std::fs::remove_file(&partial);
        return Err(fail(format!("{name} was written but does not check, and was removed: {e}")));
    }
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(|e| fail(format!("{}: {e}", partial.display())))?;
    let manifest = Manifest { verified_at_ms: Some(now_ms()), ..manifest };
    write_manifest(dir, &manifest)?;
    std::fs::rename(&partial, db_path(dir, &name)).map_err(|e| fail(format!("{name}: {e}")))?;
    Ok(manifest)
}

/// The backups in `dir`, oldest first (a `.partial` is not one).
pub fn list(dir: &Path) -> Result<Vec<Manifest>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(fail(format!("{}: {e}", dir.display()))),
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.map_err(fail)?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text =
                std::fs::read_to_string(&path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
            let manifest: Manifest = serde_json::from_str(&text)
                .map_err(|e| fail(format!("{}: not a backup manifest: {e}", path.display())))?;
            if db_path(dir, &manifest.name).exists() {
                found.push(manifest);
            }
        }
    }
    found.sort_by_key(|m| m.taken_at_ms);
    Ok(found)
}

/// The manifest of backup `name` in `dir`.
pub fn manifest(dir: &Path, name: &str) -> Result<Manifest, BackupError> {
    let name = name.trim_end_matches(".db").trim_end_matches(".json");
    list(dir)?
        .into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| fail(format!("no backup {name} in {}", dir.display())))
}

/// Verify backup `name` again (`renkei backup verify`), recording the time in its manifest.
pub fn verify(
    dir: &Path,
    name: &str,
    keys: &Keyring,
    audit_key: Option<&audit::VerifyingKey>,
) -> Result<Manifest, BackupError> {
    let manifest = manifest(dir, name)?;
    check(&db_path(dir, &manifest.name), &manifest, keys, audit_key)
        .map_err(|e| fail(format!("{}: {e}", manifest.name)))?;
    let manifest = Manifest { verified_at_ms: Some(now_ms()), ..manifest };
    write_manifest(dir, &manifest)?;
    Ok(manifest)
}

fn sha256_of(path: &Path) -> Result<String, BackupError> {
    use sha2::Digest;
    let mut file = std::fs::File::open(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    let mut hash = sha2::Sha256::new();
    std::io::copy(&mut file, &mut hash).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    Ok(crate::hex(&hash.finalize()))
}

/// Check the database file `path` against `manifest`.
fn check(
    path: &Path,
    manifest: &Manifest,
    keys: &Keyring,
    audit_key: Option<&audit::VerifyingKey>,
) -> Result<(), BackupError> {
    if sha256_of(path)? != manifest.sha256 {
        return Err(fail(
            "the file's SHA-256 is not its manifest's: it was changed or cut short after it was written",
        ));
    }
    let uri = format!("file:{}?mode=ro", path.display());
    let conn = diesel::SqliteConnection::establish(&uri).map_err(|e| fail(format!("does not open: {e}")))?;
    let mut conn = AnyConnection::Sqlite(conn);
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let lines: Vec<Line> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .map_err(|e| fail(format!("integrity check: {e}")))?;
    if lines.len() != 1 || lines[0].integrity_check != "ok" {
        let first = lines.first().map(|l| l.integrity_check.as_str()).unwrap_or("no answer");
        return Err(fail(format!("integrity check: {first}")));
    }
    let rows = counts(&mut conn).map_err(|e| fail(format!("row counts: {e}")))?;
    for (table, expected) in &manifest.rows {
        let got = rows.get(table).copied().unwrap_or(-1);
        if got != *expected {
            return Err(fail(format!("table {table}: {got} rows, the manifest says {expected}")));
        }
    }
    let (seq, hash) = audit::head(&mut conn)?;
    if (seq, hash.as_str()) != (manifest.audit_seq, manifest.audit_hash.as_str()) {
        return Err(fail(format!(
            "the access log's head is at {seq}, the manifest says {}",
            manifest.audit_seq
        )));
    }
    if let Some(key) = audit_key {
        if let Err(broken) = audit::verify(&mut conn, key, None, None)? {
            return Err(fail(format!("the access log does not check: {broken}")));
        }
    }
    crate::sealed::check_all(&mut conn, keys).map_err(|e| fail(format!("sealed values: {e}")))?;
    Ok(())
}

/// Restore backup `name` from `dir` as the database of the empty data directory `to`, after
/// verifying it. The gateway must not be serving from `to`.
pub fn restore(dir: &Path, name: &str, to: &Path, keys: &Keyring) -> Result<PathBuf, BackupError> {
    let manifest = manifest(dir, name)?;
    let target = Db::sqlite_in(to);
    let DatabaseUrl::Sqlite(target) = target else { unreachable!("sqlite_in is SQLite") };
    if target.exists() {
        return Err(fail(format!("{} exists: restore into an empty data directory", target.display())));
    }
    let source = db_path(dir, &manifest.name);
    check(&source, &manifest, keys, None)
        .map_err(|e| fail(format!("{}: {e}; nothing was restored", manifest.name)))?;
    std::fs::create_dir_all(to).map_err(|e| fail(format!("{}: {e}", to.display())))?;
    let partial = target.with_extension("db.partial");
    let _ = std::fs::remove_file(&partial);
    let bytes = std::fs::read(&source).map_err(|e| fail(format!("{}: {e}", source.display())))?;
    crate::write_private(&partial, &bytes).map_err(|e| fail(format!("{}: {e}", partial.display())))?;
    std::fs::rename(&partial, &target).map_err(|e| fail(format!("{}: {e}", target.display())))?;
    Ok(target)
}

/// Remove generations older than `keep_business_days` business days before `today` (JST),
/// keeping at least the newest two; the names removed.
pub fn prune(
    dir: &Path,
    calendar: &Calendar,
    keep_business_days: usize,
    now_ms: i64,
) -> Result<Vec<String>, BackupError> {
    let jst = FixedOffset::east_opt(9 * 3600).expect("JST");
    let today = jst.timestamp_millis_opt(now_ms).unwrap().date_naive();
    let from = calendar.business_days_before(today, keep_business_days);
    let all = list(dir)?;
    let mut removed = Vec::new();
    let keep_at_least = all.len().saturating_sub(2);
    for m in all.iter().take(keep_at_least) {
        let day = jst.timestamp_millis_opt(m.taken_at_ms).unwrap().date_naive();
        if day < from {
            for path in [db_path(dir, &m.name), manifest_path(dir, &m.name)] {
                std::fs::remove_file(&path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
            }
            removed.push(m.name.clone());
        }
    }
    Ok(removed)
}

/// The newest verified backup in `dir`.
pub fn latest_verified(dir: &Path) -> Result<Option<Manifest>, BackupError> {
    Ok(list(dir)?.into_iter().rev().find(|m| m.verified_at_ms.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> i64 {
        FixedOffset::east_opt(9 * 3600)
            .unwrap()
            .with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn generations_cover_two_business_days_back_and_never_fewer_than_two() {
        let dir = tempfile::tempdir().unwrap();
        let taken = [
            at(2026, 12, 23, 18),
            at(2026, 12, 24, 9),
            at(2026, 12, 25, 9),
            at(2026, 12, 25, 18),
            at(2026, 12, 28, 9),
        ];
        for (i, ms) in taken.iter().enumerate() {
            let name = format!("g{i}");
            std::fs::write(db_path(dir.path(), &name), b"").unwrap();
            let m = Manifest {
                name,
                taken_at_ms: *ms,
                rows: BTreeMap::new(),
                audit_seq: 0,
                audit_hash: String::new(),
                sha256: String::new(),
                verified_at_ms: Some(*ms),
            };
            write_manifest(dir.path(), &m).unwrap();
        }
        // Monday 4 January 2027, 10:00 JST: two business days back is Friday 25 December.
        let removed = prune(dir.path(), &Calendar::japan(), 2, at(2027, 1, 4, 10)).unwrap();
        assert_eq!(removed, ["g0", "g1"]);
        let kept: Vec<String> = list(dir.path()).unwrap().into_iter().map(|m| m.name).collect();
        assert_eq!(kept, ["g2", "g3", "g4"]);
        // A month later the newest two stay, however old.
        prune(dir.path(), &Calendar::japan(), 2, at(2027, 2, 4, 10)).unwrap();
        let kept: Vec<String> = list(dir.path()).unwrap().into_iter().map(|m| m.name).collect();
        assert_eq!(kept, ["g3", "g4"]);
    }
}
