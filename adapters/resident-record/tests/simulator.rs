//! The resident-record adapter against the simulator over loopback: every operation through the
//! mapping files, every todoke fault, and records that do not read.

use std::sync::Arc;
use std::time::Duration;

use renkei_adapter_core::{CoreSystem, RestConfig};
use renkei_adapter_mapped::FixedMappings;
use renkei_adapter_resident_record::{BasicFactsQuery, LookupError, ResidentRecordClient};
use renkei_conformance::applications::keyed_in;
use renkei_conformance::faults::Fault;
use renkei_conformance::population::{HardCase, Population};
use renkei_conformance::resident_record::ResidentRecordSimulator;
use renkei_mappings::MappingSet;
use renkei_model::{Application, LifeEvent};

fn client(base_url: String, timeout_ms: u64) -> ResidentRecordClient {
    let mut config = RestConfig::new(base_url);
    config.timeout_ms = timeout_ms;
    ResidentRecordClient::new(&config, Arc::new(FixedMappings(Arc::new(MappingSet::embedded().unwrap()))))
        .unwrap()
}

fn tenkyo() -> Application {
    let fields = [
        ("event_date", "2026-11-20"),
        ("new_address.prefecture", "神奈川県"),
        ("new_address.municipality", "横浜市鶴見区"),
        ("new_address.local_government_code", "141011"),
        ("new_address.town", "桜町二丁目"),
        ("new_address.banchi", "4番1号"),
        ("new_address.postal_code", "230-0001"),
    ];
    keyed_in("jumin.idou", HardCase::IvsName.atena_number(), Vec::new(), Some(LifeEvent::MoveWithin), &fields)
}

#[tokio::test]
async fn every_operation_goes_through_the_mapping_files() {
    let population = Population::generate(100, 1);
    let sim = ResidentRecordSimulator::new(&population).start("127.0.0.1:0").await.unwrap();
    let rr = client(sim.base_url(), 5_000);
    let ivs = population.hard_case(HardCase::IvsName).unwrap();

    let found = rr.by_atena_number(&ivs.atena_number).await.unwrap().unwrap();
    // The resident record never sends the individual number; the rest comes back exactly.
    let expected = renkei_model::Resident { individual_number: None, ..ivs.clone() };
    assert_eq!(found, expected, "the record read back is the resident, IVS and all");
    assert!(rr.by_atena_number(&"0000099996".parse().unwrap()).await.unwrap().is_none());

    let query = BasicFactsQuery {
        name: format!("{}{}", ivs.name.family.search_key(), ivs.name.given),
        birth_date: ivs.birth_date,
        sex: Some(ivs.sex),
        address: None,
    };
    assert!(rr.search(&query).await.unwrap().iter().any(|r| r.atena_number == ivs.atena_number));
    let household = rr.household(&ivs.household_number).await.unwrap().unwrap();
    assert!(household.members.iter().any(|m| m.atena_number == ivs.atena_number));

    let receipt = rr.deliver("idou-1", &tenkyo()).await.unwrap();
    assert_eq!(sim.todoke_by_key("idou-1").unwrap().uketsuke_no, receipt.reference);
    let feed = rr.changes(0, 100).await.unwrap();
    let change = feed.changes.last().unwrap();
    assert_eq!(
        (change.reason.as_str(), change.resident.atena_number.clone()),
        ("転居", ivs.atena_number.clone())
    );
    assert_eq!(change.date.to_string(), "2026-11-20");
    assert_eq!(feed.next_cursor, sim.last_change_seq());
    rr.health().await.unwrap();
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_todoke_fault_is_retried_or_surfaced_and_recorded_once() {
    let population = Population::generate(100, 1);
    let sim = ResidentRecordSimulator::new(&population).start("127.0.0.1:0").await.unwrap();
    let rr = client(sim.base_url(), 300);
    for (i, fault) in Fault::all(Duration::from_millis(800)).into_iter().enumerate() {
        let key = format!("fault-{i}");
        sim.inject_todoke_fault(match fault {
            Fault::Latency(_) => Fault::Latency(Duration::from_millis(50)),
            other => other,
        });
        let first = rr.deliver(&key, &tenkyo()).await;
        match fault {
            Fault::Latency(_) => assert!(first.is_ok(), "{fault:?}"),
            Fault::DuplicateAck => assert!(first.unwrap().duplicate),
            Fault::Malformed => assert!(!first.unwrap_err().is_retryable()),
            _ => {
                let e = first.unwrap_err();
                assert!(e.is_retryable(), "{fault:?}: {e}");
                assert_eq!(
                    rr.deliver(&key, &tenkyo()).await.unwrap().duplicate,
                    fault.handles_request(),
                    "{fault:?}"
                );
            }
        }
        assert!(sim.todoke_by_key(&key).is_some(), "{fault:?}");
    }
    assert_eq!(sim.received_todoke().len(), Fault::all(Duration::ZERO).len());
    sim.shutdown().await.unwrap();
}

/// A change feed page whose second change has an unknown 異動事由: the page fails, naming the
/// record and the item, so the cursor never moves past a change nobody received.
#[tokio::test]
async fn an_unknown_code_in_the_change_feed_names_record_and_item() {
    let page = serde_json::json!({
        "changes": [
            {"seq": 1, "jiyu": "転居", "idou_date": "20261120", "record": {
                "atena_no": "0000000019", "setai_no": "0000000019", "shi": "葛西", "mei": "太郎",
                "seinengappi": "19890108", "seibetsu": "1", "zokugara": "世帯主",
                "jumin_shubetsu": "1", "jumin_jotai": "1"}},
            {"seq": 2, "jiyu": "転生", "idou_date": "20261121", "record": {
                "atena_no": "0000000027", "setai_no": "0000000019", "shi": "葛西", "mei": "花子",
                "seinengappi": "19900101", "seibetsu": "2", "zokugara": "妻",
                "jumin_shubetsu": "1", "jumin_jotai": "1"}}
        ],
        "next_cursor": 2
    });
    let router = axum::Router::new().route(
        "/api/v1/changes",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::Json(page) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let rr = client(format!("http://{addr}/api/v1"), 5_000);
    let LookupError::Record(e) = rr.changes(0, 100).await.unwrap_err() else { panic!("a record error") };
    assert_eq!(e.record, "0000000027");
    assert!(e.item.contains("(jiyu)"), "{e}");
    assert!(e.to_string().starts_with("resident-record: record 0000000027: item R02-001"), "{e}");
}
