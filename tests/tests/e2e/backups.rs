//! Backups while 50 clients submit: each verified, one restored into a fresh data directory
//! holding every submission acknowledged before its moment; a changed, cut-short or foreign-keyed
//! backup is refused with what failed, and a backup cut off by a crash leaves the others valid.

use std::sync::Arc;

use renkei_conformance::population::HardCase;
use renkei_gateway::storage::backup::{self, Manifest};
use renkei_gateway::storage::{Db, Keyring};
use renkei_proto::v1 as pb;

use crate::harness::{Harness, moving_notification};

const CLIENTS: usize = 50;
const EACH: usize = 6;

/// The application ids in the database of `data_dir`, read with diesel's SQLite connection.
fn application_ids(data_dir: &std::path::Path) -> std::collections::HashSet<String> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let mut conn =
        diesel::SqliteConnection::establish(&data_dir.join("renkei.db").to_string_lossy()).unwrap();
    diesel::sql_query("SELECT id FROM applications")
        .load::<Row>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_taken_while_fifty_clients_submit_hold_every_acknowledged_submission() {
    // Fifty counters of one staff member: beyond the per-user rate limit.
    let h = Arc::new(
        Harness::start_with(|c| {
            c.auth.calls_per_second = 100_000;
            c.auth.calls_burst = 100_000;
        })
        .await,
    );
    let backups = h.gateway.state().backups.clone().expect("the embedded database is backed up");
    let mover = h.population.hard_case(HardCase::SakiVariant).unwrap().atena_number.to_string();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (h, mover) = (h.clone(), mover.clone());
            tokio::spawn(async move {
                let mut counter = h.counter().await;
                let session_id = h.open_session(&mut counter).await;
                let mut acknowledged = Vec::new();
                for n in 0..EACH {
                    let response = counter
                        .submit_applications(pb::SubmitApplicationsRequest {
                            session_id: session_id.clone(),
                            idempotency_key: format!("load-{client}-{n}"),
                            applications: vec![moving_notification(&mover)],
                        })
                        .await
                        .unwrap()
                        .into_inner();
                    acknowledged.push((response.applications[0].application_id.clone(), now_ms()));
                }
                acknowledged
            })
        })
        .collect();
    let mut taken: Vec<Manifest> = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        taken.push(backups.take(&h.gateway.state().db).await.unwrap());
    }
    let mut acknowledged = Vec::new();
    for c in clients {
        acknowledged.extend(c.await.unwrap());
    }
    assert_eq!(acknowledged.len(), CLIENTS * EACH);

    // Each one verifies again, from its file.
    let keys = h.gateway.state().db.keys().clone();
    for m in &taken {
        backup::verify(backups.dir(), &m.name, &keys, None).unwrap();
    }
    // Restored into a fresh data directory, the middle one holds every submission acknowledged
    // before its moment.
    let middle = &taken[1];
    let fresh = tempfile::tempdir().unwrap();
    backup::restore(backups.dir(), &middle.name, fresh.path(), &keys).unwrap();
    let restored = application_ids(fresh.path());
    let before: Vec<&String> =
        acknowledged.iter().filter(|(_, at)| *at < middle.taken_at_ms).map(|(id, _)| id).collect();
    assert!(!before.is_empty(), "the backup was taken before any submission was acknowledged");
    for id in &before {
        assert!(restored.contains(*id), "{id}, acknowledged before the backup, is not in it");
    }
    assert_eq!(restored.len() as i64, middle.rows["applications"]);
    // The restored database opens with the keyring and its access log checks.
    let url = Db::sqlite_in(fresh.path());
    let db = tokio::task::spawn_blocking(move || Db::open(&url, keys)).await.unwrap().unwrap();
    let id = before[0].clone();
    let keys = db.keys().clone();
    let app = db
        .read(move |c| renkei_gateway::storage::submissions::committed_application(c, &keys, &id))
        .await
        .unwrap();
    assert!(app.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_cut_short_or_foreign_keyed_backup_is_refused_and_a_crash_leaves_the_others() {
    let h = Harness::start().await;
    let backups = h.gateway.state().backups.clone().unwrap();
    let db = h.gateway.state().db.clone();
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let mover = h.population.hard_case(HardCase::SakiVariant).unwrap().atena_number.to_string();
    counter
        .submit_applications(pb::SubmitApplicationsRequest {
            session_id,
            idempotency_key: "one".into(),
            applications: vec![moving_notification(&mover)],
        })
        .await
        .unwrap();
    let good = backups.take(&db).await.unwrap();
    let changed = backups.take(&db).await.unwrap();
    let cut = backups.take(&db).await.unwrap();
    let dir = backups.dir().to_owned();
    let keys = db.keys().clone();
    let file = |m: &Manifest| dir.join(format!("{}.db", m.name));

    let mut bytes = std::fs::read(file(&changed)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(file(&changed), &bytes).unwrap();
    let e = backup::verify(&dir, &changed.name, &keys, None).unwrap_err().to_string();
    assert!(e.contains(&changed.name) && e.contains("SHA-256"), "{e}");

    let bytes = std::fs::read(file(&cut)).unwrap();
    std::fs::write(file(&cut), &bytes[..bytes.len() / 3]).unwrap();
    let e = backup::verify(&dir, &cut.name, &keys, None).unwrap_err().to_string();
    assert!(e.contains("cut short"), "{e}");

    let e = backup::verify(&dir, &good.name, &Keyring::ephemeral(), None).unwrap_err().to_string();
    assert!(e.contains("sealed values") && e.contains("does not hold"), "{e}");

    // Restoring a bad one writes nothing.
    let fresh = tempfile::tempdir().unwrap();
    let e = backup::restore(&dir, &cut.name, fresh.path(), &keys).unwrap_err().to_string();
    assert!(e.contains("nothing was restored"), "{e}");
    assert_eq!(std::fs::read_dir(fresh.path()).unwrap().count(), 0, "a restore that failed left files");

    // A backup a crash cut off mid-write is a .partial: not listed, and the others still check.
    std::fs::write(dir.join("renkei-20261203T999999999.db.partial"), &bytes[..100]).unwrap();
    let names: Vec<String> = backup::list(&dir).unwrap().into_iter().map(|m| m.name).collect();
    assert!(names.contains(&good.name) && !names.iter().any(|n| n.contains("999999999")), "{names:?}");
    backup::verify(&dir, &good.name, &keys, None).unwrap();
    let (healthy, detail) = backups.health();
    assert!(healthy, "{detail}");
}
