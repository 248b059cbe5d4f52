//! The change-feed hub survives `kill -9`: the real `renkei serve` binary is killed while it is
//! delivering, started again on the same database, and every change arrives exactly once at each
//! of three subscribers (two REST systems and one taking files). And two replicas on one
//! PostgreSQL run their hubs side by side, one is killed, and still no batch goes twice.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use renkei_adapter_core::{RestClient, RestConfig};
use renkei_conformance::change_sink::{self, ChangeSinkHandle};
use renkei_conformance::population::Population;
use renkei_conformance::resident_record::ResidentRecordSimulator;
use renkei_mappings::MappingSet;
use renkei_model::Date;

mod common;
use common::spawn;
use renkei_store::testing::TempPostgres;

const CHANGES: usize = 600;

/// How many times each 宛名番号 appears.
type Tally = HashMap<String, usize>;

fn tally<'a>(numbers: impl IntoIterator<Item = &'a str>) -> Tally {
    let mut t = Tally::new();
    for n in numbers {
        *t.entry(n.to_owned()).or_default() += 1;
    }
    t
}

fn rest_tally(sink: &ChangeSinkHandle) -> Tally {
    let records = sink.records();
    tally(records.iter().map(|r| r["record"]["atena_no"].as_str().unwrap_or_default()))
}

/// 宛名番号 of every record in the completed files of `inbox`, read through `nhi/member@1`.
fn file_tally(inbox: &Path) -> Tally {
    let set = MappingSet::embedded().unwrap();
    let mapping = set.mapping_by_id("nhi/member@1").unwrap();
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(inbox).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !name.ends_with(".dat") || !inbox.join(format!("{name}.done")).exists() {
            continue;
        }
        let bytes = std::fs::read(inbox.join(&name)).unwrap();
        for raw in mapping.split_file(&bytes).unwrap() {
            let (mut record, mut canonical) = (mapping.new_system(), mapping.new_canonical());
            mapping.decode(raw, &mut record).unwrap();
            mapping.to_canonical(&record, &mut canonical).unwrap();
            numbers.push(canonical.get("atena_number").unwrap().to_text());
        }
    }
    tally(numbers.iter().map(String::as_str))
}

fn total(t: &Tally) -> usize {
    t.values().sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_arrives_once_at_every_subscriber_across_a_kill() {
    across_a_kill(None, Restart::SameGateway).await;
}

/// Both replicas' hubs take turns at the subscribers' leases; the one killed mid-batch leaves its
/// lease to run out, and the other sends that batch again under the same key, or the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgresql_share_the_hub_and_one_is_killed() {
    if let Some(db) = TempPostgres::create() {
        across_a_kill(Some(db.url.clone()), Restart::OtherReplica).await;
    }
}

/// After the kill: start the same gateway again, or go on with a second one already running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    SameGateway,
    OtherReplica,
}

async fn across_a_kill(database_url: Option<String>, restart: Restart) {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("nhi-in");
    std::fs::create_dir(&inbox).unwrap();
    let population = Population::generate(1_000, 21);
    let resident_record = ResidentRecordSimulator::new(&population).start("127.0.0.1:0").await.unwrap();
    resident_record.churn(CHANGES, 21, Date::from_ymd(2026, 11, 2).unwrap());
    let (tax, welfare) =
        (change_sink::start("127.0.0.1:0").await.unwrap(), change_sink::start("127.0.0.1:0").await.unwrap());
    // Slow enough that the kill lands mid-way.
    tax.set_latency(Duration::from_millis(25));
    welfare.set_latency(Duration::from_millis(25));

    let config = dir.path().join("renkei.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
grpc_listen = "127.0.0.1:0"
http_listen = "127.0.0.1:0"
[storage]
data_dir = "{data}"
{database}
[card]
watch = false
[systems.resident-record]
transport = "rest"
base_url = "{rr}"
[systems.tax]
transport = "rest"
base_url = "{tax}"
[systems.welfare]
transport = "rest"
base_url = "{welfare}"
[systems.nhi]
transport = "file"
inbox = "{inbox}"
[hub]
poll_interval_ms = 200
batch = 20
lease_ms = 1000
[hub.subscribers.tax]
system = "tax"
mapping = "resident-record/atena-diff"
[hub.subscribers.welfare]
system = "welfare"
mapping = "resident-record/atena-diff"
[hub.subscribers.nhi]
system = "nhi"
mapping = "nhi/member"
"#,
            data = dir.path().join("data").display(),
            database = database_url.as_ref().map(|u| format!("database_url = \"{u}\"")).unwrap_or_default(),
            rr = resident_record.base_url(),
            tax = tax.base_url(),
            welfare = welfare.base_url(),
            inbox = inbox.display(),
        ),
    )
    .unwrap();
    let log = dir.path().join("renkei.log");
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();

    let mut first = spawn(&config, &log);
    let mut other = (restart == Restart::OtherReplica).then(|| spawn(&config, &log));
    let deadline = Instant::now() + Duration::from_secs(60);
    while total(&rest_tally(&tax)) < CHANGES / 3 {
        assert!(Instant::now() < deadline, "nothing arrived; the gateway said:\n{}", logs());
        assert!(first.try_wait().unwrap().is_none(), "the gateway stopped:\n{}", logs());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill().unwrap(); // SIGKILL: no shutdown, no lease released
    first.wait().unwrap();
    let at_kill = total(&rest_tally(&tax));
    assert!(at_kill < CHANGES, "the kill came after everything was delivered");

    let mut second = other.take().unwrap_or_else(|| spawn(&config, &log));
    let deadline = Instant::now() + Duration::from_secs(120);
    while total(&rest_tally(&tax)) < CHANGES
        || total(&rest_tally(&welfare)) < CHANGES
        || total(&file_tally(&inbox)) < CHANGES
    {
        assert!(Instant::now() < deadline, "the restarted gateway did not finish:\n{}", logs());
        assert!(second.try_wait().unwrap().is_none(), "the gateway stopped:\n{}", logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Anything more would have been sent by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    second.kill().unwrap();
    second.wait().unwrap();

    let client = RestClient::new("resident-record", &RestConfig::new(resident_record.base_url())).unwrap();
    let page: serde_json::Value = client.get_json("changes", "changes?cursor=0&limit=1000").await.unwrap();
    let changes = page["changes"].as_array().unwrap();
    assert_eq!(changes.len(), CHANGES);
    let expected = tally(changes.iter().map(|c| c["record"]["atena_no"].as_str().unwrap()));
    assert_eq!(rest_tally(&tax), expected, "tax");
    assert_eq!(rest_tally(&welfare), expected, "welfare");
    assert_eq!(file_tally(&inbox), expected, "nhi (files)");
    // Batches are keyed by seq range: no two cover the same change.
    for sink in [&tax, &welfare] {
        let mut ranges: Vec<_> = sink.batches().iter().map(|b| (b.first_seq, b.last_seq)).collect();
        ranges.sort();
        assert!(ranges.windows(2).all(|w| w[0].1 < w[1].0), "{ranges:?}");
        assert_eq!(ranges.last().map(|r| r.1), Some(CHANGES as u64));
    }
}
