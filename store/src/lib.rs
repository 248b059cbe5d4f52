//! renkei-store: the database, through diesel: embedded SQLite by default, PostgreSQL when several replicas share the
//! work. One schema, one set of migrations and one code path for both; the few places where the
//! backends differ (row locking when claiming deliveries) match on [`AnyConnection`].
//!
//! diesel is synchronous: every call runs on tokio's blocking pool through [`Db::read`] and
//! [`Db::write`].

pub mod archive;
pub mod audit;
pub mod backup;
pub mod calendar;
pub mod deliveries;
pub mod export;
pub mod feed;
mod group_commit;
pub mod kpi;
pub mod schema;
pub mod sealed;
mod sessions;
pub mod submissions;
mod users;
mod visits;
pub mod work_items;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
pub use sealed::Keyring;

pub use audit::AuditEntry;
pub use deliveries::{ClaimedDelivery, DeliveryOutcome, DeliveryRow, DeliveryState};
pub use sessions::SessionRow;
pub use submissions::{NewApplication, SessionApplication, SubmissionOutcome, SubmittedRow};
pub use users::{LoginRow, UserRow};
pub use visits::{PrefilledForm, Visit};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The PostgreSQL advisory lock migrations run under (any number the database's other users do
/// not take; this one spells "renkei" in ASCII).
const MIGRATION_LOCK: i64 = 0x72_65_6e_6b_65_69;

/// A connection to either backend; diesel's query builder works on it unchanged.
#[allow(missing_debug_implementations)] // diesel's connections have no Debug
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Which database, from a URL: `postgres://…` / `postgresql://…`, or a SQLite file
/// (`sqlite://path`, or a bare path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> DatabaseUrl {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DatabaseUrl::Postgres(url.to_owned())
        } else {
            DatabaseUrl::Sqlite(PathBuf::from(url.strip_prefix("sqlite://").unwrap_or(url)))
        }
    }

    /// For logs: the PostgreSQL URL without its password.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    let user_info = &url[scheme + 3..at];
                    let user = user_info.split(':').next().unwrap_or("");
                    format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..])
                }
                _ => url.clone(),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database connection: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database setup: {0}")]
    Setup(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// The change feed skipped a sequence number: the next one must arrive first.
    #[error("change feed: expected seq {expected} next, got {got}")]
    Gap { expected: i64, got: i64 },
}

struct Manager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<AnyConnection, diesel::ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                Ok(AnyConnection::Postgresql(diesel::PgConnection::establish(url)?))
            }
            DatabaseUrl::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())?;
                // The busy timeout covers the short waits between our own connections;
                // synchronous=FULL makes a commit survive power loss, which "nothing acknowledged
                // is lost" needs. (WAL is set once per file, in `Db::open`.) secure_delete
                // overwrites what a change frees, so a value sealed in place of one written in the
                // clear (before renkei sealed it) does not linger in a free page.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA secure_delete = ON;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), diesel::ConnectionError> {
        conn.batch_execute("SELECT 1").map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    /// A connection given back inside a transaction (its user panicked mid-way) is closed, which
    /// rolls the transaction back, instead of serving the next user inside it.
    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        use diesel::connection::TransactionManager;
        <AnyConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

type Pool = r2d2::Pool<Manager>;

/// The database: a pool for reads and one for writes. With SQLite the write pool holds a single
/// connection, owned by a writer thread that commits the transactions waiting for it together
/// ([`group_commit`]), so writers queue in-process instead of failing on the file lock; with
/// PostgreSQL both are the same pool.
#[derive(Clone)]
pub struct Db {
    read: Pool,
    write: Pool,
    /// SQLite's writer thread ([`group_commit`]); `None` on PostgreSQL.
    writer: Option<group_commit::Writer>,
    url: DatabaseUrl,
    keys: Arc<Keyring>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("url", &self.url.redacted()).finish()
    }
}

impl Db {
    /// Open (creating a SQLite file and its directory if needed) and run pending migrations.
    /// Personal data is sealed with `keys` ([`sealed`]).
    pub fn open(url: &DatabaseUrl, keys: Arc<Keyring>) -> Result<Db, StorageError> {
        if let DatabaseUrl::Sqlite(path) = url {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StorageError::Setup(format!("creating {}: {e}", dir.display())))?;
            }
            // Readable by renkei's user only; SQLite gives its WAL and shared-memory files the
            // database file's mode.
            if !path.exists() {
                write_private(path, b"")
                    .map_err(|e| StorageError::Setup(format!("creating {}: {e}", path.display())))?;
            }
            // WAL (readers beside the writer) is a property of the file. Switching needs the file
            // to itself, so it is done here, before the pools open their connections.
            let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())
                .map_err(|e| StorageError::Setup(format!("opening {}: {e}", path.display())))?;
            conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL;")?;
        }
        let build = |size| {
            r2d2::Pool::builder()
                .max_size(size)
                .connection_timeout(Duration::from_secs(10))
                .build(Manager { url: url.clone() })
        };
        let (read, write) = match url {
            DatabaseUrl::Postgres(_) => {
                let pool = build(8)?;
                (pool.clone(), pool)
            }
            DatabaseUrl::Sqlite(_) => (build(4)?, build(1)?),
        };
        let mut conn = write.get()?;
        let migrated = match &mut *conn {
            // Replicas starting together on a new database would each create the same tables:
            // one migrates under a session lock while the others wait, then find nothing pending.
            AnyConnection::Postgresql(c) => {
                c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
                let migrated = c.run_pending_migrations(MIGRATIONS).map(|_| ());
                c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
                migrated
            }
            AnyConnection::Sqlite(c) => c.run_pending_migrations(MIGRATIONS).map(|_| ()),
        };
        migrated.map_err(|e| StorageError::Setup(format!("migrations: {e}")))?;
        drop(conn);
        let writer = match url {
            DatabaseUrl::Sqlite(_) => Some(
                group_commit::Writer::start(write.clone())
                    .map_err(|e| StorageError::Setup(format!("starting the database writer: {e}")))?,
            ),
            DatabaseUrl::Postgres(_) => None,
        };
        Ok(Db { read, write, writer, url: url.clone(), keys })
    }

    /// The default embedded database in `data_dir`.
    pub fn sqlite_in(data_dir: &Path) -> DatabaseUrl {
        DatabaseUrl::Sqlite(data_dir.join("renkei.db"))
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The keys personal data is sealed with.
    pub fn keys(&self) -> &Arc<Keyring> {
        &self.keys
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self.url, DatabaseUrl::Sqlite(_))
    }

    /// Run `f` with a read connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        Self::run(self.read.clone(), f).await
    }

    /// Run `f` in a transaction on the write connection; its result once that is committed. On
    /// SQLite the transaction is a savepoint in a batch the writer thread commits with the others
    /// waiting at the time ([`group_commit`]): `f` sees what the batch's earlier writes did, and a
    /// failing `f` is rolled back alone.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.write(f).await,
            None => Self::run(self.write.clone(), |conn| conn.transaction(f)).await,
        }
    }

    async fn run<T, F>(pool: Pool, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StorageError::Setup(format!("database task failed: {e}")))?
    }

    /// Run `f` on the write connection, outside a transaction, blocking: while it runs nothing
    /// else is committed through this `Db` (a backup's consistent moment).
    pub fn write_connection<T>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut conn = self.write.get()?;
        f(&mut conn)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.read(|c| c.batch_execute("SELECT 1").map_err(StorageError::from)).await
    }
}

/// Lowercase hex of `bytes` (hashes, keys and signatures as the store writes them).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `bytes`, in hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

/// Create `dir` and its parents, the last readable by its owner only (backups, exports).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Write a new file only its owner may read (keys, backups): mode 0600, synced.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(any(test, feature = "test-support"))]
pub mod testing;
#[cfg(test)]
mod tests;
