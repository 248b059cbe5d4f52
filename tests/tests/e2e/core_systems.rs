//! Applications for the tax, NHI and welfare systems go from SubmitApplications through the
//! outbox and the system's mapping file to its simulator, once.

use std::sync::Arc;

use renkei_conformance::core_system::{CoreSystemHandle, CoreSystemSimulator, SystemKind};
use renkei_conformance::population::HardCase;
use renkei_gateway::config::SystemConfig;
use renkei_mappings::MappingSet;
use renkei_proto::v1 as pb;

use crate::harness::{Harness, SEED, complete_queued_work, wait_for_status};

/// A simulator of `kind` over the harness's population, and a gateway delivering to it over REST.
async fn with_simulator(kind: SystemKind) -> (CoreSystemHandle, Harness) {
    let population = renkei_conformance::population::Population::generate(300, SEED);
    let mappings = Arc::new(MappingSet::embedded().unwrap());
    let simulator = CoreSystemSimulator::new(kind, &population, mappings)
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = simulator.base_url();
    let h = Harness::start_with(move |c| {
        c.systems.insert(kind.name().into(), SystemConfig::rest(url));
    })
    .await;
    (simulator, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_welfare_application_from_the_counter_reaches_the_welfare_system_through_its_mapping() {
    let (welfare, h) = with_simulator(SystemKind::Welfare).await;
    let applicant = h.population.hard_case(HardCase::TakaVariant).unwrap();
    let draft = crate::harness::techo_renewal(applicant.atena_number.as_str());
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let response = counter
        .submit_applications(pb::SubmitApplicationsRequest {
            session_id: session_id.clone(),
            idempotency_key: "techo-1".into(),
            applications: vec![draft],
        })
        .await
        .unwrap()
        .into_inner();
    let application_id = response.applications[0].application_id.clone();
    let delivered =
        wait_for_status(&mut counter, &session_id, &application_id, pb::ApplicationStatus::Delivered).await;

    let received = welfare.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let record = &received[0];
    assert_eq!((record.interface.as_str(), record.times_sent), ("shougai-techo", 1));
    assert_eq!(record.idempotency_key, application_id);
    assert_eq!(record.reference, delivered.receipt);
    // The form's labels became the system's codes through the mapping file.
    assert_eq!(record.records[0]["techo_shubetsu"], "3");
    assert_eq!(record.records[0]["tokyu"], "2");
    assert_eq!(record.records[0]["techo_bango"], "A123456");
    assert_eq!(
        record.records[0]["shinseisha_atena_no"].trim_start_matches('0'),
        applicant.atena_number.as_str().trim_start_matches('0')
    );
    welfare.shutdown().await.unwrap();
}

/// 国保 加入 for a household of four and a 記載事項変更 after a 転居, through the NHI mapping files to
/// the NHI simulator: every member arrives as a record of their own, and the new address arrives
/// filled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_member_of_a_household_joining_the_nhi_arrives_and_a_change_carries_the_new_address() {
    let (nhi, h) = with_simulator(SystemKind::Nhi).await;
    let household =
        h.population.households().iter().find(|h| h.members.len() == 4).expect("a household of four");
    let head = &household.members[0];
    let members: Vec<String> = household.members.iter().map(|m| m.atena_number.to_string()).collect();
    let staff = |v: &str| pb::FieldValue { value: v.into(), provenance: pb::Provenance::Staff as i32 };
    let draft = |event: pb::LifeEvent, subjects: Vec<String>, fields: &[(&str, &str)]| pb::ApplicationDraft {
        procedure_id: "kokuho.idou".into(),
        applicant_atena_number: head.atena_number.to_string(),
        subject_atena_numbers: subjects,
        life_event: event as i32,
        fields: fields.iter().map(|(k, v)| ((*k).to_owned(), staff(v))).collect(),
    };
    let common = [
        ("setainushi.name", "世帯主"),
        ("address", "神奈川県横浜市鶴見区鶴見中央一丁目3番5号"),
        ("subjects.names", "4人"),
        ("subjects.count", "4"),
        ("todokede.name", "届出人"),
    ];
    let joining =
        [&common[..], &[("idou_kubun", "加入"), ("event_date", "2026-04-01"), ("reason", "move_in")][..]]
            .concat();
    let change = [
        &common[..],
        &[
            ("idou_kubun", "記載事項変更"),
            ("event_date", "2026-11-20"),
            ("change_reason", "move_within"),
            ("new_address.town", "桜町二丁目"),
            ("new_address.banchi", "4番1号"),
            ("new_address.katagaki", "さくら荘201"),
        ][..],
    ]
    .concat();
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let response = counter
        .submit_applications(pb::SubmitApplicationsRequest {
            session_id: session_id.clone(),
            idempotency_key: "kokuho-1".into(),
            applications: vec![
                draft(pb::LifeEvent::MoveIn, members.clone(), &joining),
                draft(pb::LifeEvent::MoveWithin, vec![head.atena_number.to_string()], &change),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    // Pattern 1: the backyard center keys each one in, and then it goes to the NHI system.
    assert_eq!(complete_queued_work(&mut h.admin().await, "保険年金課").await, 2, "both queued");
    for application in &response.applications {
        wait_for_status(
            &mut counter,
            &session_id,
            &application.application_id,
            pb::ApplicationStatus::Delivered,
        )
        .await;
    }
    let received = nhi.received();
    let by_key = |id: &str| {
        received.iter().find(|r| r.idempotency_key == id).unwrap_or_else(|| panic!("{received:?}"))
    };

    let joined = by_key(&response.applications[0].application_id);
    assert_eq!(joined.interface, "shikaku-shutoku");
    // One record per member, every member, not the first alone.
    let arrived: Vec<&str> = joined.records.iter().map(|r| r["shutoku_atena_no"].as_str()).collect();
    assert_eq!(arrived.len(), 4, "{joined:?}");
    let arrived: Vec<&str> = arrived.iter().map(|a| a.trim_start_matches('0')).collect();
    let expected: Vec<&str> = members.iter().map(|m| m.trim_start_matches('0')).collect();
    assert_eq!(arrived, expected);
    assert!(joined.records.iter().all(|r| r["shutoku_jiyu"] == "01" && r["shutoku_date"] == "20260401"));

    let changed = by_key(&response.applications[1].application_id);
    assert_eq!((changed.interface.as_str(), changed.records.len()), ("kisai-henko", 1));
    assert_eq!(changed.records[0]["shin_machiaza"], "桜町二丁目");
    assert_eq!(changed.records[0]["shin_banchi"], "4番1号");
    assert_eq!(changed.records[0]["shin_katagaki"], "さくら荘201");
    nhi.shutdown().await.unwrap();
}
