//! The hub against the resident-record simulator, a REST change sink and a file inbox, on
//! SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use renkei_adapter_core::{RestClient, RestConfig};
use renkei_adapter_mapped::FixedMappings;
use renkei_adapter_resident_record::ResidentRecordClient;
use renkei_conformance::change_sink::{self, ChangeSinkHandle};
use renkei_conformance::population::Population;
use renkei_conformance::resident_record::{ResidentRecordSimulator, SimulatorHandle};
use renkei_mappings::MappingSet;
use renkei_model::Date;
use reqwest::Method;
use reqwest::header::HeaderMap;

use super::*;
use crate::config::{SubscriberConfig, SystemConfig};
use renkei_mappings::InterfaceRef;
use renkei_store::testing::{KEYS, on_both};

/// (宛名番号, 異動事由 label, 異動日 YYYYMMDD): what identifies a change in every layout here.
type ChangeId = (String, String, String);

struct Fixture {
    resident_record: SimulatorHandle,
    client: Arc<ResidentRecordClient>,
    sink: ChangeSinkHandle,
    inbox: tempfile::TempDir,
}

impl Fixture {
    async fn start(changes: usize) -> Fixture {
        let population = Population::generate(400, 3);
        let resident_record = ResidentRecordSimulator::new(&population).start("127.0.0.1:0").await.unwrap();
        resident_record.churn(changes, 11, Date::from_ymd(2026, 11, 2).unwrap());
        let mappings = Arc::new(FixedMappings(Arc::new(MappingSet::embedded().unwrap())));
        let client = Arc::new(
            ResidentRecordClient::new(&RestConfig::new(resident_record.base_url()), mappings).unwrap(),
        );
        let sink = change_sink::start("127.0.0.1:0").await.unwrap();
        Fixture { resident_record, client, sink, inbox: tempfile::tempdir().unwrap() }
    }

    /// The systems the subscribers name: tax (the REST sink) and NHI (files into the inbox).
    fn systems(&self) -> BTreeMap<String, SystemConfig> {
        toml::from_str(&format!(
            "[tax]\ntransport = \"rest\"\nbase_url = \"{}\"\n\n[nhi]\ntransport = \"file\"\ninbox = \"{}\"\n",
            self.sink.base_url(),
            self.inbox.path().display()
        ))
        .unwrap()
    }

    fn config(&self, batch: u32) -> HubConfig {
        let subscriber = |system: &str, mapping: &str| SubscriberConfig {
            system: system.into(),
            mapping: mapping.parse().unwrap(),
        };
        let mut subscribers = BTreeMap::new();
        subscribers.insert("tax".to_owned(), subscriber("tax", "resident-record/atena-diff"));
        subscribers.insert("nhi".to_owned(), subscriber("nhi", "nhi/member"));
        HubConfig {
            batch,
            initial_backoff_ms: 10,
            max_backoff_ms: 50,
            lease_ms: 200,
            subscribers,
            ..HubConfig::default()
        }
    }

    /// The source's changes, oldest first.
    async fn expected(&self) -> Vec<ChangeId> {
        let page = self.client.changes(0, 1000).await.unwrap();
        page.changes
            .iter()
            .map(|c| (c.resident.atena_number.to_string(), c.reason.clone(), c.date.to_yyyymmdd()))
            .collect()
    }

    /// What the REST sink holds, in arrival order.
    fn received_by_rest(&self) -> Vec<ChangeId> {
        self.sink
            .records()
            .iter()
            .map(|r| {
                let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
                (text(&r["record"]["atena_no"]), text(&r["jiyu"]), text(&r["idou_date"]))
            })
            .collect()
    }
}

fn hub(db: &Db, f: &Fixture, config: HubConfig) -> Hub {
    let mappings = Arc::new(LiveMappings::new(None, MappingSet::embedded().unwrap()));
    Hub::new(config, &f.systems(), db.clone(), mappings).unwrap()
}

/// Every record of every published file in `inbox`, read back through `nhi/member@1`, in file
/// name (seq) order.
fn received_by_file(inbox: &Path) -> Vec<ChangeId> {
    let set = MappingSet::embedded().unwrap();
    let mapping = set.mapping_by_id("nhi/member@1").unwrap();
    let reasons = set.code_table("idou-jiyu").unwrap();
    let mut names: Vec<String> = std::fs::read_dir(inbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dat") && inbox.join(format!("{n}.done")).exists())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let bytes = std::fs::read(inbox.join(&name)).unwrap();
        for raw in mapping.split_file(&bytes).unwrap() {
            let mut record = mapping.new_system();
            mapping.decode(raw, &mut record).unwrap();
            let mut canonical = mapping.new_canonical();
            mapping.to_canonical(&record, &mut canonical).unwrap();
            let text = |path: &str| canonical.get(path).map(|v| v.to_text()).unwrap_or_default();
            let reason = reasons.by_canonical(&text("change.reason")).unwrap().label.clone();
            let date = Date::parse_any(&text("change.date")).unwrap().to_yyyymmdd();
            out.push((text("atena_number"), reason, date));
        }
    }
    out
}

/// Step every subscriber until none has anything left.
async fn drain(hub: &Hub) {
    for _ in 0..1000 {
        let mut idle = true;
        for s in hub.subscribers() {
            if !matches!(hub.step(s).await.unwrap(), Step::Idle) {
                idle = false;
            }
        }
        if idle {
            return;
        }
    }
    panic!("the subscribers never caught up");
}

#[tokio::test]
async fn every_change_reaches_every_subscriber_once_in_order() {
    on_both(|db| async move {
        let f = Fixture::start(230).await;
        let hub = hub(&db, &f, f.config(50));
        assert_eq!(hub.pull_once(&f.client).await.unwrap(), 230);
        // Pulling again takes nothing new.
        assert_eq!(hub.pull_once(&f.client).await.unwrap(), 0);
        drain(&hub).await;

        let expected = f.expected().await;
        assert_eq!(expected.len(), 230);
        assert_eq!(f.received_by_rest(), expected);
        assert_eq!(received_by_file(f.inbox.path()), expected);
        // Five batches of at most 50, each sent once, keyed by its range.
        let batches = f.sink.batches();
        assert_eq!(batches.len(), 5);
        assert_eq!(batches[0].idempotency_key, "tax-0000000001-0000000050");
        assert!(batches.iter().all(|b| b.times_sent == 1));

        // More changes later: only those go.
        let last = f.resident_record.churn(20, 12, Date::from_ymd(2026, 12, 1).unwrap());
        assert_eq!(last, 250);
        assert_eq!(hub.pull_once(&f.client).await.unwrap(), 20);
        drain(&hub).await;
        assert_eq!(f.received_by_rest(), f.expected().await);
        assert_eq!(received_by_file(f.inbox.path()).len(), 250);

        // Everyone has everything: the journal is emptied, the cursors stay.
        hub.prune().await;
        let left = db.read(|c| feed::entries(c, &KEYS, 0, i64::MAX, 10)).await.unwrap();
        assert!(left.is_empty());
        let status = status(&db).await.unwrap();
        let positions: Vec<_> = status.cursors.iter().map(|c| (c.name.as_str(), c.position)).collect();
        assert_eq!(positions, [("source", 250), ("nhi", 250), ("tax", 250)]);
    })
    .await;
}

#[tokio::test]
async fn a_batch_sent_before_a_crash_goes_again_under_the_same_key_and_arrives_once() {
    on_both(|db| async move {
        let f = Fixture::start(30).await;
        let config = HubConfig { lease_ms: 2_000, ..f.config(10) };
        let first = hub(&db, &f, config.clone());
        first.pull_once(&f.client).await.unwrap();
        // The first process sends the first batch to both, then "crashes" before moving the
        // cursors: put them back to where they were with the batch still pending.
        let (tax, nhi) = (&first.subscribers()[1], &first.subscribers()[0]);
        assert_eq!((tax.name(), nhi.name()), ("tax", "nhi"));
        for s in first.subscribers() {
            assert!(matches!(first.step(s).await.unwrap(), Step::Delivered { through: 10, .. }));
            assert!(first.set_position(s.name(), 0, Some(10)).await.unwrap());
        }
        // The restarted process (another lease owner) waits for the old lease to run out.
        let second = hub(&db, &f, config);
        assert_eq!(second.step(&second.subscribers()[0]).await.unwrap(), Step::NotOurs);
        tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
        drain(&second).await;

        let batches = f.sink.batches();
        assert_eq!(batches[0].idempotency_key, "tax-0000000001-0000000010");
        assert_eq!(batches[0].times_sent, 2, "the pending batch was sent again under its key");
        assert_eq!(f.received_by_rest(), f.expected().await, "and its records arrived once");
        assert_eq!(received_by_file(f.inbox.path()), f.expected().await);
    })
    .await;
}

#[tokio::test]
async fn a_file_published_without_its_completion_marker_gets_the_marker_not_a_second_copy() {
    on_both(|db| async move {
        let f = Fixture::start(5).await;
        let hub = hub(&db, &f, f.config(10));
        hub.pull_once(&f.client).await.unwrap();
        let nhi = &hub.subscribers()[0];
        hub.step(nhi).await.unwrap();
        let name = "member-0000000001-0000000005.dat";
        let data = std::fs::read(f.inbox.path().join(name)).unwrap();
        // As if the crash came between publishing the data file and writing NAME.done.
        std::fs::remove_file(f.inbox.path().join(format!("{name}.done"))).unwrap();
        assert!(hub.set_position("nhi", 0, Some(5)).await.unwrap());
        hub.step(nhi).await.unwrap();
        assert_eq!(std::fs::read(f.inbox.path().join(name)).unwrap(), data);
        let done = std::fs::read_to_string(f.inbox.path().join(format!("{name}.done"))).unwrap();
        assert!(done.contains("records=5"), "{done}");
        assert_eq!(received_by_file(f.inbox.path()).len(), 5);
    })
    .await;
}

#[tokio::test]
async fn a_change_a_mapping_cannot_take_is_quarantined_and_the_rest_go_on() {
    on_both(|db| async move {
        let f = Fixture::start(12).await;
        let hub = hub(&db, &f, f.config(100));
        hub.pull_once(&f.client).await.unwrap();
        // A 異動事由 the code table does not know (as from a vendor's new code), at seq 13.
        let mut odd = db.read(|c| feed::entries(c, &KEYS, 11, 12, 1)).await.unwrap().remove(0);
        odd.seq = 13;
        odd.reason = "new_vendor_reason".into();
        hub.append(vec![odd]).await.unwrap();
        drain(&hub).await;

        let status = status(&db).await.unwrap();
        let quarantined: Vec<_> = status.quarantined.iter().map(|q| (q.subscriber.as_str(), q.seq)).collect();
        assert_eq!(quarantined, [("nhi", 13), ("tax", 13)]);
        let reason = &status.quarantined[0].error;
        assert!(reason.contains("nhi/member@1") && reason.contains("異動事由"), "{reason}");
        assert_eq!(f.received_by_rest().len(), 12);
        assert_eq!(received_by_file(f.inbox.path()).len(), 12);
        assert!(status.cursors.iter().all(|c| c.position == 13), "{:?}", status.cursors);
    })
    .await;
}

#[tokio::test]
async fn a_failing_subscriber_is_retried_and_the_error_shows_until_it_goes() {
    on_both(|db| async move {
        let f = Fixture::start(8).await;
        let hub = hub(&db, &f, f.config(100));
        hub.pull_once(&f.client).await.unwrap();
        let tax = &hub.subscribers()[1];
        f.sink.fail_next(2);
        for _ in 0..2 {
            let e = hub.step(tax).await.unwrap_err();
            assert!(e.to_string().starts_with("tax: "), "{e}");
            hub.record_failure("tax", &e).await;
        }
        let row = status(&db).await.unwrap().cursors.into_iter().find(|c| c.name == "tax").unwrap();
        assert_eq!((row.attempts, row.position, row.pending_to), (2, 0, Some(8)));
        assert!(row.last_error.unwrap().contains("503"));
        assert!(matches!(hub.step(tax).await.unwrap(), Step::Delivered { delivered: 8, .. }));
        let row = status(&db).await.unwrap().cursors.into_iter().find(|c| c.name == "tax").unwrap();
        assert_eq!((row.attempts, row.position, row.last_error), (0, 8, None));
        assert_eq!(f.sink.batches().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn pushed_changes_are_journaled_once_and_gaps_and_bad_records_are_refused() {
    on_both(|db| async move {
        let f = Fixture::start(6).await;
        let hub = Arc::new(hub(&db, &f, f.config(100)));
        let intake = hub.push_intake("s3cret\n".into());
        // The resident record's own change page is what a push carries.
        let page = get(&f.resident_record.base_url(), "changes?cursor=0&limit=100").await;
        let pushed = intake.take(page.as_bytes()).await.unwrap();
        assert_eq!(pushed, PushOutcome::Taken { added: 6, position: 6 });
        // A resend after a lost answer adds nothing.
        assert_eq!(intake.take(page.as_bytes()).await.unwrap(), PushOutcome::Taken { added: 0, position: 6 });

        let mut value: serde_json::Value = serde_json::from_str(&page).unwrap();
        let changes = value["changes"].as_array_mut().unwrap();
        changes.truncate(1);
        changes[0]["seq"] = 8.into();
        let gap = intake.take(value.to_string().as_bytes()).await.unwrap_err();
        assert!(matches!(gap, HubError::Storage(StorageError::Gap { expected: 7, got: 8 })), "{gap}");

        let changes = value["changes"].as_array_mut().unwrap();
        changes[0]["seq"] = 7.into();
        changes[0]["jiyu"] = "転送".into();
        let bad = intake.take(value.to_string().as_bytes()).await.unwrap_err().to_string();
        assert!(bad.contains("seq 7") && bad.contains("changes[0]") && bad.contains("異動事由"), "{bad}");

        drain(&hub).await;
        assert_eq!(f.received_by_rest(), f.expected().await);
    })
    .await;
}

#[tokio::test]
async fn the_push_endpoint_wants_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&Db::sqlite_in(dir.path()), KEYS.clone()).unwrap();
    let f = Fixture::start(1).await;
    let hub = Arc::new(hub(&db, &f, f.config(100)));
    let app = hub.push_intake("s3cret".into()).router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client =
        RestClient::new("resident-record", &RestConfig::new(format!("http://{addr}/hub/v1"))).unwrap();
    let push = |token: Option<&'static str>, body: serde_json::Value| {
        let client = client.clone();
        async move {
            let mut headers = HeaderMap::new();
            if let Some(t) = token {
                headers.insert("authorization", format!("Bearer {t}").parse().unwrap());
            }
            client.send("push", Method::POST, "changes", headers, Some(&body)).await.unwrap()
        }
    };
    let empty = serde_json::json!({ "changes": [] });
    assert_eq!(push(None, empty.clone()).await.status, 401);
    assert_eq!(push(Some("wrong!"), empty.clone()).await.status, 401);
    assert_eq!(push(Some("s3cret"), empty).await.status, 200);
    let bad = push(Some("s3cret"), serde_json::json!({ "chnages": [] })).await;
    assert_eq!(bad.status, 400);
    assert!(std::str::from_utf8(&bad.body).unwrap().contains("bad_change"));
}

/// GET `path` below `base_url` through the project's HTTP client; the body as text.
async fn get(base_url: &str, path: &str) -> String {
    let client = RestClient::new("test", &RestConfig::new(base_url)).unwrap();
    let response = client.send("get", Method::GET, path, HeaderMap::new(), None::<&()>).await.unwrap();
    assert_eq!(response.status, 200);
    String::from_utf8(response.body.to_vec()).unwrap()
}

#[test]
fn subscribers_are_checked_against_the_mapping_set() {
    let set = MappingSet::embedded().unwrap();
    let systems: BTreeMap<String, SystemConfig> = toml::from_str(
        "[tax]\ntransport = \"rest\"\nbase_url = \"http://127.0.0.1:9/api\"\n\n\
         [nhi]\ntransport = \"rest\"\nbase_url = \"http://127.0.0.1:9/api\"\n\n\
         [nhi-files]\ntransport = \"file\"\ninbox = \"/nonexistent/inbox\"\n",
    )
    .unwrap();
    let rest = |mapping: &str| SubscriberConfig { system: "tax".into(), mapping: mapping.parse().unwrap() };
    let err =
        |name: &str, c: SubscriberConfig| Subscriber::new(name, &c, &systems, &set).unwrap_err().to_string();
    assert!(
        err("nhi", SubscriberConfig { system: "nhi".into(), ..rest("nhi/member") }).contains("is not JSON")
    );
    assert!(err("tax", rest("tax/shoumei")).contains("the change feed carries residents"));
    assert!(err("tax", rest("tax/nothing")).contains("no mapping tax/nothing is in force"));
    assert!(
        "atena-diff".parse::<InterfaceRef>().unwrap_err().to_string().contains("neither system/interface")
    );
    assert!(err("t ax", rest("resident-record/atena-diff")).contains("letters, digits"));
    let missing = SubscriberConfig { system: "nhi-files".into(), ..rest("nhi/member") };
    assert!(err("nhi", missing).contains("is not a directory"));
    assert!(Subscriber::new("tax", &rest("resident-record/atena-diff@1"), &systems, &set).is_ok());
}

#[test]
fn a_subscriber_naming_a_system_that_is_not_configured_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&Db::sqlite_in(dir.path()), KEYS.clone()).unwrap();
    let systems: BTreeMap<String, SystemConfig> =
        toml::from_str("[tax]\ntransport = \"rest\"\nbase_url = \"http://127.0.0.1:9/api\"\n").unwrap();
    let subscriber =
        SubscriberConfig { system: "fukushi".into(), mapping: "resident-record/atena-diff".parse().unwrap() };
    let config = HubConfig {
        subscribers: BTreeMap::from([("welfare".to_owned(), subscriber)]),
        ..HubConfig::default()
    };
    let mappings = Arc::new(LiveMappings::new(None, MappingSet::embedded().unwrap()));
    let e = Hub::new(config, &systems, db, mappings).unwrap_err().to_string();
    assert_eq!(
        e,
        "[hub.subscribers.welfare].system: no system \"fukushi\" is configured: the subscriber delivers through [systems.fukushi]"
    );
}

#[tokio::test]
async fn subscribers_deliver_through_the_channel_of_the_system_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&Db::sqlite_in(dir.path()), KEYS.clone()).unwrap();
    let f = Fixture::start(7).await;
    // NHI takes its applications in one directory and the change feed in another; tax is the
    // REST sink. The subscribers say no more than the system and the mapping.
    let feed = tempfile::tempdir().unwrap();
    let mut systems = f.systems();
    systems.get_mut("nhi").unwrap().feed_inbox = Some(feed.path().to_owned());
    let mappings = Arc::new(LiveMappings::new(None, MappingSet::embedded().unwrap()));
    let hub = Hub::new(f.config(100), &systems, db, mappings).unwrap();
    hub.pull_once(&f.client).await.unwrap();
    drain(&hub).await;

    assert_eq!(f.received_by_rest(), f.expected().await, "posted to the tax system's base URL");
    assert_eq!(f.sink.batches()[0].idempotency_key, "tax-0000000001-0000000007");
    assert_eq!(received_by_file(feed.path()), f.expected().await, "published into NHI's feed directory");
    assert!(
        std::fs::read_dir(f.inbox.path()).unwrap().next().is_none(),
        "nothing in NHI's application inbox"
    );
}

#[test]
fn the_journal_never_holds_an_individual_number() {
    let population = Population::generate(50, 3);
    let resident = population.residents().find(|r| r.individual_number.is_some()).unwrap();
    let digits = resident.individual_number.as_ref().unwrap().expose().to_owned();
    let kept = journal_resident(resident);
    assert!(!kept.contains(&digits));
    let back: renkei_model::Resident = serde_json::from_str(&kept).unwrap();
    assert_eq!(back, renkei_model::Resident { individual_number: None, ..resident.clone() });
}

#[tokio::test]
async fn in_push_mode_the_hub_delivers_what_is_pushed_and_empties_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&Db::sqlite_in(dir.path()), KEYS.clone()).unwrap();
    let f = Fixture::start(6).await;
    let token = Some(dir.path().join("push.token"));
    let config =
        HubConfig { mode: HubMode::Push, push_token_file: token, poll_interval_ms: 50, ..f.config(100) };
    let hub = Arc::new(hub(&db, &f, config));
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(hub.clone().run(f.client.clone(), stopped));
    let page = get(&f.resident_record.base_url(), "changes?cursor=0&limit=100").await;
    hub.push_intake("t".into()).take(page.as_bytes()).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let left = db.read(|c| feed::entries(c, &KEYS, 0, i64::MAX, 10)).await.unwrap();
        if f.received_by_rest().len() == 6 && received_by_file(f.inbox.path()).len() == 6 && left.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not delivered and pruned: {} left", left.len());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Nothing was pulled: the resident record's feed was only read by the test.
    assert_eq!(f.received_by_rest(), f.expected().await);
    stop.send(true).unwrap();
    running.await.unwrap();
}
