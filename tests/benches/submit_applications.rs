//! Load generator: SubmitApplications at 50 concurrent clients over loopback, against the health
//! check on the same server and the same client, measured in the same run.
//!
//! The gateway runs in-process with its embedded SQLite database (`synchronous = FULL`: a
//! submission is acknowledged only once it is on disk) or, with `RENKEI_BENCH_POSTGRES_URL`, on
//! a database of its own at that PostgreSQL server. A simulated resident record on 127.0.0.1
//! receives the deliveries, which run while the clients submit, as they do in service. Each
//! client has its own connection and session and submits one 異動届 (`jumin.idou`) per call,
//! each under a new idempotency key. The baseline is `grpc.health.v1.Health/Check` through the
//! same guard and listener: what a call costs that touches no database.
//!
//! ```sh
//! cargo bench -p renkei-tests --bench submit_applications              # 50 clients × 200 calls
//! cargo bench -p renkei-tests --bench submit_applications -- 50 400    # clients, calls per client
//! RENKEI_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench -p renkei-tests --bench submit_applications
//! ```

use std::time::{Duration, Instant};

use renkei_conformance::population::Population;
use renkei_conformance::resident_record::ResidentRecordSimulator;
use renkei_gateway::config::SystemConfig;
use renkei_proto::Bearer;
use renkei_proto::v1 as pb;
use renkei_proto::v1::counter_service_client::CounterServiceClient;
use renkei_store::testing::TempPostgres;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

mod common;
use common::{moving, ms, quantile};

/// Which call every client makes.
#[derive(Debug, Clone, Copy)]
enum Call {
    Health,
    Submit,
}

/// Per-call latencies of one client.
async fn client(
    addr: String,
    bearer: Bearer,
    call: Call,
    session_id: String,
    atena: String,
    first_key: usize,
    calls: usize,
) -> Vec<Duration> {
    let channel = Channel::from_shared(addr).unwrap().connect().await.unwrap();
    let mut samples = Vec::with_capacity(calls);
    match call {
        Call::Health => {
            let mut health = HealthClient::new(bearer.on(channel));
            for _ in 0..calls {
                let start = Instant::now();
                health.check(HealthCheckRequest { service: String::new() }).await.unwrap();
                samples.push(start.elapsed());
            }
        }
        Call::Submit => {
            let mut counter = CounterServiceClient::new(bearer.on(channel));
            for n in first_key..first_key + calls {
                let request = pb::SubmitApplicationsRequest {
                    session_id: session_id.clone(),
                    idempotency_key: format!("bench-{n}"),
                    applications: vec![moving(&atena)],
                };
                let start = Instant::now();
                let answer = counter.submit_applications(request).await.unwrap().into_inner();
                samples.push(start.elapsed());
                assert!(!answer.replayed && answer.applications.len() == 1);
            }
        }
    }
    samples
}

/// Every client's calls at once: all samples and the wall time.
async fn run(
    addr: &str,
    bearer: &Bearer,
    call: Call,
    sessions: &[(String, String)],
    round: usize,
    calls: usize,
) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let tasks: Vec<_> = sessions
        .iter()
        .map(|(session, atena)| {
            tokio::spawn(client(
                addr.to_owned(),
                bearer.clone(),
                call,
                session.clone(),
                atena.clone(),
                round * calls,
                calls,
            ))
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all, start.elapsed())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let calls: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let postgres =
        std::env::var("RENKEI_BENCH_POSTGRES_URL").ok().map(|admin| TempPostgres::create_at(&admin));

    let population = Population::generate(1_000, 1);
    let simulator = ResidentRecordSimulator::new(&population).start("127.0.0.1:0").await.unwrap();
    let (rr, database_url) = (simulator.base_url(), postgres.as_ref().map(|db| db.url.clone()));
    let common::Bench { gateway, addr, bearer, data: _data } = common::gateway(|c| {
        c.storage.database_url = database_url;
        c.systems.insert("resident-record".into(), SystemConfig::rest(rr));
    })
    .await;

    let channel = Channel::from_shared(addr.clone()).unwrap().connect().await.unwrap();
    let mut counter = CounterServiceClient::new(bearer.clone().on(channel));
    let residents: Vec<String> = population.residents().map(|r| r.atena_number.to_string()).collect();
    let mut sessions = Vec::with_capacity(clients);
    for c in 0..clients {
        let session = counter
            .open_session(pb::OpenSessionRequest { counter_id: format!("window-{c}") })
            .await
            .unwrap()
            .into_inner();
        sessions.push((session.session_id, residents[(c * 7919) % residents.len()].clone()));
    }

    // Warm both up (connections, pages, the delivery workers), then the baseline, then renkei.
    let warm = (calls / 10).max(1);
    run(&addr, &bearer, Call::Health, &sessions, 0, warm).await;
    run(&addr, &bearer, Call::Submit, &sessions, 0, warm).await;
    let (mut base, base_wall) = run(&addr, &bearer, Call::Health, &sessions, 1, calls).await;
    let (mut real, real_wall) = run(&addr, &bearer, Call::Submit, &sessions, 1, calls).await;

    // Until the resident record has every application, warm-up included.
    let expected = clients * (warm + calls);
    let drain = Instant::now();
    while simulator.received_todoke().len() < expected && drain.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let delivered = simulator.received_todoke().len();

    let n = real.len();
    println!(
        "{clients} clients × {calls} calls = {n} calls each side; {} cores; database {}",
        std::thread::available_parallelism().map_or(1, |p| p.get()),
        if postgres.is_some() { "PostgreSQL" } else { "SQLite (WAL, synchronous = FULL)" },
    );
    println!("| call | p50 (ms) | p99 (ms) | calls/s |");
    println!("|---|---|---|---|");
    for (name, samples, wall) in
        [("Health/Check (baseline)", &mut base, base_wall), ("SubmitApplications", &mut real, real_wall)]
    {
        println!(
            "| {name} | {:.2} | {:.2} | {:.0} |",
            ms(quantile(samples, 0.5)),
            ms(quantile(samples, 0.99)),
            n as f64 / wall.as_secs_f64()
        );
    }
    println!(
        "throughput ratio (submit / health): {:.2}; p50 ratio: {:.1}×",
        base_wall.as_secs_f64() / real_wall.as_secs_f64(),
        quantile(&mut real, 0.5).as_secs_f64() / quantile(&mut base, 0.5).as_secs_f64()
    );
    println!(
        "delivered to the resident record: {delivered} of {expected}, {:.1} s after the last acknowledgement",
        drain.elapsed().as_secs_f64()
    );
    gateway.shutdown().await.unwrap();
    simulator.shutdown().await.unwrap();
    drop(postgres);
}
