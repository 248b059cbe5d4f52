//! Load generator: how long the resident record's deliveries take while another core system
//! hangs, against the same run without the hang.
//!
//! The gateway runs in-process (embedded SQLite) with the simulated resident record and a welfare
//! system configured. In the baseline every client submits 異動届 only. In the second run each
//! client also submits a 手帳 renewal for the welfare system after each 異動届, and the welfare
//! system is a listener that accepts connections and never answers (every attempt waits out its
//! timeout). Each 異動届's latency is from sending its SubmitApplications to the `Delivered` event
//! on the session's WatchSession stream.
//!
//! ```sh
//! cargo bench -p renkei-tests --bench delivery_isolation              # 20 clients × 50 submissions
//! cargo bench -p renkei-tests --bench delivery_isolation -- 20 100    # clients, submissions each
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use renkei_adapter_core::TransportConfig;
use renkei_conformance::population::Population;
use renkei_conformance::resident_record::ResidentRecordSimulator;
use renkei_gateway::config::SystemConfig;
use renkei_proto::Bearer;
use renkei_proto::v1 as pb;
use renkei_proto::v1::counter_service_client::CounterServiceClient;
use tonic::transport::Channel;

mod common;
use common::{moving, ms, quantile};

/// A 精神障害者保健福祉手帳 renewal, which goes to the welfare system.
fn techo(atena: &str) -> pb::ApplicationDraft {
    let staff = |v: &str| pb::FieldValue { value: v.into(), provenance: pb::Provenance::Staff as i32 };
    let fields = [
        ("name", "試験 花子"),
        ("birth_date", "1960-04-01"),
        ("address", "神奈川県横浜市中区山下町1番地"),
        ("event_date", "2026-11-20"),
        ("techo.kind", "精神障害者保健福祉手帳"),
        ("techo.number", "A123456"),
        ("techo.grade", "2級"),
        ("techo.expiry", "2026-12-31"),
        ("basis", "診断書"),
    ];
    pb::ApplicationDraft {
        procedure_id: "seishin.techo.koushin".into(),
        applicant_atena_number: atena.into(),
        subject_atena_numbers: vec![atena.into()],
        life_event: pb::LifeEvent::Unspecified as i32,
        fields: fields.iter().map(|(k, v)| ((*k).to_owned(), staff(v))).collect(),
    }
}

/// One client: its submissions one after another; the latency of each 異動届 from sending it to
/// its delivery.
async fn client(
    addr: String,
    bearer: Bearer,
    counter_id: String,
    atena: String,
    submissions: usize,
    with_hung: bool,
) -> Vec<Duration> {
    let channel = Channel::from_shared(addr).unwrap().connect().await.unwrap();
    let mut counter = CounterServiceClient::new(bearer.on(channel));
    let session_id =
        counter.open_session(pb::OpenSessionRequest { counter_id }).await.unwrap().into_inner().session_id;
    let mut stream = counter
        .watch_session(pb::WatchSessionRequest { session_id: session_id.clone() })
        .await
        .unwrap()
        .into_inner();
    // Only the 異動届 are delivered (the hung system's applications never are).
    let watcher = tokio::spawn(async move {
        let mut delivered = HashMap::new();
        while let Some(event) = stream.message().await.unwrap() {
            if let Some(pb::session_event::Event::Delivery(d)) = event.event
                && d.status == pb::ApplicationStatus::Delivered as i32
            {
                delivered.insert(d.application_id, Instant::now());
                if delivered.len() == submissions {
                    break;
                }
            }
        }
        delivered
    });
    let mut sent = HashMap::new();
    for n in 0..submissions {
        let mut applications = vec![moving(&atena)];
        if with_hung {
            applications.push(techo(&atena));
        }
        let at = Instant::now();
        let answer = counter
            .submit_applications(pb::SubmitApplicationsRequest {
                session_id: session_id.clone(),
                idempotency_key: format!("k{n}"),
                applications,
            })
            .await
            .unwrap()
            .into_inner();
        sent.insert(answer.applications[0].application_id.clone(), at);
        // A counter's pace: a submission every few tens of milliseconds.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered = tokio::time::timeout(Duration::from_secs(120), watcher)
        .await
        .expect("every 異動届 delivered")
        .unwrap();
    sent.iter().map(|(id, at)| delivered[id] - *at).collect()
}

async fn run(clients: usize, submissions: usize, with_hung: bool) -> Vec<Duration> {
    let population = Population::generate(1_000, 1);
    let resident_record = ResidentRecordSimulator::new(&population).start("127.0.0.1:0").await.unwrap();
    // The hung system: accepts, reads nothing, answers nothing.
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_addr = hung.local_addr().unwrap();
    let holding = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hung.accept().await {
            held.push(socket);
        }
    });
    let rr = resident_record.base_url();
    let common::Bench { gateway, addr, bearer, data: _data } = common::gateway(|c| {
        c.systems.insert("resident-record".into(), SystemConfig::rest(rr));
        let mut welfare = SystemConfig::rest(format!("http://{hung_addr}/api/v1"));
        if let TransportConfig::Rest(rest) = &mut welfare.transport {
            rest.timeout_ms = 2_000;
        }
        c.systems.insert("welfare".into(), welfare);
    })
    .await;
    let residents: Vec<String> = population.residents().map(|r| r.atena_number.to_string()).collect();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            tokio::spawn(client(
                addr.clone(),
                bearer.clone(),
                format!("window-{c}"),
                residents[(c * 7919) % residents.len()].clone(),
                submissions,
                with_hung,
            ))
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let breaker = gateway.state().breakers.state("welfare");
    if with_hung {
        println!("welfare circuit at the end: {breaker:?}");
    }
    gateway.shutdown().await.unwrap();
    resident_record.shutdown().await.unwrap();
    holding.abort();
    all
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let submissions: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let mut base = run(clients, submissions, false).await;
    let mut hung = run(clients, submissions, true).await;
    println!(
        "{clients} clients × {submissions} 異動届 each; {} cores",
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    println!("| run | resident-record delivery p50 (ms) | p99 (ms) |");
    println!("|---|---|---|");
    for (name, samples) in [("welfare idle", &mut base), ("welfare hung", &mut hung)] {
        println!("| {name} | {:.1} | {:.1} |", ms(quantile(samples, 0.5)), ms(quantile(samples, 0.99)));
    }
    println!(
        "p99 ratio (hung / baseline): {:.2}",
        quantile(&mut hung, 0.99).as_secs_f64() / quantile(&mut base, 0.99).as_secs_f64()
    );
}
