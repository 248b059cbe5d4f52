//! Delivery to a core system that fails: retries, lost answers, idempotency, dead letters.

use renkei_conformance::faults::Fault;
use renkei_conformance::population::HardCase;
use renkei_proto::v1 as pb;

use crate::harness::{Harness, moving_notification, wait_for_status};

async fn submit_one(h: &Harness, key: &str) -> (String, String) {
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let mover = h.population.hard_case(HardCase::TakaVariant).unwrap();
    let response = counter
        .submit_applications(pb::SubmitApplicationsRequest {
            session_id: session_id.clone(),
            idempotency_key: key.into(),
            applications: vec![moving_notification(mover.atena_number.as_str())],
        })
        .await
        .unwrap()
        .into_inner();
    (session_id, response.applications[0].application_id.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_then_lost_answer_is_retried_and_recorded_once() {
    let h = Harness::start().await;
    // First attempt: the system is down. Second: it records the todoke but the answer is lost.
    // Third: the retry with the same key gets the first receipt.
    h.simulator.inject_todoke_fault(Fault::Unavailable);
    h.simulator.inject_todoke_fault(Fault::LoseResponse);
    let (session_id, application_id) = submit_one(&h, "retry").await;
    let mut counter = h.counter().await;
    let delivered =
        wait_for_status(&mut counter, &session_id, &application_id, pb::ApplicationStatus::Delivered).await;

    assert_eq!(delivered.attempts, 3);
    let received = h.simulator.received_todoke();
    assert_eq!(received.len(), 1, "recorded once: {received:?}");
    assert_eq!(received[0].idempotency_key, application_id, "the application id is the idempotency key");
    assert_eq!(received[0].times_sent, 2, "the lost answer and the retry");
    assert_eq!(received[0].uketsuke_no, delivered.receipt);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_dead_letter_and_an_operator_can_retry() {
    let h = Harness::start_with(|c| c.delivery.max_attempts = 2).await;
    h.simulator.inject_todoke_fault(Fault::Unavailable);
    h.simulator.inject_todoke_fault(Fault::Unavailable);
    let (session_id, application_id) = submit_one(&h, "dead").await;
    let mut counter = h.counter().await;
    let dead =
        wait_for_status(&mut counter, &session_id, &application_id, pb::ApplicationStatus::DeadLettered)
            .await;
    assert_eq!(dead.attempts, 2);
    assert!(dead.last_error.contains("503"), "{}", dead.last_error);
    assert!(h.simulator.received_todoke().is_empty());

    let mut admin = h.admin().await;
    let listed = admin
        .list_deliveries(pb::ListDeliveriesRequest { state: pb::DeliveryState::Dead as i32, limit: 0 })
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].application_id, application_id);
    let health = admin.health(pb::HealthRequest {}).await.unwrap().into_inner();
    assert_eq!(health.dead_deliveries, 1);

    // The system is back; the operator puts the delivery back in the queue.
    let retried = admin
        .retry_delivery(pb::RetryDeliveryRequest { delivery_id: listed[0].delivery_id.clone() })
        .await
        .unwrap();
    assert_eq!(retried.into_inner().state, pb::DeliveryState::Pending as i32);
    wait_for_status(&mut counter, &session_id, &application_id, pb::ApplicationStatus::Delivered).await;
    assert_eq!(h.simulator.received_todoke().len(), 1);

    // A delivered delivery cannot be retried.
    let e = admin
        .retry_delivery(pb::RetryDeliveryRequest { delivery_id: listed[0].delivery_id.clone() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_application_is_not_retried() {
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    // 転居 of someone the resident record does not know: the system answers 422.
    let stranger = renkei_model::AtenaNumber::from_serial(123_456_789, 10).unwrap();
    let response = counter
        .submit_applications(pb::SubmitApplicationsRequest {
            session_id: session_id.clone(),
            idempotency_key: "stranger".into(),
            applications: vec![moving_notification(stranger.as_str())],
        })
        .await
        .unwrap()
        .into_inner();
    let id = &response.applications[0].application_id;
    let rejected = wait_for_status(&mut counter, &session_id, id, pb::ApplicationStatus::Rejected).await;
    assert_eq!(rejected.attempts, 1);
    assert!(rejected.last_error.contains("422"), "{}", rejected.last_error);
    assert_eq!(h.simulator.rejected_todoke().len(), 1, "{rejected:?}");
}

/// A core system that accepts connections and never answers holds only its own workers: the
/// resident record's deliveries go on, the hung system's circuit opens, and when it answers
/// again a probe closes the circuit and its delivery arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_system_holds_only_its_own_workers_and_its_circuit_opens_and_closes() {
    use renkei_conformance::core_system::{CoreSystemSimulator, SystemKind};
    use renkei_delivery::breaker::CircuitState;

    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hung.local_addr().unwrap();
    let holding = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hung.accept().await {
            held.push(socket);
        }
    });
    let h = Harness::start_with(move |c| {
        let mut welfare = renkei_gateway::config::SystemConfig::rest(format!("http://{addr}/api/v1"));
        if let renkei_adapter_core::TransportConfig::Rest(rest) = &mut welfare.transport {
            rest.timeout_ms = 300;
        }
        c.systems.insert("welfare".into(), welfare);
        c.delivery.breaker_failures = 2;
        c.delivery.breaker_open_ms = 500;
        c.delivery.max_attempts = 100;
    })
    .await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let applicant = h.population.hard_case(HardCase::TakaVariant).unwrap();
    let welfare = counter
        .submit_applications(pb::SubmitApplicationsRequest {
            session_id: session_id.clone(),
            idempotency_key: "techo-hung".into(),
            applications: vec![crate::harness::techo_renewal(applicant.atena_number.as_str())],
        })
        .await
        .unwrap()
        .into_inner()
        .applications[0]
        .application_id
        .clone();
    let breakers = h.gateway.state().breakers.clone();
    let opened = async {
        while breakers.state("welfare") == CircuitState::Closed {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(15), opened).await.expect("the circuit opens");

    // Meanwhile the resident record's deliveries go on.
    for n in 0..5 {
        let (session, id) = submit_one(&h, &format!("meanwhile-{n}")).await;
        let mut c = h.counter().await;
        wait_for_status(&mut c, &session, &id, pb::ApplicationStatus::Delivered).await;
    }
    assert_ne!(breakers.state("welfare"), CircuitState::Closed, "the hung system is still held off");

    // The system comes back on the same address: a probe closes the circuit, the delivery arrives.
    holding.abort();
    let _ = holding.await;
    let population = renkei_conformance::population::Population::generate(300, crate::harness::SEED);
    let mappings = std::sync::Arc::new(renkei_mappings::MappingSet::embedded().unwrap());
    let back =
        CoreSystemSimulator::new(SystemKind::Welfare, &population, mappings).start(addr).await.unwrap();
    wait_for_status(&mut counter, &session_id, &welfare, pb::ApplicationStatus::Delivered).await;
    assert_eq!(breakers.state("welfare"), CircuitState::Closed);
    let received = back.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].idempotency_key, welfare);
}
