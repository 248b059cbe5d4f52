//! Personal data at rest: after a visit, its applications' delivery and a key rotation under a
//! running gateway, the database files and a backup hold no individual number, name or keyed-in
//! value in the clear — read as raw bytes, not through renkei — and only renkei's user may read them.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use renkei_conformance::population::HardCase;
use renkei_gateway::storage::{Db, Keyring, sealed};
use renkei_proto::v1 as pb;
use renkei_proto::v1::lookup_resident_request::Key;

use crate::harness::{Harness, moving_notification, wait_for_status};

/// Every file in `dir`, as bytes (the database, its WAL and shared memory, the keys).
fn raw_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_files_hold_no_personal_data_in_the_clear_before_and_after_a_key_rotation() {
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let mover = h.population.hard_case(HardCase::SakiVariant).unwrap();
    counter
        .lookup_resident(pb::LookupResidentRequest {
            session_id: session_id.clone(),
            key: Some(Key::AtenaNumber(mover.atena_number.to_string())),
            include_household: true,
        })
        .await
        .unwrap();
    const KEYED_IN: &str = "封緘試験荘九〇九号";
    let mut draft = moving_notification(mover.atena_number.as_str());
    draft.fields.get_mut("new_address.katagaki").unwrap().value = KEYED_IN.into();
    let submitted = counter
        .submit_applications(pb::SubmitApplicationsRequest {
            session_id: session_id.clone(),
            idempotency_key: "at-rest-1".into(),
            applications: vec![draft],
        })
        .await
        .unwrap()
        .into_inner();
    let id = submitted.applications[0].application_id.clone();
    wait_for_status(&mut counter, &session_id, &id, pb::ApplicationStatus::Delivered).await;
    let delivered = h.simulator.received_todoke()[0].todoke.new_address.clone().unwrap();
    assert_eq!(delivered.katagaki.unwrap().as_str(), KEYED_IN, "the system receives it in the clear");

    // Rotate while the gateway serves, as `renkei keys rotate` does: add a key, re-seal.
    let key_file = h.data_dir().join("data.key");
    let old = Keyring::load_or_create(&key_file).unwrap().current_id();
    let added = Keyring::add_key(&key_file).unwrap();
    let url = Db::sqlite_in(h.data_dir());
    let tool = tokio::task::spawn_blocking(move || {
        Db::open(&url, Arc::new(Keyring::load_or_create(&key_file).unwrap()))
    })
    .await
    .unwrap()
    .unwrap();
    let mut resealed = 0;
    loop {
        let keys = tool.keys().clone();
        let done = tool.write(move |c| sealed::reseal(c, &keys, 2)).await.unwrap();
        if done == 0 {
            break;
        }
        resealed += done;
    }
    assert!(resealed >= 2, "the application and the visit are re-sealed ({resealed})");
    // The gateway, which read its keyring before the rotation, opens values under the new key.
    let app = h.committed(&id).await.unwrap();
    assert_eq!(app.fields["new_address.katagaki"].value.as_str(), KEYED_IN);
    drop(tool);

    // A backup taken now holds the same, sealed.
    let backups = h.gateway.state().backups.clone().unwrap();
    backups.take(&h.gateway.state().db).await.unwrap();
    let mut files = raw_files(h.data_dir());
    files.extend(raw_files(backups.dir()).into_iter().map(|(n, b)| (format!("backups/{n}"), b)));
    let db_files: Vec<&(String, Vec<u8>)> = files
        .iter()
        .filter(|(n, _)| n.starts_with("renkei.db") || n.starts_with("backups/renkei-"))
        .collect();
    assert!(
        db_files.iter().any(|(n, _)| n.starts_with("backups/") && n.ends_with(".db")),
        "a backup is read"
    );
    assert!(!db_files.is_empty());
    let names = [mover.name.full().to_string(), mover.name.full_kana().unwrap().to_string()];
    for (file, bytes) in &db_files {
        assert!(!holds(bytes, KEYED_IN), "{file} holds a keyed-in value in the clear");
        for name in &names {
            assert!(!holds(bytes, name), "{file} holds the resident's name in the clear");
        }
        for resident in h.population.residents() {
            if let Some(number) = &resident.individual_number {
                assert!(!holds(bytes, number.expose()), "{file} holds an individual number");
            }
        }
    }
    // The values are there, sealed under the new key (the loop above ended when none was left
    // under another).
    assert!(db_files.iter().any(|(_, bytes)| holds(bytes, &format!("sealed:v1:{added}:"))));
    assert_ne!(old, added);
    for (file, _) in &files {
        let path = match file.strip_prefix("backups/") {
            Some(name) => backups.dir().join(name),
            None => h.data_dir().join(file),
        };
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{file} is mode {mode:o}: readable by others");
    }
}
