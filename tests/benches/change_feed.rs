//! Load generator: the change-feed hub's throughput — changes pulled from the resident record,
//! journaled, mapped and delivered to three subscribers over loopback — against a baseline
//! measured in the same run: pulling the same changes through the same adapter and dropping them.
//!
//! The resident record is the simulator with synthetic residents and a churn of 転居, 転出, 転入
//! and 死亡. The subscribers are two REST systems (`resident-record/atena-diff`, JSON) and one
//! taking Shift_JIS fixed-length files (`nhi/member`), all on 127.0.0.1, with the gateway's
//! embedded SQLite database (synchronous = FULL: every cursor move is on disk). Each round starts
//! from an empty database and inbox; the figure of a round is the time from the first pull until
//! all three subscribers have every change.
//!
//! ```sh
//! cargo bench -p renkei-tests --bench change_feed             # 5,000 changes × 5 rounds, batch 100
//! cargo bench -p renkei-tests --bench change_feed -- 20000 5 500   # changes, rounds, batch
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use renkei_adapter_core::RestConfig;
use renkei_adapter_mapped::FixedMappings;
use renkei_adapter_resident_record::ResidentRecordClient;
use renkei_conformance::change_sink;
use renkei_conformance::population::Population;
use renkei_conformance::resident_record::ResidentRecordSimulator;
use renkei_delivery::hub::{Hub, Step};
use renkei_delivery::mappings::LiveMappings;
use renkei_gateway::config::{HubConfig, SubscriberConfig, SystemConfig};
use renkei_gateway::storage::Db;
use renkei_mappings::MappingSet;
use renkei_model::Date;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn per_second(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let changes = args.first().copied().unwrap_or(5_000);
    let rounds = args.get(1).copied().unwrap_or(5).max(1);
    let batch = args.get(2).copied().unwrap_or(100).clamp(1, 1000) as u32;

    let population = Population::generate(10_000, 1);
    let resident_record = ResidentRecordSimulator::new(&population).start("127.0.0.1:0").await.unwrap();
    resident_record.churn(changes, 1, Date::from_ymd(2026, 11, 2).unwrap());
    let set = MappingSet::embedded().unwrap();
    let fixed = Arc::new(FixedMappings(Arc::new(set.clone())));
    let client =
        Arc::new(ResidentRecordClient::new(&RestConfig::new(resident_record.base_url()), fixed).unwrap());

    let (mut baseline, mut hub_times) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Baseline: the same pages through the same adapter, decoded and dropped.
        let start = Instant::now();
        let (mut cursor, mut pulled) = (0, 0);
        loop {
            let page = client.changes(cursor, batch).await.unwrap();
            let Some(last) = page.changes.last() else { break };
            cursor = last.seq;
            pulled += page.changes.len();
        }
        assert_eq!(pulled, changes);
        baseline.push(start.elapsed());

        // The hub: three subscribers, a fresh database and inbox per round.
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("nhi-in");
        std::fs::create_dir(&inbox).unwrap();
        let (tax, welfare) = (
            change_sink::start("127.0.0.1:0").await.unwrap(),
            change_sink::start("127.0.0.1:0").await.unwrap(),
        );
        let systems: BTreeMap<String, SystemConfig> = toml::from_str(&format!(
            "[tax]\ntransport = \"rest\"\nbase_url = \"{}\"\n\n[welfare]\ntransport = \"rest\"\nbase_url = \"{}\"\n\n\
             [nhi]\ntransport = \"file\"\ninbox = \"{}\"\n",
            tax.base_url(),
            welfare.base_url(),
            inbox.display()
        ))
        .unwrap();
        let subscriber = |system: &str, mapping: &str| {
            (system.to_owned(), SubscriberConfig { system: system.into(), mapping: mapping.parse().unwrap() })
        };
        let subscribers = BTreeMap::from([
            subscriber("tax", "resident-record/atena-diff"),
            subscriber("welfare", "resident-record/atena-diff"),
            subscriber("nhi", "nhi/member"),
        ]);
        let config = HubConfig { batch, subscribers, ..HubConfig::default() };
        let db =
            Db::open(&Db::sqlite_in(dir.path()), Arc::new(renkei_gateway::storage::Keyring::ephemeral()))
                .unwrap();
        let hub =
            Arc::new(Hub::new(config, &systems, db, Arc::new(LiveMappings::new(None, set.clone()))).unwrap());

        let start = Instant::now();
        let pulled = hub.pull_once(&client).await.unwrap();
        assert_eq!(pulled, changes);
        let mut tasks = Vec::new();
        for i in 0..hub.subscribers().len() {
            let hub = hub.clone();
            tasks.push(tokio::spawn(async move {
                let subscriber = &hub.subscribers()[i];
                while hub.step(subscriber).await.unwrap() != Step::Idle {}
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let took = start.elapsed();
        hub_times.push(took);
        assert_eq!(tax.records().len(), changes);
        assert_eq!(welfare.records().len(), changes);
        eprintln!(
            "round {}: baseline {:.0} changes/s, hub {:.0} changes/s to 3 subscribers",
            round + 1,
            per_second(changes, baseline[round]),
            per_second(changes, took)
        );
        tax.shutdown().await.unwrap();
        welfare.shutdown().await.unwrap();
    }
    let (b, h) = (median(baseline), median(hub_times));
    println!(
        "changes: {changes}, batch: {batch}, rounds: {rounds}, subscribers: 3 (2 REST JSON, 1 file Shift_JIS fixed)"
    );
    println!(
        "baseline (pull + decode only): median {:.1} ms, {:.0} changes/s",
        b.as_secs_f64() * 1e3,
        per_second(changes, b)
    );
    println!(
        "hub (pull, journal, map, deliver ×3): median {:.1} ms, {:.0} changes/s ({:.0} deliveries/s)",
        h.as_secs_f64() * 1e3,
        per_second(changes, h),
        per_second(3 * changes, h)
    );
    println!("ratio hub / baseline: {:.2}×", h.as_secs_f64() / b.as_secs_f64());
}
