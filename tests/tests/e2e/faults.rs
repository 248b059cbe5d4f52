//! The fault matrix: each thing a core system can do wrong with a delivery, against each of the
//! four systems, through the gateway's outbox workers — what renkei does, and what the system
//! ends up holding.
//!
//! Every system is a simulator on loopback speaking its interface ([`renkei_conformance`]); the
//! resident record's 届 intake and the tax, NHI and welfare systems over REST, and the NHI system
//! once more over file transfer for a full disk. For each fault one application is submitted at
//! the counter and followed to where it ends: its status, the attempts it took, and how many
//! times the system recorded it (always once) and was sent it.

use std::sync::Arc;
use std::time::Duration;

use renkei_adapter_core::TransportConfig;
use renkei_conformance::core_system::{CoreSystemHandle, CoreSystemSimulator, SystemKind};
use renkei_conformance::faults::Fault;
use renkei_conformance::population::Population;
use renkei_gateway::config::SystemConfig;
use renkei_mappings::MappingSet;
use renkei_proto::v1 as pb;

use crate::harness::{
    Harness, SEED, complete_queued_work, moving_notification, techo_renewal, wait_for_status,
};

/// How long a REST system may take before renkei gives up on an attempt.
const TIMEOUT_MS: u64 = 300;

/// The system under a fault: the resident record's simulator, or one of the other three.
enum System<'a> {
    ResidentRecord(&'a renkei_conformance::resident_record::SimulatorHandle),
    Mapped(&'a CoreSystemHandle),
}

impl System<'_> {
    fn inject(&self, fault: Fault) {
        match self {
            System::ResidentRecord(s) => s.inject_todoke_fault(fault),
            System::Mapped(s) => s.faults().inject(fault),
        }
    }

    /// (records kept under `key`, requests with it answered as accepted).
    fn held(&self, key: &str) -> (usize, usize) {
        match self {
            System::ResidentRecord(s) => {
                (s.received_todoke().iter().filter(|t| t.idempotency_key == key).count(), s.times_sent(key))
            }
            System::Mapped(s) => {
                (s.received().iter().filter(|r| r.idempotency_key == key).count(), s.times_sent(key))
            }
        }
    }
}

/// What renkei is expected to do with a delivery under `fault`: the application's final status,
/// the attempts it took, and how many requests the system answered as accepted.
fn expected(fault: Fault) -> (pb::ApplicationStatus, u32, usize) {
    use pb::ApplicationStatus::{DeadLettered, Delivered};
    match fault {
        // Slow but within the timeout: one attempt.
        Fault::Latency(_) => (Delivered, 1, 1),
        // Refused before recording (503, 507): retried, recorded by the second attempt.
        Fault::Unavailable | Fault::DiskFull => (Delivered, 2, 1),
        // Recorded, but the answer never came (lost, too late, connection dropped): the retry
        // under the same key finds the first record.
        Fault::LoseResponse | Fault::Timeout(_) | Fault::DropConnection => (Delivered, 2, 2),
        // Recorded and acknowledged as seen before: delivered, once.
        Fault::DuplicateAck => (Delivered, 1, 1),
        // Recorded, but the answer is not the interface's: renkei cannot know the receipt and
        // does not guess; an operator looks (dead letter), nothing is sent again.
        Fault::Malformed => (DeadLettered, 1, 1),
    }
}

/// One application for `system`'s interface, from the counter, for someone of `population`.
fn draft(system: &str, population: &Population) -> pb::ApplicationDraft {
    let resident = population.residents().nth(3).unwrap();
    let atena = resident.atena_number.to_string();
    let staff = |v: &str| pb::FieldValue { value: v.into(), provenance: pb::Provenance::Staff as i32 };
    let with = |procedure: &str, event: pb::LifeEvent, fields: &[(&str, &str)]| pb::ApplicationDraft {
        procedure_id: procedure.into(),
        applicant_atena_number: atena.clone(),
        subject_atena_numbers: vec![atena.clone()],
        life_event: event as i32,
        fields: fields.iter().map(|(k, v)| ((*k).to_owned(), staff(v))).collect(),
    };
    match system {
        "resident-record" => moving_notification(&atena),
        "welfare" => techo_renewal(&atena),
        "tax" => with(
            "zei.shoumei",
            pb::LifeEvent::Unspecified,
            &[
                ("certificate_kind", "納税証明書"),
                ("event_date", "2026-11-20"),
                ("fiscal_year", "2026"),
                ("copies", "1"),
                ("taxpayer.name", "納税者"),
                ("taxpayer.address", "神奈川県横浜市鶴見区鶴見中央一丁目3番5号"),
                ("requester.name", "請求者"),
            ],
        ),
        "nhi" => with(
            "kokuho.idou",
            pb::LifeEvent::MoveIn,
            &[
                ("setainushi.name", "世帯主"),
                ("address", "神奈川県横浜市鶴見区鶴見中央一丁目3番5号"),
                ("subjects.names", "1人"),
                ("subjects.count", "1"),
                ("todokede.name", "届出人"),
                ("idou_kubun", "加入"),
                ("event_date", "2026-04-01"),
                ("reason", "move_in"),
            ],
        ),
        other => panic!("no draft for {other}"),
    }
}

/// Submit `draft` under `key` and follow it to `status`; (application id, what it ended with).
async fn deliver(
    h: &Harness,
    key: &str,
    draft: pb::ApplicationDraft,
    status: pb::ApplicationStatus,
) -> (String, pb::DeliveryStatusChanged) {
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let backyard = draft.procedure_id == "kokuho.idou";
    let response = counter
        .submit_applications(pb::SubmitApplicationsRequest {
            session_id: session_id.clone(),
            idempotency_key: key.into(),
            applications: vec![draft],
        })
        .await
        .unwrap()
        .into_inner();
    let id = response.applications[0].application_id.clone();
    if backyard {
        // Pattern 1: the backyard center keys it in before it goes to the NHI system.
        assert_eq!(complete_queued_work(&mut h.admin().await, "保険年金課").await, 1, "queued");
    }
    let ended = wait_for_status(&mut counter, &session_id, &id, status).await;
    (id, ended)
}

async fn simulator(kind: SystemKind, inbox: Option<&std::path::Path>) -> CoreSystemHandle {
    let population = Population::generate(300, SEED);
    let mappings = Arc::new(MappingSet::embedded().unwrap());
    let mut simulator = CoreSystemSimulator::new(kind, &population, mappings);
    if let Some(inbox) = inbox {
        simulator = simulator.with_inbox(inbox.to_owned());
    }
    simulator.start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn rest(url: String) -> SystemConfig {
    let mut config = SystemConfig::rest(url);
    if let TransportConfig::Rest(rest) = &mut config.transport {
        rest.timeout_ms = TIMEOUT_MS;
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_of_every_system_ends_delivered_once_or_dead_lettered_for_an_operator() {
    let (tax, nhi, welfare) = (
        simulator(SystemKind::Tax, None).await,
        simulator(SystemKind::Nhi, None).await,
        simulator(SystemKind::Welfare, None).await,
    );
    let urls = [("tax", tax.base_url()), ("nhi", nhi.base_url()), ("welfare", welfare.base_url())];
    let h = Harness::start_with(move |c| {
        for (name, url) in urls {
            c.systems.insert(name.into(), rest(url));
        }
        if let TransportConfig::Rest(rest) = &mut c.systems.get_mut("resident-record").unwrap().transport {
            rest.timeout_ms = TIMEOUT_MS;
        }
        // Each fault is one failure; the breaker is tested on its own (delivery.rs).
        c.delivery.breaker_failures = 100;
    })
    .await;
    let systems = [
        ("resident-record", System::ResidentRecord(&h.simulator)),
        ("tax", System::Mapped(&tax)),
        ("nhi", System::Mapped(&nhi)),
        ("welfare", System::Mapped(&welfare)),
    ];
    let mut cases = 0;
    for (name, system) in &systems {
        for fault in Fault::all(Duration::from_millis(TIMEOUT_MS * 3)) {
            let fault = match fault {
                Fault::Latency(_) => Fault::Latency(Duration::from_millis(TIMEOUT_MS / 6)),
                other => other,
            };
            let key = format!("{name}-{fault:?}");
            let (status, attempts, sent) = expected(fault);
            system.inject(fault);
            let (id, ended) = deliver(&h, &key, draft(name, &h.population), status).await;
            let case = format!("{name} × {fault:?}");
            assert_eq!(ended.attempts, attempts, "{case}: {ended:?}");
            assert_eq!(system.held(&id), (1, sent), "{case}: recorded once, answered {sent} times");
            match status {
                pb::ApplicationStatus::Delivered => {
                    assert!(!ended.receipt.is_empty(), "{case}: a delivered application has its receipt");
                }
                _ => {
                    assert!(ended.receipt.is_empty(), "{case}");
                    assert!(ended.last_error.contains("unreadable"), "{case}: {}", ended.last_error);
                    // The reason names the interface, never a value of the application.
                    assert!(
                        !ended
                            .last_error
                            .contains(h.population.residents().nth(3).unwrap().atena_number.as_str())
                    );
                }
            }
            cases += 1;
        }
    }
    assert_eq!(cases, 4 * 8);
    for s in [tax, nhi, welfare] {
        s.shutdown().await.unwrap();
    }
}

/// A full disk at a system that takes files: it records the file but cannot write the
/// acknowledgement, renkei's attempt times out and is retried, and once there is room the
/// retry finds the file acknowledged — one record, delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_at_a_file_transfer_system_delays_the_delivery_and_loses_nothing() {
    let inbox = tempfile::tempdir().unwrap();
    let nhi = simulator(SystemKind::Nhi, Some(inbox.path())).await;
    nhi.disk().set_space(Some(0));
    let dir = inbox.path().to_owned();
    let h = Harness::start_with(move |c| {
        let mut config = SystemConfig::rest(String::new());
        config.transport = TransportConfig::File(renkei_adapter_core::FileTransferConfig {
            inbox: Some(dir),
            ack_timeout_ms: 400,
        });
        c.systems.insert("nhi".into(), config);
    })
    .await;
    let space = {
        let disk = nhi.disk().clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            disk.set_space(None);
        })
    };
    let (id, ended) =
        deliver(&h, "nhi-disk", draft("nhi", &h.population), pb::ApplicationStatus::Delivered).await;
    space.await.unwrap();
    assert!(ended.attempts >= 2, "{ended:?}");
    assert_eq!(nhi.received().iter().filter(|r| r.idempotency_key == id).count(), 1);
    assert_eq!(nhi.received_by_key(&id).unwrap().reference, ended.receipt);
    nhi.shutdown().await.unwrap();
}
