//! Applications for the tax, NHI and welfare systems go from SubmitApplications through the
//! outbox and the system's mapping file to its simulator, once.

use std::sync::Arc;

use renkei_conformance::core_system::{CoreSystemSimulator, SystemKind};
use renkei_conformance::population::HardCase;
use renkei_gateway::config::SystemConfig;
use renkei_mappings::MappingSet;
use renkei_proto::v1 as pb;

use crate::harness::{Harness, SEED, wait_for_status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_welfare_application_from_the_counter_reaches_the_welfare_system_through_its_mapping() {
    let population = renkei_conformance::population::Population::generate(300, SEED);
    let mappings = Arc::new(MappingSet::embedded().unwrap());
    let welfare = CoreSystemSimulator::new(SystemKind::Welfare, &population, mappings)
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = welfare.base_url();
    let h = Harness::start_with(move |c| {
        c.systems.insert("welfare".into(), SystemConfig::rest(url));
    })
    .await;
    let applicant = h.population.hard_case(HardCase::TakaVariant).unwrap();
    let staff = |v: &str| pb::FieldValue { value: v.into(), provenance: pb::Provenance::Staff as i32 };
    let draft = pb::ApplicationDraft {
        procedure_id: "seishin.techo.koushin".into(),
        applicant_atena_number: applicant.atena_number.to_string(),
        subject_atena_numbers: vec![applicant.atena_number.to_string()],
        life_event: pb::LifeEvent::Unspecified as i32,
        fields: [
            ("name", "髙橋 ハル"),
            ("birth_date", "1926-12-25"),
            ("address", "神奈川県横浜市中区山下町1番地"),
            ("event_date", "2026-11-20"),
            ("techo.kind", "精神障害者保健福祉手帳"),
            ("techo.number", "A123456"),
            ("techo.grade", "2級"),
            ("techo.expiry", "2026-12-31"),
            ("basis", "診断書"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), staff(v)))
        .collect(),
    };
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
