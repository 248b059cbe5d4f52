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
