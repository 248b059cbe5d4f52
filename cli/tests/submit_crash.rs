//! SubmitApplications survives `kill -9`: 50 counters submit 10,000 applications to the real
//! `renkei serve` binary, which is killed mid-burst and started again on the same database. Each
//! counter resends what was not answered under the same idempotency key, as a counter app does.
//! At the resident record — a simulator in this process, outside the gateway's — every
//! acknowledged application arrives exactly once, and nothing arrives that was never acknowledged.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use renkei_conformance::population::Population;
use renkei_conformance::resident_record::ResidentRecordSimulator;
use renkei_proto::Bearer;
use renkei_proto::v1 as pb;
use renkei_proto::v1::auth_service_client::AuthServiceClient;
use renkei_proto::v1::counter_service_client::CounterServiceClient;
use tonic::transport::Channel;

mod common;
use common::{add_user, free_port, moving, spawn};
use renkei_store::testing::TempPostgres;

const CLIENTS: usize = 50;
const EACH: usize = 200;
const USER: &str = "crash-test";
const PASSPHRASE: &str = "a passphrase for the crash test";

/// A channel to `addr`, trying for two seconds.
async fn try_connect(addr: &str) -> Option<Channel> {
    for _ in 0..40 {
        if let Ok(channel) = Channel::from_shared(addr.to_owned()).unwrap().connect().await {
            return Some(channel);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn connect(addr: &str) -> Channel {
    loop {
        if let Some(channel) = try_connect(addr).await {
            return channel;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_submission_arrives_once_across_a_kill_on_sqlite() {
    across_a_kill(None, Restart::SameGateway).await;
}

/// The same on PostgreSQL, in a database of its own at `RENKEI_TEST_POSTGRES_URL`'s server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_submission_arrives_once_across_a_kill_on_postgresql() {
    on_postgresql(Restart::SameGateway).await;
}

/// Two gateways on one PostgreSQL, one killed mid-burst and not restarted: its counters go on
/// at the other, which also takes over the deliveries the dead one had leased.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgresql_one_killed_the_other_finishes() {
    on_postgresql(Restart::OtherReplica).await;
}

/// After the kill: start the same gateway again, or go on with a second one already running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    SameGateway,
    OtherReplica,
}

async fn on_postgresql(restart: Restart) {
    if let Some(db) = TempPostgres::create() {
        across_a_kill(Some(db.url.clone()), restart).await;
    }
}

async fn across_a_kill(database_url: Option<String>, restart: Restart) {
    let dir = tempfile::tempdir().unwrap();
    let population = Population::generate(300, 7);
    let resident_record = ResidentRecordSimulator::new(&population).start("127.0.0.1:0").await.unwrap();
    let atena = population.residents().next().unwrap().atena_number.to_string();
    let data = dir.path().join("data");
    // One configuration per gateway; replicas share the data directory's keys and the database.
    let write_config = |name: &str| {
        let (grpc, http) = (free_port(), free_port());
        let config = dir.path().join(name);
        std::fs::write(
            &config,
            format!(
                r#"
[server]
grpc_listen = "127.0.0.1:{grpc}"
http_listen = "127.0.0.1:{http}"
[storage]
data_dir = "{data}"
{database}
[card]
watch = false
[auth]
calls_per_second = 100000
calls_burst = 100000
[delivery]
poll_interval_ms = 100
initial_backoff_ms = 100
max_backoff_ms = 500
lease_ms = 2000
[systems.resident-record]
transport = "rest"
base_url = "{rr}"
timeout_ms = 1500
"#,
                data = data.display(),
                database =
                    database_url.as_ref().map(|u| format!("database_url = \"{u}\"")).unwrap_or_default(),
                rr = resident_record.base_url(),
            ),
        )
        .unwrap();
        (config, format!("http://127.0.0.1:{grpc}"))
    };
    let (config, addr) = write_config("renkei.toml");
    add_user(&data, database_url.as_deref(), USER, PASSPHRASE);

    let log = dir.path().join("renkei.log");
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let mut first = spawn(&config, &log);
    let mut replica = (restart == Restart::OtherReplica).then(|| write_config("replica.toml"));
    let mut other = replica.as_ref().map(|(config, _)| spawn(config, &log));
    let addrs: Arc<Vec<String>> =
        Arc::new([Some(addr.clone()), replica.take().map(|(_, a)| a)].into_iter().flatten().collect());
    let channel = connect(&addr).await;
    let token = AuthServiceClient::new(channel)
        .login(pb::LoginRequest { user_id: USER.into(), password: PASSPHRASE.into() })
        .await
        .unwrap()
        .into_inner()
        .access_token;

    // Each counter submits its share in order; an unanswered call is sent again, same key.
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let counters: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (addrs, token, atena, acknowledged) =
                (addrs.clone(), token.clone(), atena.clone(), acknowledged.clone());
            tokio::spawn(async move {
                let mut ids = Vec::new();
                let mut session: Option<String> = None;
                let (mut n, mut at) = (0, client);
                while n < EACH {
                    // Each counter starts at a gateway and moves to the next when it fails.
                    let addr = &addrs[at % addrs.len()];
                    at += 1;
                    let Some(channel) = try_connect(addr).await else { continue };
                    let mut counter = CounterServiceClient::new(Bearer::new(&token).unwrap().on(channel));
                    let session_id = match &session {
                        Some(s) => s.clone(),
                        None => match counter
                            .open_session(pb::OpenSessionRequest { counter_id: format!("window-{client}") })
                            .await
                        {
                            Ok(s) => session.insert(s.into_inner().session_id).clone(),
                            Err(_) => continue,
                        },
                    };
                    while n < EACH {
                        let request = pb::SubmitApplicationsRequest {
                            session_id: session_id.clone(),
                            idempotency_key: format!("c{client}-{n}"),
                            applications: vec![moving(&atena)],
                        };
                        match counter.submit_applications(request).await {
                            Ok(answer) => {
                                ids.push(answer.into_inner().applications[0].application_id.clone());
                                acknowledged.fetch_add(1, Ordering::Relaxed);
                                n += 1;
                            }
                            // The gateway went away: the answer was lost, not refused.
                            Err(status)
                                if matches!(
                                    status.code(),
                                    tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
                                ) =>
                            {
                                break;
                            }
                            Err(status) => panic!("submission c{client}-{n}: {status:?}"),
                        }
                    }
                }
                ids
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(120);
    while acknowledged.load(Ordering::Relaxed) < CLIENTS * EACH / 3 {
        assert!(Instant::now() < deadline, "too few submissions answered; the gateway said:\n{}", logs());
        assert!(first.try_wait().unwrap().is_none(), "the gateway stopped:\n{}", logs());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill().unwrap(); // SIGKILL: no shutdown, no lease released
    first.wait().unwrap();
    let at_kill = acknowledged.load(Ordering::Relaxed);
    assert!(at_kill < CLIENTS * EACH, "the kill came after the burst");
    let mut second = match other.take() {
        Some(other) => other,
        None => spawn(&config, &log),
    };

    let mut acked: Vec<String> = Vec::new();
    for c in counters {
        acked.extend(c.await.unwrap());
    }
    assert_eq!(acked.len(), CLIENTS * EACH);
    let expected: HashSet<&String> = acked.iter().collect();
    assert_eq!(expected.len(), CLIENTS * EACH, "one application per idempotency key");
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let received = resident_record.received_todoke();
        if received.len() >= CLIENTS * EACH {
            break;
        }
        assert!(Instant::now() < deadline, "{} of {} arrived:\n{}", received.len(), CLIENTS * EACH, logs());
        assert!(second.try_wait().unwrap().is_none(), "the gateway stopped:\n{}", logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Anything more would have been sent by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    second.kill().unwrap();
    second.wait().unwrap();

    let received = resident_record.received_todoke();
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    for r in &received {
        *by_key.entry(r.idempotency_key.as_str()).or_default() += 1;
    }
    assert_eq!(received.len(), CLIENTS * EACH, "each acknowledged application arrives once, nothing else");
    for id in &acked {
        assert_eq!(by_key.get(id.as_str()), Some(&1), "{id}");
    }
    eprintln!(
        "killed after {at_kill} of {} acknowledged; all {} arrived once",
        CLIENTS * EACH,
        received.len()
    );
}
