//! Encryption at rest: the columns that hold personal data — an application's body, the change
//! feed's residents, a visit's state — are sealed with AES-256-GCM before they are written and
//! opened as they are read, so the database files and their backups hold no name, address or
//! individual number in the clear.
//!
//! A sealed value is `sealed:v1:<key id>:<base64 of nonce ‖ ciphertext ‖ tag>`, with the table
//! and column as associated data (a value moved to another column does not open). The keys
//! are a keyring: one line per key, `<key id> <base64 of 32 bytes>`, the last line the one new
//! values are sealed with. It is a file created mode 0600 (`data.key` beside the SQLite
//! database by default) or the environment variable `RENKEI_DATA_KEYS`.
//!
//! `renkei keys rotate` appends a key and re-seals every value under it while the gateway
//! serves: a file-backed keyring re-reads its file when it meets a key id it does not know and,
//! every few seconds, when the file has changed, so replicas take up the new key on their own.
//! A value without the `sealed:` prefix (written before renkei sealed it) reads as it is and is
//! sealed by the next rotation.

use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use crate::StorageError;

const PREFIX: &str = "sealed:v1:";
/// How often a file-backed keyring looks whether its file changed.
const RECHECK: Duration = Duration::from_secs(5);
/// The environment variable a keyring may come from instead of a file.
pub const ENV: &str = "RENKEI_DATA_KEYS";

/// The keys values are sealed with and opened by.
pub struct Keyring {
    inner: RwLock<Keys>,
    file: Option<PathBuf>,
}

struct Keys {
    /// In the keyring's order; the last seals.
    keys: Vec<(String, Aes256Gcm)>,
    file_modified: Option<SystemTime>,
    checked: Instant,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring(current {})", self.current_id())
    }
}

/// A key's id: the first 12 hex digits of its SHA-256, so it names the key without revealing it.
fn key_id(key: &[u8]) -> String {
    crate::hex(&Sha256::digest(key)[..6])
}

fn fresh_key() -> Result<[u8; 32], String> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| format!("no randomness for a key: {e}"))?;
    Ok(key)
}

fn line(key: &[u8]) -> String {
    format!("{} {}\n", key_id(key), B64.encode(key))
}

/// Parse a keyring's text; `source` names it in errors (never a key).
fn parse(text: &str, source: &str) -> Result<Vec<(String, Aes256Gcm)>, String> {
    let mut keys = Vec::new();
    for (n, row) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#')) {
        let bad = |what: &str| format!("{source}: line {}: {what}", n + 1);
        let (id, encoded) = row.trim().split_once(' ').ok_or_else(|| bad("not `<key id> <base64 key>`"))?;
        let key = B64.decode(encoded.trim()).map_err(|_| bad("the key is not base64"))?;
        if key.len() != 32 {
            return Err(bad("the key is not 32 bytes"));
        }
        if key_id(&key) != id {
            return Err(bad("the key id does not match the key"));
        }
        keys.push((id.to_owned(), Aes256Gcm::new_from_slice(&key).map_err(|_| bad("not an AES-256 key"))?));
    }
    if keys.is_empty() {
        return Err(format!("{source}: holds no key"));
    }
    Ok(keys)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl Keyring {
    /// A keyring of one fresh key, held in memory only (tests, tools).
    pub fn ephemeral() -> Keyring {
        let key = fresh_key().expect("the system has randomness");
        Keyring::from_text(&line(&key), "a fresh key").expect("a fresh key parses")
    }

    /// A keyring from its text (`RENKEI_DATA_KEYS`).
    pub fn from_text(text: &str, source: &str) -> Result<Keyring, String> {
        Ok(Keyring {
            inner: RwLock::new(Keys {
                keys: parse(text, source)?,
                file_modified: None,
                checked: Instant::now(),
            }),
            file: None,
        })
    }

    /// The keyring in `path`, created mode 0600 with one fresh key when absent.
    pub fn load_or_create(path: &Path) -> Result<Keyring, String> {
        if !path.exists() {
            crate::write_private(path, line(&fresh_key()?).as_bytes())
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let keys = parse(&text, &path.display().to_string())?;
        Ok(Keyring {
            inner: RwLock::new(Keys { keys, file_modified: modified(path), checked: Instant::now() }),
            file: Some(path.to_owned()),
        })
    }

    /// Append a fresh key to the keyring file at `path`, which seals from now on; its id. The
    /// file is replaced whole (written beside it, then renamed), so a reader sees the old
    /// keyring or the new one.
    pub fn add_key(path: &Path) -> Result<String, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        parse(&text, &path.display().to_string())?;
        let key = fresh_key()?;
        let next = path.with_extension("key.new");
        let _ = std::fs::remove_file(&next);
        let mut text = text;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&line(&key));
        crate::write_private(&next, text.as_bytes()).map_err(|e| format!("{}: {e}", next.display()))?;
        std::fs::rename(&next, path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(key_id(&key))
    }

    /// The id of the key new values are sealed with.
    pub fn current_id(&self) -> String {
        self.read().keys.last().map(|(id, _)| id.clone()).unwrap_or_default()
    }

    /// The ids of every key, oldest first.
    pub fn ids(&self) -> Vec<String> {
        self.read().keys.iter().map(|(id, _)| id.clone()).collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Re-read the file when it changed (always with `force`). Errors keep the keys in hand.
    fn refresh(&self, force: bool) {
        let Some(path) = &self.file else { return };
        if !force && self.read().checked.elapsed() < RECHECK {
            return;
        }
        let now_modified = modified(path);
        let mut keys = self.inner.write().unwrap_or_else(|e| e.into_inner());
        keys.checked = Instant::now();
        if !force && now_modified == keys.file_modified {
            return;
        }
        match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| parse(&t, &path.display().to_string()))
        {
            Ok(fresh) => {
                keys.keys = fresh;
                keys.file_modified = now_modified;
            }
            Err(e) => {
                tracing::error!(error = %e, "the data keyring could not be re-read; keeping the keys in hand")
            }
        }
    }

    /// `plain`, sealed for `column` (`table.column`) under the current key.
    pub fn seal(&self, column: &str, plain: &str) -> Result<String, StorageError> {
        self.refresh(false);
        let keys = self.read();
        let (id, cipher) =
            keys.keys.last().ok_or_else(|| StorageError::Setup("the data keyring is empty".into()))?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce)
            .map_err(|e| StorageError::Setup(format!("no randomness for a nonce: {e}")))?;
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain.as_bytes(), aad: column.as_bytes() })
            .map_err(|_| StorageError::Setup(format!("{column}: sealing failed")))?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(format!("{PREFIX}{id}:{}", B64.encode(bytes)))
    }

    /// The value `stored` in `column` holds: opened when sealed, as it is otherwise.
    pub fn open(&self, column: &str, stored: &str) -> Result<String, StorageError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_owned()) };
        let corrupt = |what: &str| StorageError::Corrupt(format!("{column}: {what}"));
        let (id, encoded) =
            rest.split_once(':').ok_or_else(|| corrupt("a sealed value without its key id"))?;
        let bytes = B64.decode(encoded).map_err(|_| corrupt("a sealed value that is not base64"))?;
        if bytes.len() < 12 + 16 {
            return Err(corrupt("a sealed value too short to hold a nonce and a tag"));
        }
        if !self.read().keys.iter().any(|(k, _)| k == id) {
            // Sealed under a key added since this keyring was read (a rotation under way).
            self.refresh(true);
        }
        let keys = self.read();
        let (_, cipher) = keys.keys.iter().find(|(k, _)| k == id).ok_or_else(|| {
            corrupt(&format!("sealed under key {id}, which the data keyring does not hold"))
        })?;
        let plain = cipher
            .decrypt(Nonce::from_slice(&bytes[..12]), Payload { msg: &bytes[12..], aad: column.as_bytes() })
            .map_err(|_| {
                corrupt(&format!("a value under key {id} does not open: altered, or not this column's"))
            })?;
        String::from_utf8(plain).map_err(|_| corrupt("a sealed value that is not UTF-8"))
    }

    /// The id of the key `stored` is sealed under; `None` for a value in the clear.
    pub fn sealed_under(stored: &str) -> Option<&str> {
        stored.strip_prefix(PREFIX).and_then(|rest| rest.split_once(':')).map(|(id, _)| id)
    }
}

/// Re-seal up to `limit` values per sealed column that are not under the current key (or not
/// sealed at all); how many were re-sealed. `renkei keys rotate` calls it until it returns 0.
pub fn reseal(conn: &mut crate::AnyConnection, keys: &Keyring, limit: i64) -> Result<usize, StorageError> {
    use diesel::prelude::*;

    use crate::schema::{applications, feed_changes, visits};
    let current = format!("{PREFIX}{}:%", keys.current_id());
    let mut done = 0;
    let rows: Vec<(String, String)> = applications::table
        .filter(applications::payload.not_like(&current))
        .select((applications::id, applications::payload))
        .limit(limit)
        .load(conn)?;
    for (id, value) in rows {
        let value =
            keys.seal(crate::submissions::PAYLOAD, &keys.open(crate::submissions::PAYLOAD, &value)?)?;
        done += diesel::update(applications::table.find(id))
            .set(applications::payload.eq(value))
            .execute(conn)?;
    }
    let rows: Vec<(String, String)> = visits::table
        .filter(visits::state.not_like(&current))
        .select((visits::session_id, visits::state))
        .limit(limit)
        .load(conn)?;
    for (id, value) in rows {
        let value = keys.seal(crate::visits::STATE, &keys.open(crate::visits::STATE, &value)?)?;
        done += diesel::update(visits::table.find(id)).set(visits::state.eq(value)).execute(conn)?;
    }
    let rows: Vec<(i64, String)> = feed_changes::table
        .filter(feed_changes::resident.not_like(&current))
        .select((feed_changes::seq, feed_changes::resident))
        .limit(limit)
        .load(conn)?;
    for (seq, value) in rows {
        let value = keys.seal(crate::feed::RESIDENT, &keys.open(crate::feed::RESIDENT, &value)?)?;
        done += diesel::update(feed_changes::table.find(seq))
            .set(feed_changes::resident.eq(value))
            .execute(conn)?;
    }
    Ok(done)
}

/// Open every sealed value (a backup's check): the first that does not open, by column and row.
pub fn check_all(conn: &mut crate::AnyConnection, keys: &Keyring) -> Result<(), StorageError> {
    use diesel::prelude::*;

    use crate::schema::{applications, feed_changes, visits};
    let rows: Vec<(String, String)> =
        applications::table.select((applications::id, applications::payload)).load(conn)?;
    for (id, value) in rows {
        keys.open(crate::submissions::PAYLOAD, &value)
            .map_err(|e| StorageError::Corrupt(format!("application {id}: {e}")))?;
    }
    let rows: Vec<(String, String)> = visits::table.select((visits::session_id, visits::state)).load(conn)?;
    for (id, value) in rows {
        keys.open(crate::visits::STATE, &value)
            .map_err(|e| StorageError::Corrupt(format!("visit {id}: {e}")))?;
    }
    let rows: Vec<(i64, String)> =
        feed_changes::table.select((feed_changes::seq, feed_changes::resident)).load(conn)?;
    for (seq, value) in rows {
        keys.open(crate::feed::RESIDENT, &value)
            .map_err(|e| StorageError::Corrupt(format!("change {seq}: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_in_its_column_and_unaltered() {
        let keys = Keyring::ephemeral();
        let sealed = keys.seal("applications.payload", "{\"name\":\"試験 花子\"}").unwrap();
        assert!(!sealed.contains("試験"));
        assert_eq!(Keyring::sealed_under(&sealed), Some(keys.current_id().as_str()));
        assert_eq!(keys.open("applications.payload", &sealed).unwrap(), "{\"name\":\"試験 花子\"}");
        assert!(keys.open("visits.state", &sealed).is_err(), "opened in another column");
        let mut altered = sealed.clone();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(keys.open("applications.payload", &altered).is_err(), "an altered value opened");
        assert!(Keyring::ephemeral().open("applications.payload", &sealed).is_err(), "another key opened it");
        assert_eq!(
            keys.open("applications.payload", "{}").unwrap(),
            "{}",
            "a value in the clear reads as it is"
        );
    }

    #[test]
    fn an_added_key_seals_and_the_old_one_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.key");
        let keys = Keyring::load_or_create(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let old = keys.seal("c.c", "before").unwrap();
        let added = Keyring::add_key(&path).unwrap();
        // Another replica's keyring, read after the rotation, opens both.
        let other = Keyring::load_or_create(&path).unwrap();
        assert_eq!(other.current_id(), added);
        let new = other.seal("c.c", "after").unwrap();
        assert_eq!(other.open("c.c", &old).unwrap(), "before");
        // The first keyring meets the new key id and re-reads its file.
        assert_eq!(keys.open("c.c", &new).unwrap(), "after");
        assert_eq!(keys.current_id(), added);
    }

    #[test]
    fn a_bad_keyring_is_named_without_its_keys() {
        let e = Keyring::from_text("abc notbase64!", "RENKEI_DATA_KEYS").unwrap_err();
        assert!(e.starts_with("RENKEI_DATA_KEYS: line 1"), "{e}");
        let e = Keyring::from_text(&format!("000000000000 {}", B64.encode([7u8; 32])), "k").unwrap_err();
        assert!(e.contains("does not match"), "{e}");
    }
}
