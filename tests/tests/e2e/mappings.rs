//! Mappings in a running gateway: edits to an operator's copy are picked up without a restart
//! when they pass the check and refused (the old set staying in force) when they do not; and the
//! default 宛名 mapping reads what the resident-record simulator actually sends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use renkei_conformance::population::HardCase;
use renkei_mappings::CanonicalRecord;
use renkei_model::Resident;
use renkei_proto::v1 as pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Harness, copy_dir};

/// A copy of the default set, as an operator would keep it.
fn operator_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mappings");
    for part in ["codes", "procedures", "systems"] {
        copy_dir(&source.join(part), &dir.path().join(part));
    }
    let root = dir.path().to_owned();
    (dir, root)
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_gateway_takes_valid_edits_and_refuses_broken_ones() {
    let (_keep, root) = operator_copy();
    let dir = root.clone();
    let h = Harness::start_with(move |c| {
        c.mappings.dir = Some(dir);
        c.mappings.watch_interval_ms = 100;
    })
    .await;
    let live = h.gateway.state().mappings.clone();
    let first = live.current().version().to_owned();
    assert_eq!(live.current().code_table("sex").unwrap().by_code("9").unwrap().label, "適用不能");

    // A valid edit: the watcher finds it and swaps the set, no restart, no call.
    edit(&root.join("codes/sex.toml"), "label = \"適用不能\"", "label = \"該当せず\"");
    let picked_up = async {
        while live.current().version() == first {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), picked_up)
        .await
        .expect("the edit is picked up within 10 s");
    let second = live.current();
    assert_eq!(second.code_table("sex").unwrap().by_code("9").unwrap().label, "該当せず");
    assert!(
        second.catalog().get(&"jumin.idou".parse().unwrap()).is_some(),
        "the procedure catalog came along"
    );

    // A broken edit: refused with file:line, and the set in force stays.
    let member = root.join("systems/nhi/member@1.toml");
    edit(&member, "canonical = \"sex\"\ncode = \"sex\"", "canonical = \"sex\"\ncode = \"gender\"");
    let mut admin = h.admin().await;
    let answer = admin.reload_mappings(pb::ReloadMappingsRequest {}).await.unwrap().into_inner();
    assert!(!answer.reloaded);
    assert_eq!(answer.version, second.version());
    let line =
        std::fs::read_to_string(&member).unwrap().lines().position(|l| l == "code = \"gender\"").unwrap() + 1;
    assert_eq!(
        answer.problems,
        [format!(
            "{}:{line}: item K01-009 性別 (seibetsu): no code table \"gender\" in codes/",
            member.display()
        )]
    );
    // The watcher saw the same edit; whatever it did, the good set is still the one in force.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(live.current().version(), second.version());
    let health = admin.health(pb::HealthRequest {}).await.unwrap().into_inner();
    let mappings = health.components.iter().find(|c| c.name == "mappings").unwrap();
    assert!(!mappings.healthy);
    assert!(mappings.detail.contains("no code table \"gender\""), "{}", mappings.detail);

    // Fixed again: reloaded on request, and healthy.
    edit(&member, "code = \"gender\"", "code = \"sex\"");
    let answer = admin.reload_mappings(pb::ReloadMappingsRequest {}).await.unwrap().into_inner();
    assert!(answer.reloaded, "{:?}", answer.problems);
    let health = admin.health(pb::HealthRequest {}).await.unwrap().into_inner();
    assert!(health.components.iter().any(|c| c.name == "mappings" && c.healthy));
    h.gateway.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_set_cannot_be_reloaded_and_says_why() {
    let h = Harness::start().await;
    let answer = h.admin().await.reload_mappings(pb::ReloadMappingsRequest {}).await.unwrap().into_inner();
    assert!(!answer.reloaded);
    assert!(answer.problems[0].contains("--mappings DIR"), "{:?}", answer.problems);
    assert_eq!(answer.version, h.gateway.state().mappings.current().version());
    h.gateway.shutdown().await.unwrap();
}

/// GET `path` from the simulator over plain HTTP/1.1 on loopback; the body.
async fn get(base_url: &str, path: &str) -> Vec<u8> {
    let authority = base_url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let request = format!("GET /api/v1/{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let body = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(response.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&response));
    response[body..].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_atena_mapping_reads_the_simulators_records() {
    let h = Harness::start().await;
    let set = h.gateway.state().mappings.current();
    let atena = set.mapping_by_id("resident-record/atena@1").unwrap();
    for case in HardCase::ALL {
        let number = case.atena_number();
        let body = get(&h.simulator.base_url(), &format!("atena/{number}")).await;
        let mut system = atena.new_system();
        atena.decode(&body, &mut system).unwrap();
        let mut canonical: CanonicalRecord = atena.new_canonical();
        atena.to_canonical(&system, &mut canonical).unwrap();
        let resident = canonical.to_resident().unwrap_or_else(|e| panic!("{case:?}: {e}"));
        let expected = Resident { individual_number: None, ..h.population.hard_case(case).unwrap().clone() };
        assert_eq!(resident, expected, "{case:?}");
    }
    h.gateway.shutdown().await.unwrap();
}
