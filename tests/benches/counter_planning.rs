//! Load generator: PlanProcedures + PrefillApplications at 50 concurrent counters over loopback,
//! against a tonic echo baseline measured in the same run.
//!
//! The gateway runs in-process with its embedded SQLite database and a simulated resident record
//! of 10,000 synthetic residents, all on 127.0.0.1. Each counter has its own connection and, for
//! a stream of residents, plans a life event with every question answered and prefills the
//! planned forms. The baseline is the same CounterService over the same tonic stack answering
//! with the gateway's own responses, recorded beforehand: it measures what gRPC alone costs for
//! these messages.
//!
//! ```sh
//! cargo bench -p renkei-tests --bench counter_planning            # 50 counters × 40 visits
//! cargo bench -p renkei-tests --bench counter_planning -- 50 200  # counters, visits per counter
//! ```

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use renkei_conformance::population::Population;
use renkei_conformance::resident_record::ResidentRecordSimulator;
use renkei_gateway::config::SystemConfig;
use renkei_proto::Bearer;
use renkei_proto::v1 as pb;
use renkei_proto::v1::counter_service_client::CounterServiceClient;
use renkei_proto::v1::counter_service_server::{CounterService, CounterServiceServer};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

mod common;
use common::{ms, quantile};

const EVENTS: [pb::LifeEvent; 5] = [
    pb::LifeEvent::MoveIn,
    pb::LifeEvent::MoveWithin,
    pb::LifeEvent::Birth,
    pb::LifeEvent::Death,
    pb::LifeEvent::Marriage,
];

/// Every question answered, so each plan is final and each visit does the same work.
fn answers() -> BTreeMap<String, String> {
    [
        ("employee_insurance", "いいえ"),
        ("nhi_enrolled", "はい"),
        ("mynumber_card", "はい"),
        ("disability_handbook", "なし"),
        ("needs_daycare", "はい"),
        ("pregnant", "いいえ"),
        ("has_dog", "いいえ"),
        ("moped", "いいえ"),
        ("pension_recipient", "はい"),
        ("owns_property", "いいえ"),
        ("household_changes", "はい"),
        ("surname_change", "いいえ"),
        ("single_parent", "いいえ"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// One visit: the two requests a counter makes.
#[derive(Clone)]
struct Visit {
    plan: pb::PlanProceduresRequest,
    prefill: pb::PrefillApplicationsRequest,
}

fn visit(session_id: &str, atena: &str, event: pb::LifeEvent, procedures: Vec<String>) -> Visit {
    Visit {
        plan: pb::PlanProceduresRequest {
            session_id: session_id.to_owned(),
            life_event: event as i32,
            atena_number: atena.to_owned(),
            answers: answers(),
        },
        prefill: pb::PrefillApplicationsRequest {
            session_id: session_id.to_owned(),
            procedure_ids: procedures,
            applicant_atena_number: atena.to_owned(),
            life_event: event as i32,
            answers: answers(),
            ..Default::default()
        },
    }
}

/// The baseline: CounterService answering every plan and prefill with recorded responses.
#[derive(Clone)]
struct Echo {
    plan: Arc<pb::PlanProceduresResponse>,
    prefill: Arc<pb::PrefillApplicationsResponse>,
}

type EventStream = Pin<Box<dyn futures::Stream<Item = Result<pb::SessionEvent, Status>> + Send>>;

#[tonic::async_trait]
impl CounterService for Echo {
    async fn plan_procedures(
        &self,
        _: Request<pb::PlanProceduresRequest>,
    ) -> Result<Response<pb::PlanProceduresResponse>, Status> {
        Ok(Response::new((*self.plan).clone()))
    }
    async fn prefill_applications(
        &self,
        _: Request<pb::PrefillApplicationsRequest>,
    ) -> Result<Response<pb::PrefillApplicationsResponse>, Status> {
        Ok(Response::new((*self.prefill).clone()))
    }
    async fn open_session(
        &self,
        _: Request<pb::OpenSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn close_session(
        &self,
        _: Request<pb::CloseSessionRequest>,
    ) -> Result<Response<pb::CloseSessionResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn submit_evidence(
        &self,
        _: Request<pb::SubmitEvidenceRequest>,
    ) -> Result<Response<pb::SubmitEvidenceResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn lookup_resident(
        &self,
        _: Request<pb::LookupResidentRequest>,
    ) -> Result<Response<pb::LookupResidentResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn submit_applications(
        &self,
        _: Request<pb::SubmitApplicationsRequest>,
    ) -> Result<Response<pb::SubmitApplicationsResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
    type WatchSessionStream = EventStream;
    async fn watch_session(
        &self,
        _: Request<pb::WatchSessionRequest>,
    ) -> Result<Response<EventStream>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn render_guide(
        &self,
        _: Request<pb::RenderGuideRequest>,
    ) -> Result<Response<pb::RenderedDocument>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn render_form(
        &self,
        _: Request<pb::RenderFormRequest>,
    ) -> Result<Response<pb::RenderedDocument>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn render_receipt(
        &self,
        _: Request<pb::RenderReceiptRequest>,
    ) -> Result<Response<pb::RenderedDocument>, Status> {
        Err(Status::unimplemented("echo"))
    }
}

/// Latencies of the plan, the prefill, and the two together, per visit.
#[derive(Default)]
struct Samples {
    plan: Vec<Duration>,
    prefill: Vec<Duration>,
    visit: Vec<Duration>,
}

async fn counter(addr: String, bearer: Bearer, visits: Vec<Visit>) -> Samples {
    let channel = Channel::from_shared(addr).unwrap().connect().await.unwrap();
    let mut client = CounterServiceClient::new(bearer.on(channel));
    let mut s = Samples::default();
    for v in visits {
        let start = Instant::now();
        client.plan_procedures(v.plan).await.unwrap();
        let planned = Instant::now();
        client.prefill_applications(v.prefill).await.unwrap();
        let done = Instant::now();
        s.plan.push(planned - start);
        s.prefill.push(done - planned);
        s.visit.push(done - start);
    }
    s
}

/// Run every counter's visits at once, each call carrying `bearer` (the echo ignores it); all
/// samples together and the wall time.
async fn run(addr: &str, bearer: &Bearer, per_counter: &[Vec<Visit>]) -> (Samples, Duration) {
    let start = Instant::now();
    let tasks: Vec<_> = per_counter
        .iter()
        .map(|v| tokio::spawn(counter(addr.to_owned(), bearer.clone(), v.clone())))
        .collect();
    let mut all = Samples::default();
    for t in tasks {
        let s = t.await.unwrap();
        all.plan.extend(s.plan);
        all.prefill.extend(s.prefill);
        all.visit.extend(s.visit);
    }
    (all, start.elapsed())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let counters: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let visits_per_counter: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(40);

    let population = Population::generate(10_000, 1);
    let simulator = ResidentRecordSimulator::new(&population).start("127.0.0.1:0").await.unwrap();
    let rr = simulator.base_url();
    let common::Bench { gateway, addr, bearer, data: _data } = common::gateway(|c| {
        c.systems.insert("resident-record".into(), SystemConfig::rest(rr));
    })
    .await;

    // One session per counter; residents taken in turn across the population, events in turn.
    let channel = Channel::from_shared(addr.clone()).unwrap().connect().await.unwrap();
    let mut client = CounterServiceClient::new(bearer.clone().on(channel));
    let residents: Vec<String> = population.residents().map(|r| r.atena_number.to_string()).collect();
    let mut per_counter = Vec::with_capacity(counters);
    let mut recorded = None;
    for c in 0..counters {
        let session_id = client
            .open_session(pb::OpenSessionRequest { counter_id: format!("window-{c}") })
            .await
            .unwrap()
            .into_inner()
            .session_id;
        let mut visits = Vec::with_capacity(visits_per_counter);
        for v in 0..visits_per_counter {
            let n = c * visits_per_counter + v;
            let atena = &residents[(n * 7919) % residents.len()];
            let event = EVENTS[n % EVENTS.len()];
            let plan = client
                .plan_procedures(visit(&session_id, atena, event, vec![]).plan)
                .await
                .unwrap()
                .into_inner();
            let procedures: Vec<String> = plan.procedures.iter().map(|p| p.procedure_id.clone()).collect();
            let visit = visit(&session_id, atena, event, procedures);
            if recorded.is_none() && event == pb::LifeEvent::MoveIn && plan.procedures.len() >= 6 {
                let prefill = client.prefill_applications(visit.prefill.clone()).await.unwrap().into_inner();
                recorded = Some((plan, prefill));
            }
            visits.push(visit);
        }
        per_counter.push(visits);
    }
    let (plan, prefill) = recorded.expect("a move-in with six or more procedures among the visits");
    let sizes = (prost::Message::encoded_len(&plan), prost::Message::encoded_len(&prefill));

    let echo = Echo { plan: Arc::new(plan), prefill: Arc::new(prefill) };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_addr = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder().add_service(CounterServiceServer::new(echo)).serve_with_incoming(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
        ),
    );

    // Warm both up (connections, caches, SQLite pages), then measure the echo and the gateway.
    let warm: Vec<Vec<Visit>> = per_counter.iter().map(|v| v.iter().take(2).cloned().collect()).collect();
    run(&echo_addr, &bearer, &warm).await;
    run(&addr, &bearer, &warm).await;
    let (mut base, base_wall) = run(&echo_addr, &bearer, &per_counter).await;
    let (mut real, real_wall) = run(&addr, &bearer, &per_counter).await;

    let n = real.visit.len();
    println!(
        "{counters} counters × {visits_per_counter} visits = {n} visits each side; {} cores; recorded responses {} + {} bytes",
        std::thread::available_parallelism().map_or(1, |p| p.get()),
        sizes.0,
        sizes.1
    );
    println!("| call | gateway p50 (ms) | gateway p99 (ms) | echo p50 (ms) | echo p99 (ms) | p50 ratio |");
    println!("|---|---|---|---|---|---|");
    for (name, g, e) in [
        ("PlanProcedures", &mut real.plan, &mut base.plan),
        ("PrefillApplications", &mut real.prefill, &mut base.prefill),
        ("both (one visit)", &mut real.visit, &mut base.visit),
    ] {
        let (g50, g99, e50, e99) = (quantile(g, 0.5), quantile(g, 0.99), quantile(e, 0.5), quantile(e, 0.99));
        println!(
            "| {name} | {:.2} | {:.2} | {:.3} | {:.3} | {:.1}× |",
            ms(g50),
            ms(g99),
            ms(e50),
            ms(e99),
            g50.as_secs_f64() / e50.as_secs_f64()
        );
    }
    println!(
        "throughput: gateway {:.0} visits/s, echo {:.0} visits/s",
        n as f64 / real_wall.as_secs_f64(),
        n as f64 / base_wall.as_secs_f64()
    );
    gateway.shutdown().await.unwrap();
    simulator.shutdown().await.unwrap();
}
