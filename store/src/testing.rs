//! For tests of renkei-store and of the crates above it (feature `test-support`): run a scenario
//! on a fresh SQLite file and on a fresh PostgreSQL database.
//!
//! PostgreSQL is reached at `RENKEI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each run creates and drops its own database.
//! A missing server fails the test with instructions; `RENKEI_SKIP_POSTGRES=1` opts out
//! explicitly.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::{DatabaseUrl, Db};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A PostgreSQL database of its own for one test (or benchmark), dropped with this value.
#[derive(Debug)]
pub struct TempPostgres {
    admin_url: String,
    name: String,
    /// Where the database is.
    pub url: String,
}

impl TempPostgres {
    /// A database at `RENKEI_TEST_POSTGRES_URL`'s server (the local one by default); `None` when
    /// `RENKEI_SKIP_POSTGRES=1`.
    pub fn create() -> Option<TempPostgres> {
        if std::env::var("RENKEI_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
            eprintln!("RENKEI_SKIP_POSTGRES=1: PostgreSQL scenarios not run");
            return None;
        }
        let admin_url =
            std::env::var("RENKEI_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        Some(Self::create_at(&admin_url))
    }

    /// A database at the server of `admin_url`, created through that connection.
    pub fn create_at(admin_url: &str) -> TempPostgres {
        let mut admin = diesel::PgConnection::establish(admin_url).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {admin_url} ({e}). Start it (the CI script does), point \
                 RENKEI_TEST_POSTGRES_URL at a server, or set RENKEI_SKIP_POSTGRES=1 to skip these tests"
            )
        });
        let name = format!("renkei_test_{}", uuid::Uuid::new_v4().simple());
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let base = &admin_url[..admin_url.rfind('/').expect("the URL names a database")];
        let url = format!("{base}/{name}");
        TempPostgres { admin_url: admin_url.to_owned(), name, url }
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        if let Ok(mut admin) = diesel::PgConnection::establish(&self.admin_url) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// Run `scenario` on two fresh SQLite files, then on two fresh PostgreSQL databases (a source
/// and a target of one backend).
pub async fn pairs_on_both<F, Fut>(scenario: F)
where
    F: Fn(Db, Db) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let open = |url: DatabaseUrl| async move {
        tokio::task::spawn_blocking(move || Db::open(&url, KEYS.clone())).await.unwrap().unwrap()
    };
    scenario(open(Db::sqlite_in(a.path())).await, open(Db::sqlite_in(b.path())).await).await;
    if let (Some(pa), Some(pb)) = (TempPostgres::create(), TempPostgres::create()) {
        scenario(open(DatabaseUrl::parse(&pa.url)).await, open(DatabaseUrl::parse(&pb.url)).await).await;
    }
}

/// The keyring of every test database: one per test process, so a test seals and opens with
/// the same keys its database was opened with.
pub static KEYS: std::sync::LazyLock<std::sync::Arc<crate::Keyring>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(crate::Keyring::ephemeral()));

/// Run `scenario` on a fresh SQLite file and on a fresh PostgreSQL database.
pub async fn on_both<F, Fut>(scenario: F)
where
    F: Fn(Db) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let sqlite = tokio::task::spawn_blocking({
        let url = Db::sqlite_in(dir.path());
        move || Db::open(&url, KEYS.clone())
    })
    .await
    .unwrap()
    .unwrap();
    scenario(sqlite).await;
    if let Some(pg) = TempPostgres::create() {
        let url = DatabaseUrl::parse(&pg.url);
        let db = tokio::task::spawn_blocking(move || Db::open(&url, KEYS.clone())).await.unwrap().unwrap();
        scenario(db).await;
    }
}
