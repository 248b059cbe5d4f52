//! The access log's retention: entries older than the retention time leave the live table as a
//! sealed segment — a JSON Lines file of the entries, chain fields and all, with its range, the
//! hash of its last entry and its SHA-256 signed with the checkpoints' Ed25519 key, recorded in
//! `audit_segments`. The live chain then starts after the last segment and links to its last
//! hash, so `verify` still sees a cut or an edit anywhere; [`verify_segments`] checks every
//! segment file against its record, its signature and the chain inside it.

use std::io::BufRead;
use std::path::Path;

use diesel::prelude::*;

use crate::audit::{AuditEntry, Checkpointer, GENESIS, VerifyingKey};
use crate::schema::{audit_checkpoints, audit_log, audit_segments};
use crate::{AnyConnection, StorageError, now_ms};

/// The most entries one segment holds.
const SEGMENT_ENTRIES: i64 = 100_000;

/// One archived segment.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_segments)]
pub struct Segment {
    pub first_seq: i64,
    pub last_seq: i64,
    pub last_hash: String,
    pub entries: i64,
    /// The file's name in the archive directory.
    pub file: String,
    pub sha256: String,
    pub archived_at_ms: i64,
    pub key_id: String,
    /// Ed25519 over [`Segment::message`], hex.
    pub signature: String,
}

impl Segment {
    fn message(first: i64, last: i64, last_hash: &str, sha256: &str) -> Vec<u8> {
        format!("renkei-audit-segment-v1|{first}|{last}|{last_hash}|{sha256}").into_bytes()
    }
}

/// The segments, oldest first.
pub fn segments(conn: &mut AnyConnection) -> Result<Vec<Segment>, StorageError> {
    Ok(audit_segments::table.order(audit_segments::first_seq).select(Segment::as_select()).load(conn)?)
}

/// Where the live chain starts and the hash it links to: after the last segment, or at 1.
pub fn live_start(conn: &mut AnyConnection) -> Result<(i64, String), StorageError> {
    let last: Option<Segment> = audit_segments::table
        .order(audit_segments::last_seq.desc())
        .select(Segment::as_select())
        .first(conn)
        .optional()?;
    Ok(last.map_or((1, GENESIS.to_owned()), |s| (s.last_seq + 1, s.last_hash)))
}

fn line(e: &AuditEntry) -> String {
    serde_json::json!({
        "seq": e.seq, "id": e.id, "at_ms": e.at_ms, "session_id": e.session_id, "staff_id": e.staff_id,
        "action": e.action, "subject": e.subject, "detail": e.detail, "prev_hash": e.prev_hash, "hash": e.hash,
    })
    .to_string()
}

fn entry(value: &serde_json::Value) -> Option<AuditEntry> {
    let text = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    Some(AuditEntry {
        id: text("id")?,
        at_ms: value.get("at_ms")?.as_i64()?,
        session_id: text("session_id"),
        staff_id: text("staff_id"),
        action: text("action")?,
        subject: text("subject"),
        detail: text("detail"),
        seq: value.get("seq")?.as_i64(),
        prev_hash: text("prev_hash"),
        hash: text("hash"),
    })
}

/// Move the chained entries older than `before_ms` (a prefix of the live chain, at most one
/// segment's worth) into a segment file in `dir`, in the caller's transaction; the segment, or
/// `None` when nothing is that old.
pub fn archive(
    conn: &mut AnyConnection,
    signer: &Checkpointer,
    dir: &Path,
    before_ms: i64,
) -> Result<Option<Segment>, StorageError> {
    let (start, link) = live_start(conn)?;
    let candidates: Vec<AuditEntry> = audit_log::table
        .filter(audit_log::seq.ge(start))
        .order(audit_log::seq)
        .limit(SEGMENT_ENTRIES)
        .select(AuditEntry::as_select())
        .load(conn)?;
    // The oldest, up to the first one not old enough: a segment is a contiguous run of places.
    let old: Vec<&AuditEntry> = candidates.iter().take_while(|e| e.at_ms < before_ms).collect();
    let (Some(first), Some(last)) = (old.first(), old.last()) else { return Ok(None) };
    let (first_seq, last_seq) = (first.seq.unwrap_or_default(), last.seq.unwrap_or_default());
    if first_seq != start || first.prev_hash.as_deref() != Some(link.as_str()) {
        return Err(StorageError::Corrupt(format!(
            "the access log's live chain does not start at {start} as the last segment says: run `renkei audit verify`"
        )));
    }
    let mut text = String::new();
    for e in &old {
        text.push_str(&line(e));
        text.push('\n');
    }
    let setup = |e: std::io::Error| StorageError::Setup(format!("{}: {e}", dir.display()));
    crate::create_private_dir(dir).map_err(setup)?;
    let file = format!("audit-{first_seq:012}-{last_seq:012}.jsonl");
    let path = dir.join(&file);
    // A file left by an attempt whose transaction did not commit is written again.
    let _ = std::fs::remove_file(&path);
    crate::write_private(&path, text.as_bytes()).map_err(setup)?;
    let sha256 = crate::sha256_hex(text.as_bytes());
    let last_hash = last.hash.clone().unwrap_or_default();
    let segment = Segment {
        first_seq,
        last_seq,
        entries: old.len() as i64,
        file,
        archived_at_ms: now_ms(),
        key_id: crate::audit::key_id(&signer.verifying_key()),
        signature: signer.sign(&Segment::message(first_seq, last_seq, &last_hash, &sha256)),
        sha256,
        last_hash,
    };
    diesel::insert_into(audit_segments::table).values(&segment).execute(conn)?;
    diesel::delete(audit_log::table.filter(audit_log::seq.ge(first_seq)).filter(audit_log::seq.le(last_seq)))
        .execute(conn)?;
    // The segment's signature stands for the checkpoints inside it.
    diesel::delete(audit_checkpoints::table.filter(audit_checkpoints::seq.le(last_seq))).execute(conn)?;
    Ok(Some(segment))
}

/// Check every segment: its file is in `dir` with the recorded SHA-256, the signature checks
/// under `key`, and the entries inside are whole and chained, each segment following the one
/// before. The number of entries checked, or the first thing that does not check.
pub fn verify_segments(
    conn: &mut AnyConnection,
    key: &VerifyingKey,
    dir: &Path,
) -> Result<Result<u64, String>, StorageError> {
    let mut checked = 0;
    let mut prev: Option<String> = None;
    for s in segments(conn)? {
        let name = &s.file;
        let Ok(bytes) = std::fs::read(dir.join(name)) else {
            return Ok(Err(format!(
                "segment {name} (entries {}–{}) is not in {}",
                s.first_seq,
                s.last_seq,
                dir.display()
            )));
        };
        let sha256 = crate::sha256_hex(&bytes);
        if sha256 != s.sha256 {
            return Ok(Err(format!(
                "segment {name}: its bytes were changed (SHA-256 is not the recorded one)"
            )));
        }
        let signed = crate::audit::check_signature(
            key,
            &Segment::message(s.first_seq, s.last_seq, &s.last_hash, &s.sha256),
            &s.signature,
        );
        if !signed {
            return Ok(Err(format!(
                "segment {name}: the signature does not check under key {}",
                crate::audit::key_id(key)
            )));
        }
        let mut expected = s.first_seq;
        let mut link =
            prev.clone().unwrap_or_else(|| if s.first_seq == 1 { GENESIS.to_owned() } else { String::new() });
        for (n, text) in bytes.lines().enumerate() {
            let bad = |what: &str| format!("segment {name}: line {}: {what}", n + 1);
            let text = text.map_err(|e| StorageError::Corrupt(e.to_string()))?;
            let Some(e) = serde_json::from_str(&text).ok().as_ref().and_then(entry) else {
                return Ok(Err(bad("not an access-log entry")));
            };
            let seq = e.seq.unwrap_or_default();
            if seq != expected {
                return Ok(Err(bad(&format!("entry {seq} where {expected} belongs"))));
            }
            if e.chain_hash(seq, e.prev_hash.as_deref().unwrap_or_default())
                != e.hash.clone().unwrap_or_default()
            {
                return Ok(Err(bad(&format!("entry {seq}: its bytes were changed"))));
            }
            if !link.is_empty() && e.prev_hash.as_deref() != Some(link.as_str()) {
                return Ok(Err(bad(&format!("entry {seq} does not follow the entry before it"))));
            }
            link = e.hash.unwrap_or_default();
            expected += 1;
            checked += 1;
        }
        if expected != s.last_seq + 1 || link != s.last_hash {
            return Ok(Err(format!(
                "segment {name}: it ends at {} but was recorded to end at {}",
                expected - 1,
                s.last_seq
            )));
        }
        prev = Some(s.last_hash);
    }
    Ok(Ok(checked))
}
