//! The same scenarios on SQLite and on PostgreSQL ([`crate::testing::on_both`]).

use std::collections::HashSet;

use diesel::prelude::*;

use super::deliveries::{self, DeliveryOutcome, DeliveryState};
use super::submissions::{self, NewApplication, SubmissionOutcome};
use super::*;

use crate::testing::{KEYS, on_both};

async fn new_session(db: &Db) -> String {
    let row = SessionRow::open("c", "s", "");
    let id = row.id.clone();
    db.write(move |c| row.insert(c)).await.unwrap();
    id
}

fn apps(n: usize) -> Vec<NewApplication> {
    (0..n)
        .map(|i| NewApplication {
            procedure_id: "jumin.idou".into(),
            target_system: "resident-record".into(),
            payload: format!("{{\"n\":{i}}}"),
            pattern: 2,
            fields_total: 3,
            fields_prefilled: 2,
            work_department: None,
            traceparent: None,
        })
        .collect()
}

async fn submit(db: &Db, session: &str, key: &str, hash: &str, n: usize) -> SubmissionOutcome {
    let (session, key, hash) = (session.to_owned(), key.to_owned(), hash.to_owned());
    db.write(move |c| submissions::submit(c, &KEYS, &session, &key, &hash, &apps(n))).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_submissions() {
    on_both(|db| async move {
        let session = new_session(&db).await;
        let SubmissionOutcome::Committed(first) = submit(&db, &session, "k1", "h1", 2).await else {
            panic!("first submission commits");
        };
        assert_eq!(first.len(), 2);
        assert_eq!(submit(&db, &session, "k1", "h1", 2).await, SubmissionOutcome::Replayed(first.clone()));
        assert_eq!(submit(&db, &session, "k1", "other", 2).await, SubmissionOutcome::KeyReused);
        let pending = db.read(|c| deliveries::count(c, DeliveryState::Pending)).await.unwrap();
        assert_eq!(pending, 2, "one delivery per application, none for the replay");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_take_disjoint_deliveries() {
    on_both(|db| async move {
        let session = new_session(&db).await;
        submit(&db, &session, "k", "h", 40).await;
        let claimers: Vec<_> = (0..4)
            .map(|w| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let worker = format!("w{w}");
                        let got = db
                            .write(move |c| {
                                deliveries::claim(
                                    c,
                                    &KEYS,
                                    &worker,
                                    deliveries::Targets::NoneOf(&[]),
                                    3,
                                    60_000,
                                )
                            })
                            .await
                            .unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        mine.extend(got.into_iter().map(|d| d.id));
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for c in claimers {
            all.extend(c.await.unwrap());
        }
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!(all.len(), 40, "every delivery claimed");
        assert_eq!(unique.len(), 40, "none claimed twice");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_leases_and_requeue() {
    on_both(|db| async move {
        let session = new_session(&db).await;
        submit(&db, &session, "k", "h", 1).await;
        let claimed = db
            .write(|c| deliveries::claim(c, &KEYS, "w1", deliveries::Targets::NoneOf(&[]), 10, 60_000))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].attempts, 1);
        let id = claimed[0].id.clone();

        // A worker that does not hold the claim cannot record an outcome.
        let (i, o) = (id.clone(), DeliveryOutcome::Delivered { receipt: "x".into() });
        assert!(!db.write(move |c| deliveries::finish(c, &i, "w2", &o)).await.unwrap());

        // A retry makes it due later, not now.
        let (i, o) =
            (id.clone(), DeliveryOutcome::Retry { error: "503".into(), retry_at_ms: now_ms() + 60_000 });
        assert!(db.write(move |c| deliveries::finish(c, &i, "w1", &o)).await.unwrap());
        assert!(
            db.write(|c| deliveries::claim(c, &KEYS, "w1", deliveries::Targets::NoneOf(&[]), 10, 60_000))
                .await
                .unwrap()
                .is_empty()
        );

        // Dead-lettered, then put back by an operator, then delivered.
        let i = id.clone();
        db.write(move |c| {
            diesel::update(schema::deliveries::table.find(&i))
                .set(schema::deliveries::next_attempt_at_ms.eq(0))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
        let again = db
            .write(|c| deliveries::claim(c, &KEYS, "w1", deliveries::Targets::NoneOf(&[]), 10, 60_000))
            .await
            .unwrap();
        assert_eq!(again[0].attempts, 2);
        let (i, o) = (id.clone(), DeliveryOutcome::Dead { error: "gave up".into() });
        assert!(db.write(move |c| deliveries::finish(c, &i, "w1", &o)).await.unwrap());
        let i = id.clone();
        assert!(db.write(move |c| deliveries::requeue(c, &i)).await.unwrap());
        let i = id.clone();
        assert!(!db.write(move |c| deliveries::requeue(c, &i)).await.unwrap(), "only dead or rejected");
        let third = db
            .write(|c| deliveries::claim(c, &KEYS, "w3", deliveries::Targets::NoneOf(&[]), 10, 60_000))
            .await
            .unwrap();
        assert_eq!(third[0].attempts, 3);

        // An expired lease is claimed again by someone else.
        let expired = db
            .write(|c| deliveries::claim(c, &KEYS, "w4", deliveries::Targets::NoneOf(&[]), 10, -1))
            .await
            .unwrap();
        assert!(expired.is_empty(), "w3's lease is still running");
        let i = id.clone();
        db.write(move |c| {
            diesel::update(schema::deliveries::table.find(&i))
                .set(schema::deliveries::lease_until_ms.eq(Some(0)))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
        let taken_over = db
            .write(|c| deliveries::claim(c, &KEYS, "w4", deliveries::Targets::NoneOf(&[]), 10, 60_000))
            .await
            .unwrap();
        assert_eq!(taken_over.len(), 1);
        let (i, o) = (id.clone(), DeliveryOutcome::Delivered { receipt: "R1".into() });
        assert!(!db.write(move |c| deliveries::finish(c, &i, "w3", &o)).await.unwrap(), "w3 lost the lease");
        let (i, o) = (id.clone(), DeliveryOutcome::Delivered { receipt: "R1".into() });
        assert!(db.write(move |c| deliveries::finish(c, &i, "w4", &o)).await.unwrap());

        let i = id.clone();
        let (row, procedure) = db.read(move |c| deliveries::get(c, &i)).await.unwrap().unwrap();
        assert_eq!(
            (row.state.as_str(), row.receipt.as_deref(), procedure.as_str()),
            ("delivered", Some("R1"), "jumin.idou")
        );
        let s = session.clone();
        let apps = db.read(move |c| submissions::applications_of_session(c, &s)).await.unwrap();
        assert_eq!(apps[0].application.status, "delivered");
        assert_eq!(apps[0].attempts, 4);
    })
    .await;
}

#[test]
fn database_urls() {
    assert_eq!(DatabaseUrl::parse("sqlite://x/y.db"), DatabaseUrl::Sqlite("x/y.db".into()));
    assert_eq!(DatabaseUrl::parse("data/renkei.db"), DatabaseUrl::Sqlite("data/renkei.db".into()));
    let pg = DatabaseUrl::parse("postgres://renkei:secret@db:5432/renkei");
    assert_eq!(pg.redacted(), "postgres://renkei:***@db:5432/renkei");
    assert!(!pg.redacted().contains("secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backyard_work_queue() {
    use super::work_items::{self, Refused, WorkState};
    on_both(|db| async move {
        let session = new_session(&db).await;
        let backyard = |n: usize, target: &str| {
            let target = target.to_owned();
            (0..n)
                .map(move |i| NewApplication {
                    procedure_id: "jidou.teate".into(),
                    target_system: target.clone(),
                    payload: format!("{{\"n\":{i}}}"),
                    pattern: 1,
                    fields_total: 12,
                    fields_prefilled: 8,
                    work_department: Some("こども家庭支援課".into()),
                    traceparent: None,
                })
                .collect::<Vec<_>>()
        };
        let s = session.clone();
        db.write(move |c| {
            let mut apps = backyard(3, "");
            apps.extend(backyard(1, "resident-record"));
            submissions::submit(c, &KEYS, &s, "k", "h", &apps)
        })
        .await
        .unwrap();
        let pending = db.read(|c| deliveries::count(c, DeliveryState::Pending)).await.unwrap();
        assert_eq!(pending, 0, "backyard applications wait in the work queue, not the outbox");
        let queued = db
            .read(|c| {
                work_items::list(
                    c,
                    &KEYS,
                    Some(WorkState::Queued),
                    Some(&["こども家庭支援課".to_owned()]),
                    100,
                )
            })
            .await
            .unwrap();
        assert_eq!(queued.len(), 4);
        assert!(
            db.read(|c| work_items::list(c, &KEYS, None, Some(&["保険年金課".to_owned()]), 100))
                .await
                .unwrap()
                .is_empty()
        );

        // The one bound for a core system gets its delivery when completed.
        let to_deliver = queued.iter().find(|w| w.target_system == "resident-record").unwrap().row.id.clone();
        let i = to_deliver.clone();
        db.write(move |c| work_items::claim(c, &KEYS, Some(&i), None, "c")).await.unwrap().unwrap();
        let i = to_deliver.clone();
        db.write(move |c| work_items::complete(c, &KEYS, &i, "c", None, true)).await.unwrap().unwrap();
        assert_eq!(db.read(|c| deliveries::count(c, DeliveryState::Pending)).await.unwrap(), 1);

        // Two workers taking the oldest item at once get different items.
        let claims: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|w| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.write(move |c| work_items::claim(c, &KEYS, None, None, w)).await.unwrap()
                })
            })
            .collect();
        let mut claimed = Vec::new();
        for c in claims {
            claimed.push(c.await.unwrap().unwrap());
        }
        assert_ne!(claimed[0].row.id, claimed[1].row.id);
        let first = claimed.iter().find(|w| w.row.claimed_by.as_deref() == Some("a")).unwrap().row.id.clone();

        // Only the holder completes it; this one is keyed in by hand, so no delivery.
        let i = first.clone();
        let refused = db.write(move |c| work_items::complete(c, &KEYS, &i, "b", None, false)).await.unwrap();
        assert!(
            matches!(refused, Err(Refused::State { ref state, .. }) if state == "claimed"),
            "{refused:?}"
        );
        let i = first.clone();
        let done = db
            .write(move |c| work_items::complete(c, &KEYS, &i, "a", Some("入力済み"), false))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((done.row.state.as_str(), done.row.note.as_deref()), ("completed", Some("入力済み")));
        assert_eq!(db.read(|c| deliveries::count(c, DeliveryState::Pending)).await.unwrap(), 1);

        // Returned with a reason; a returned item cannot be claimed again.
        let open = db.read(|c| work_items::list(c, &KEYS, Some(WorkState::Queued), None, 100)).await.unwrap();
        let i = open[0].row.id.clone();
        let back = db
            .write(move |c| work_items::return_to_counter(c, &KEYS, &i, "b", "印影が不鮮明"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (back.row.state.as_str(), back.row.return_reason.as_deref()),
            ("returned", Some("印影が不鮮明"))
        );
        let i = back.row.id.clone();
        assert!(db.write(move |c| work_items::claim(c, &KEYS, Some(&i), None, "a")).await.unwrap().is_err());
        let s = session.clone();
        let statuses: Vec<String> = db
            .read(move |c| submissions::applications_of_session(c, &s))
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.application.status)
            .collect();
        assert!(
            statuses.contains(&"completed".to_owned()) && statuses.contains(&"returned".to_owned()),
            "{statuses:?}"
        );

        // The KPIs count them.
        let kpi = db.read(|c| super::kpi::sessions_between(c, 0, i64::MAX)).await.unwrap();
        let k = kpi.iter().find(|k| k.session_id == session).unwrap();
        assert_eq!((k.applications, k.per_pattern[0], k.backyard, k.returned), (4, 4, 4, 1));
        assert_eq!((k.fields_total, k.fields_prefilled), (48, 32));
    })
    .await;
}

mod audit_chain {
    use diesel::connection::SimpleConnection;

    use super::*;
    use crate::audit::{self, Broken, Checkpointer};

    /// 12 entries, checkpoints after the 5th and the 12th.
    async fn chain(db: &Db) -> (Checkpointer, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let signer = Checkpointer::load_or_create(&dir.path().join("audit.key")).unwrap();
        for batch in [5, 7] {
            let entries: Vec<AuditEntry> = (0..batch)
                .map(|i| {
                    AuditEntry::new(
                        "s-1",
                        "staff-001",
                        "read_resident",
                        Some("0000000019"),
                        Some(format!("n{i}")),
                    )
                })
                .collect();
            db.write(move |c| AuditEntry::insert_all(c, &entries)).await.unwrap();
            let key = signer.verifying_key();
            let signer_copy = Checkpointer::load_or_create(&dir.path().join("audit.key")).unwrap();
            assert_eq!(signer_copy.verifying_key(), key, "the key file is read back");
            db.write(move |c| signer_copy.checkpoint(c)).await.unwrap().unwrap();
        }
        (signer, dir)
    }

    async fn verify(db: &Db, signer: &Checkpointer) -> Result<audit::Verified, Broken> {
        let key = signer.verifying_key();
        db.read(move |c| audit::verify(c, &key, None, None)).await.unwrap()
    }

    async fn sql(db: &Db, statement: &str) {
        let statement = statement.to_owned();
        db.write(move |c| c.batch_execute(&statement).map_err(StorageError::from)).await.unwrap();
    }

    #[tokio::test]
    async fn a_clean_chain_verifies_and_each_kind_of_tampering_is_named() {
        on_both(|db| async move {
            let (signer, _dir) = chain(&db).await;
            let ok = verify(&db, &signer).await.unwrap();
            assert_eq!((ok.entries, ok.checkpoints, ok.last_seq), (12, 2, 12));
            // A range verifies from its own start.
            let key = signer.verifying_key();
            let part = db.read(move |c| audit::verify(c, &key, Some(4), Some(9))).await.unwrap().unwrap();
            assert_eq!((part.entries, part.checkpoints), (6, 1));
            // Another key does not verify the checkpoints.
            let dir = tempfile::tempdir().unwrap();
            let other = Checkpointer::load_or_create(&dir.path().join("k")).unwrap();
            assert!(matches!(verify(&db, &other).await, Err(Broken::Checkpoint { seq: 5, .. })));

            // One byte of one entry.
            sql(&db, "UPDATE audit_log SET detail = 'N3' WHERE seq = 4").await;
            assert!(matches!(verify(&db, &signer).await, Err(Broken::Altered { seq: 4, .. })), "{:?}", verify(&db, &signer).await);
            sql(&db, "UPDATE audit_log SET detail = 'n3' WHERE seq = 4").await;
            verify(&db, &signer).await.unwrap();

            // Two entries swapped (their places kept, their contents exchanged, hashes and all).
            sql(&db, "UPDATE audit_log SET seq = -6 WHERE seq = 6; UPDATE audit_log SET seq = 6 WHERE seq = 7; UPDATE audit_log SET seq = 7 WHERE seq = -6").await;
            assert!(matches!(verify(&db, &signer).await, Err(Broken::Altered { seq: 6, .. })), "{:?}", verify(&db, &signer).await);
            sql(&db, "UPDATE audit_log SET seq = -6 WHERE seq = 6; UPDATE audit_log SET seq = 6 WHERE seq = 7; UPDATE audit_log SET seq = 7 WHERE seq = -6").await;
            verify(&db, &signer).await.unwrap();

            // One entry deleted.
            sql(&db, "DELETE FROM audit_log WHERE seq = 8").await;
            assert_eq!(verify(&db, &signer).await.unwrap_err(), Broken::Missing { seq: 8, before: 7, after: 9 });

            // The tail cut off (and the head moved back to hide it): the last checkpoint shows it.
            sql(&db, "DELETE FROM audit_log WHERE seq >= 8; UPDATE audit_head SET seq = 7").await;
            let e = verify(&db, &signer).await.unwrap_err();
            assert_eq!(e, Broken::CutOff { from: 8, to: 12 });
            assert!(e.to_string().contains("entries 8 to 12 are missing"), "{e}");
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_imports_into_an_empty_database_row_for_row() {
    crate::testing::pairs_on_both(|source, target| async move {
        let session = new_session(&source).await;
        submit(&source, &session, "k", "h", 3).await;
        let (keys, s) = (KEYS.clone(), session.clone());
        source
            .write(move |c| {
                AuditEntry::insert_all(
                    c,
                    &[AuditEntry::new(&s, "staff-1", "lookup", Some("0000000019"), None)],
                )?;
                crate::Visit::default().save(c, &keys, &s)
            })
            .await
            .unwrap();
        let (first, second, third) =
            (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let dir = first.path().join("export");
        let d = dir.clone();
        let exported = source.read(move |c| export::export(c, &d, |_, _| {})).await.unwrap();
        assert_eq!(exported.tables["applications"].rows, 3);
        assert!(exported.tables["audit_log"].rows >= 1);

        let d = dir.clone();
        target.write(move |c| export::import(c, &d, |_, _| {})).await.unwrap();
        // The target exports the same bytes, table by table: every row, every column.
        let again = second.path().join("export");
        let d = again.clone();
        let reexported = target.read(move |c| export::export(c, &d, |_, _| {})).await.unwrap();
        for (table, entry) in &exported.tables {
            let a = std::fs::read(dir.join(&entry.file)).unwrap();
            let b = std::fs::read(again.join(&entry.file)).unwrap();
            assert_eq!(a, b, "{table} differs after the round trip");
            assert_eq!(reexported.tables[table].rows, entry.rows);
        }
        // A second import is refused: the database is no longer empty.
        let d = dir.clone();
        let e = target.write(move |c| export::import(c, &d, |_, _| {})).await.unwrap_err().to_string();
        assert!(e.contains("holds rows"), "{e}");

        // A file that does not match its manifest is refused by name, and nothing is loaded.
        let tampered = third.path().join("export");
        std::fs::create_dir_all(&tampered).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, tampered.join(path.file_name().unwrap())).unwrap();
        }
        let mut apps = std::fs::read_to_string(tampered.join("applications.jsonl")).unwrap();
        apps = apps.replacen("\"k\"", "\"K\"", 1);
        std::fs::write(tampered.join("applications.jsonl"), apps).unwrap();
        let e = export::check(&tampered).unwrap_err().to_string();
        assert!(e.contains("applications.jsonl") && e.contains("SHA-256"), "{e}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_past_retention_leave_as_a_signed_segment_and_the_chain_still_checks() {
    on_both(|db| async move {
        let keys_dir = tempfile::tempdir().unwrap();
        let signer = std::sync::Arc::new(
            audit::Checkpointer::load_or_create(&keys_dir.path().join("audit.key")).unwrap(),
        );
        let key = signer.verifying_key();
        let year_ago = now_ms() - 400 * 86_400_000;
        db.write(move |c| {
            for i in 0..15 {
                let mut e =
                    AuditEntry::new("s", "staff-1", "lookup", Some("0000000019"), Some(format!("#{i}")));
                if i < 10 {
                    e.at_ms = year_ago + i;
                }
                AuditEntry::insert_all(c, &[e])?;
            }
            Ok(())
        })
        .await
        .unwrap();
        let s = signer.clone();
        db.write(move |c| s.checkpoint(c)).await.unwrap();

        let archive_dir = keys_dir.path().join("archive");
        let (s, d) = (signer.clone(), archive_dir.clone());
        let before = now_ms() - 365 * 86_400_000;
        let segment =
            db.write(move |c| archive::archive(c, &s, &d, before)).await.unwrap().expect("a segment");
        assert_eq!((segment.first_seq, segment.last_seq, segment.entries), (1, 10, 10));
        let (s, d) = (signer.clone(), archive_dir.clone());
        assert!(
            db.write(move |c| archive::archive(c, &s, &d, before)).await.unwrap().is_none(),
            "nothing more is old"
        );

        // The live chain starts after the segment and checks; so does the segment.
        let verified = db.read(move |c| audit::verify(c, &key, None, None)).await.unwrap().unwrap();
        assert_eq!((verified.entries, verified.last_seq), (5, 15));
        let d = archive_dir.clone();
        assert_eq!(db.read(move |c| archive::verify_segments(c, &key, &d)).await.unwrap(), Ok(10));
        // New entries keep linking to the chain.
        db.write(|c| AuditEntry::insert_all(c, &[AuditEntry::new("s", "staff-1", "lookup", None, None)]))
            .await
            .unwrap();
        assert!(db.read(move |c| audit::verify(c, &key, None, None)).await.unwrap().is_ok());

        // One byte of the segment changed, or the file gone: named.
        let path = archive_dir.join(&segment.file);
        let original = std::fs::read(&path).unwrap();
        let mut changed = original.clone();
        let i = changed.iter().position(|b| *b == b'#').unwrap() + 1;
        changed[i] = b'9';
        std::fs::write(&path, &changed).unwrap();
        let d = archive_dir.clone();
        let broken = db.read(move |c| archive::verify_segments(c, &key, &d)).await.unwrap().unwrap_err();
        assert!(broken.contains(&segment.file) && broken.contains("bytes were changed"), "{broken}");
        std::fs::remove_file(&path).unwrap();
        let d = archive_dir.clone();
        let broken = db.read(move |c| archive::verify_segments(c, &key, &d)).await.unwrap().unwrap_err();
        assert!(broken.contains("is not in"), "{broken}");
    })
    .await;
}

/// The idempotency key of each application committed in `session`.
async fn application_keys(db: &Db, session: String) -> Vec<String> {
    db.read(move |c| {
        Ok(schema::applications::table
            .filter(schema::applications::session_id.eq(&session))
            .select(schema::applications::idempotency_key)
            .load(c)?)
    })
    .await
    .unwrap()
}

/// Writes that wait together are committed together, and each is still its own transaction: of
/// 200 concurrent submissions, every fourth fails after inserting its rows and leaves none; every
/// other one is committed, and it is answered as committed only then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_commit_together_and_fail_alone() {
    on_both(|db| async move {
        let session = new_session(&db).await;
        let writes: Vec<_> = (0..200)
            .map(|n| {
                let (db, session) = (db.clone(), session.clone());
                tokio::spawn(async move {
                    db.write(move |c| {
                        submissions::submit(c, &KEYS, &session, &format!("k{n}"), "h", &apps(2))?;
                        if n % 4 == 0 {
                            return Err(StorageError::Corrupt("refused after its inserts".into()));
                        }
                        Ok(n)
                    })
                    .await
                })
            })
            .collect();
        let mut answered = HashSet::new();
        for (n, write) in writes.into_iter().enumerate() {
            match write.await.unwrap() {
                Ok(got) => assert!(got == n && n % 4 != 0 && answered.insert(format!("k{n}"))),
                Err(e) => assert!(n % 4 == 0 && matches!(e, StorageError::Corrupt(_)), "{n}: {e}"),
            }
        }
        assert_eq!(answered.len(), 150);
        let rows = application_keys(&db, session).await;
        assert_eq!(rows.len(), 2 * 150, "two applications for each committed submission");
        assert_eq!(rows.into_iter().collect::<HashSet<_>>(), answered);
    })
    .await;
}

/// A write that panics is answered with an error, leaves nothing, and the next write is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_panics_is_an_error_and_the_writer_goes_on() {
    on_both(|db| async move {
        let session = new_session(&db).await;
        let s = session.clone();
        let panicked = db
            .write(move |c| -> Result<(), StorageError> {
                submissions::submit(c, &KEYS, &s, "boom", "h", &apps(1))?;
                panic!("a write that panics");
            })
            .await;
        assert!(panicked.is_err());
        assert!(matches!(submit(&db, &session, "after", "h", 1).await, SubmissionOutcome::Committed(_)));
        let keys = application_keys(&db, session).await;
        assert_eq!(keys, vec!["after".to_owned()]);
    })
    .await;
}
