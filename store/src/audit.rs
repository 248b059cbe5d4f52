//! The access and operation log, as a hash chain with signed checkpoints.
//!
//! Every entry gets the next place in one chain (`seq`), the hash of the entry before
//! (`prev_hash`) and its own hash, SHA-256 over a canonical encoding of its place, the previous
//! hash and every field ([`AuditEntry::chain_hash`]). Writers lock the chain's head row, so
//! replicas on one PostgreSQL append to one chain in one order. Now and then the head is signed
//! with Ed25519 ([`Checkpointer`]): a tail cut off after a checkpoint shows as missing entries.
//! [`verify`] walks the chain and names the first entry whose bytes, order, presence or signature
//! does not check.

use diesel::prelude::*;
pub use ed25519_dalek::VerifyingKey;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use sha2::{Digest, Sha256};

use super::schema::{audit_checkpoints, audit_head, audit_log};
use super::{AnyConnection, StorageError, hex, now_ms};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One line of the access log: who did what to whom. `subject` is a 宛名番号, never an
/// individual number; `detail` never holds personal data.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: String,
    pub at_ms: i64,
    pub session_id: Option<String>,
    pub staff_id: Option<String>,
    pub action: String,
    pub subject: Option<String>,
    pub detail: Option<String>,
    /// The entry's place in the chain; set when it is written.
    pub seq: Option<i64>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

impl AuditEntry {
    pub fn new(
        session_id: &str,
        staff_id: &str,
        action: &str,
        subject: Option<&str>,
        detail: Option<String>,
    ) -> Self {
        AuditEntry {
            id: uuid::Uuid::now_v7().to_string(),
            at_ms: now_ms(),
            session_id: Some(session_id.to_owned()).filter(|s| !s.is_empty()),
            staff_id: Some(staff_id.to_owned()),
            action: action.to_owned(),
            subject: subject.map(str::to_owned),
            detail,
            seq: None,
            prev_hash: None,
            hash: None,
        }
    }

    /// SHA-256 (hex) over the entry's place, the previous hash and every field, each written as
    /// a 4-byte big-endian length and its bytes (an absent one as length 0xFFFFFFFF), so no two
    /// different entries encode alike.
    pub fn chain_hash(&self, seq: i64, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        let mut field = |value: Option<&[u8]>| match value {
            Some(bytes) => {
                h.update((bytes.len() as u32).to_be_bytes());
                h.update(bytes);
            }
            None => h.update(u32::MAX.to_be_bytes()),
        };
        field(Some(b"renkei-audit-v1"));
        field(Some(&seq.to_be_bytes()));
        field(Some(prev_hash.as_bytes()));
        field(Some(self.id.as_bytes()));
        field(Some(&self.at_ms.to_be_bytes()));
        field(self.session_id.as_deref().map(str::as_bytes));
        field(self.staff_id.as_deref().map(str::as_bytes));
        field(Some(self.action.as_bytes()));
        field(self.subject.as_deref().map(str::as_bytes));
        field(self.detail.as_deref().map(str::as_bytes));
        hex(&h.finalize())
    }

    /// Append `entries` to the chain, in order, in the caller's transaction.
    pub fn insert_all(conn: &mut AnyConnection, entries: &[AuditEntry]) -> Result<(), StorageError> {
        if entries.is_empty() {
            return Ok(());
        }
        let (mut seq, mut prev) = lock_head(conn)?;
        // One statement per row: diesel's multi-backend connection has no batch insert.
        for entry in entries {
            seq += 1;
            let hash = entry.chain_hash(seq, &prev);
            let row = AuditEntry {
                seq: Some(seq),
                prev_hash: Some(prev),
                hash: Some(hash.clone()),
                ..entry.clone()
            };
            diesel::insert_into(audit_log::table).values(&row).execute(conn)?;
            prev = hash;
        }
        diesel::update(audit_head::table.find(1))
            .set((audit_head::seq.eq(seq), audit_head::hash.eq(&prev)))
            .execute(conn)?;
        Ok(())
    }

    /// The entries of a session, oldest first.
    pub fn for_session(conn: &mut AnyConnection, session_id: &str) -> Result<Vec<AuditEntry>, StorageError> {
        Ok(audit_log::table
            .filter(audit_log::session_id.eq(session_id))
            .order((audit_log::at_ms, audit_log::id))
            .select(AuditEntry::as_select())
            .load(conn)?)
    }

    /// Chained entries with `from <= seq <= to`, in chain order.
    pub fn range(conn: &mut AnyConnection, from: i64, to: i64) -> Result<Vec<AuditEntry>, StorageError> {
        Ok(audit_log::table
            .filter(audit_log::seq.ge(from))
            .filter(audit_log::seq.le(to))
            .order(audit_log::seq)
            .select(AuditEntry::as_select())
            .load(conn)?)
    }

    /// Entries matching every filter given, in chain order, at most `limit`.
    pub fn search(
        conn: &mut AnyConnection,
        filter: &Search,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StorageError> {
        let mut query =
            audit_log::table.select(AuditEntry::as_select()).order(audit_log::seq).limit(limit).into_boxed();
        if let Some(s) = &filter.staff_id {
            query = query.filter(audit_log::staff_id.eq(s.clone()));
        }
        if let Some(s) = &filter.subject {
            query = query.filter(audit_log::subject.eq(s.clone()));
        }
        if let Some(a) = &filter.action {
            query = query.filter(audit_log::action.eq(a.clone()));
        }
        if let Some(t) = filter.from_ms {
            query = query.filter(audit_log::at_ms.ge(t));
        }
        if let Some(t) = filter.to_ms {
            query = query.filter(audit_log::at_ms.lt(t));
        }
        Ok(query.load(conn)?)
    }
}

/// What `renkei audit search` and `export` filter on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    pub staff_id: Option<String>,
    /// A 宛名番号.
    pub subject: Option<String>,
    pub action: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

/// The chain's head `(seq, hash)`, locked until the transaction ends where the backend can.
fn lock_head(conn: &mut AnyConnection) -> Result<(i64, String), StorageError> {
    let query = audit_head::table.find(1).select((audit_head::seq, audit_head::hash));
    Ok(match conn {
        AnyConnection::Postgresql(c) => query.for_update().first(c)?,
        // SQLite has one writer at a time: the write transaction is the lock.
        AnyConnection::Sqlite(c) => query.first(c)?,
    })
}

/// The chain's head: the last place taken and its hash.
pub fn head(conn: &mut AnyConnection) -> Result<(i64, String), StorageError> {
    Ok(audit_head::table.find(1).select((audit_head::seq, audit_head::hash)).first(conn)?)
}

/// A signed statement of the chain's head at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_checkpoints)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at_ms: i64,
    /// The first 16 hex digits of the verifying key's SHA-256.
    pub key_id: String,
    /// Ed25519 over `renkei-audit-checkpoint-v1|{seq}|{hash}|{at_ms}`, hex.
    pub signature: String,
}

impl Checkpoint {
    fn message(seq: i64, hash: &str, at_ms: i64) -> Vec<u8> {
        format!("renkei-audit-checkpoint-v1|{seq}|{hash}|{at_ms}").into_bytes()
    }
}

/// Signs checkpoints with the audit key.
pub struct Checkpointer {
    key: SigningKey,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Checkpointer({})", key_id(&self.key.verifying_key()))
    }
}

impl Checkpointer {
    /// The key in `path` (32 bytes, hex), created mode 0600 with a fresh key if absent.
    pub fn load_or_create(path: &std::path::Path) -> Result<Checkpointer, String> {
        let show = || path.display().to_string();
        let secret: [u8; 32] = match std::fs::read_to_string(path) {
            Ok(text) => unhex(text.trim())
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| format!("{}: not 32 bytes of hex", show()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| format!("{}: no randomness: {e}", show()))?;
                crate::write_private(path, hex(&secret).as_bytes())
                    .map_err(|e| format!("{}: {e}", show()))?;
                secret
            }
            Err(e) => return Err(format!("{}: {e}", show())),
        };
        Ok(Checkpointer { key: SigningKey::from_bytes(&secret) })
    }

    /// Ed25519 over `message`, hex (an archived segment's seal).
    pub fn sign(&self, message: &[u8]) -> String {
        hex(&self.key.sign(message).to_bytes())
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Sign the chain's head, unless a checkpoint of it exists already; the new checkpoint.
    pub fn checkpoint(&self, conn: &mut AnyConnection) -> Result<Option<Checkpoint>, StorageError> {
        let (seq, hash) = head(conn)?;
        if seq == 0 || audit_checkpoints::table.find(seq).count().get_result::<i64>(conn)? > 0 {
            return Ok(None);
        }
        let at_ms = now_ms();
        let signature = self.key.sign(&Checkpoint::message(seq, &hash, at_ms));
        let checkpoint = Checkpoint {
            seq,
            hash,
            at_ms,
            key_id: key_id(&self.key.verifying_key()),
            signature: hex(&signature.to_bytes()),
        };
        diesel::insert_into(audit_checkpoints::table).values(&checkpoint).execute(conn)?;
        Ok(Some(checkpoint))
    }
}

/// Which key signed: the first 16 hex digits of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    hex(&Sha256::digest(key.as_bytes()))[..16].to_owned()
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Chained entries checked.
    pub entries: u64,
    pub checkpoints: u64,
    /// The last place checked.
    pub last_seq: i64,
}

/// The first thing in the chain that does not check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("entry {seq} ({id}): its bytes were changed (its hash does not match its contents)")]
    Altered { seq: i64, id: String },
    #[error("entry {seq} ({id}): it does not follow entry {} (the chain's link is broken: reordered or replaced)", seq - 1)]
    Unlinked { seq: i64, id: String },
    #[error("entry {seq} is missing (the chain jumps from {before} to {after})")]
    Missing { seq: i64, before: i64, after: i64 },
    #[error("entries {from} to {to} are missing: checkpoint {to} was signed, the chain ends at {}", from - 1)]
    CutOff { from: i64, to: i64 },
    #[error("checkpoint {seq}: {why}")]
    Checkpoint { seq: i64, why: String },
}

/// Whether `signature` (hex) is `key`'s Ed25519 signature over `message`.
pub fn check_signature(key: &VerifyingKey, message: &[u8], signature: &str) -> bool {
    unhex(signature)
        .and_then(|b| Signature::from_slice(&b).ok())
        .is_some_and(|s| key.verify(message, &s).is_ok())
}

/// Walk the chain over `from..=to` (the live chain when `None`: after the archived segments) and check every entry's hash,
/// its link to the one before, that no place is missing, and every checkpoint in the range: its
/// signature under `key` and the entry it names.
pub fn verify(
    conn: &mut AnyConnection,
    key: &VerifyingKey,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Result<Verified, Broken>, StorageError> {
    let (live, link) = crate::archive::live_start(conn)?;
    let from = from.unwrap_or(live).max(live);
    let checkpoints: Vec<Checkpoint> = audit_checkpoints::table
        .filter(audit_checkpoints::seq.ge(from))
        .filter(audit_checkpoints::seq.le(to.unwrap_or(i64::MAX)))
        .order(audit_checkpoints::seq)
        .select(Checkpoint::as_select())
        .load(conn)?;
    let to = to.unwrap_or(i64::MAX);
    // The link into the range: the hash of the entry before `from`.
    let mut prev = if from == live {
        link
    } else {
        match AuditEntry::range(conn, from - 1, from - 1)?.pop() {
            Some(e) => e.hash.unwrap_or_default(),
            None => return Ok(Err(Broken::Missing { seq: from - 1, before: from - 2, after: from })),
        }
    };
    let mut expected = from;
    let mut entries = 0;
    let mut hashes = std::collections::HashMap::new();
    // Pages, so a year of entries is not held at once.
    loop {
        let page = AuditEntry::range(conn, expected, to.min(expected.saturating_add(9_999)))?;
        let last_page = page.len() < 10_000;
        for e in page {
            let seq = e.seq.unwrap_or_default();
            if seq != expected {
                return Ok(Err(Broken::Missing { seq: expected, before: expected - 1, after: seq }));
            }
            if e.chain_hash(seq, e.prev_hash.as_deref().unwrap_or_default())
                != e.hash.clone().unwrap_or_default()
            {
                return Ok(Err(Broken::Altered { seq, id: e.id }));
            }
            if e.prev_hash.as_deref() != Some(prev.as_str()) {
                return Ok(Err(Broken::Unlinked { seq, id: e.id }));
            }
            prev = e.hash.clone().unwrap_or_default();
            if checkpoints.iter().any(|c| c.seq == seq) {
                hashes.insert(seq, prev.clone());
            }
            entries += 1;
            expected += 1;
        }
        if last_page || expected > to {
            break;
        }
    }
    let last_seq = expected - 1;
    for c in &checkpoints {
        let signature = unhex(&c.signature)
            .and_then(|b| Signature::from_slice(&b).ok())
            .filter(|s| key.verify(&Checkpoint::message(c.seq, &c.hash, c.at_ms), s).is_ok());
        if signature.is_none() {
            return Ok(Err(Broken::Checkpoint {
                seq: c.seq,
                why: format!("the signature does not check under key {}", key_id(key)),
            }));
        }
        match hashes.get(&c.seq) {
            Some(h) if *h == c.hash => {}
            Some(_) => {
                return Ok(Err(Broken::Checkpoint {
                    seq: c.seq,
                    why: "it names another entry than the chain holds".into(),
                }));
            }
            None => return Ok(Err(Broken::CutOff { from: last_seq + 1, to: c.seq })),
        }
    }
    Ok(Ok(Verified { entries, checkpoints: checkpoints.len() as u64, last_seq }))
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (text.len() % 2 == 0)
        .then(|| {
            (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
        })
        .flatten()
}
