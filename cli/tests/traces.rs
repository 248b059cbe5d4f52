//! Traces leave the real `renkei serve` over OTLP/HTTP, and the trace id reaches the core system.
//!
//! The counter app sends a W3C `traceparent` with SubmitApplications. The collector here decodes
//! what the binary exports with OpenTelemetry's own protobuf definitions (opentelemetry-proto),
//! and the resident record — a simulator in this process, outside the gateway's — records the
//! `traceparent` each delivery carried. One trace runs from the counter's call through the
//! outbox to the core system's request.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use renkei_conformance::population::Population;
use renkei_conformance::resident_record::ResidentRecordSimulator;
use renkei_proto::Bearer;
use renkei_proto::v1 as pb;
use renkei_proto::v1::auth_service_client::AuthServiceClient;
use renkei_proto::v1::counter_service_client::CounterServiceClient;
use tonic::transport::Channel;

mod common;
use common::{add_user, free_port, moving};

const USER: &str = "trace-test";
const PASSPHRASE: &str = "a passphrase for the trace test";
/// The counter app's trace and span.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

/// Every span received, with its service name.
type Received = Arc<Mutex<Vec<(String, Span)>>>;

/// An OTLP/HTTP trace receiver on loopback: `POST /v1/traces` with a protobuf body.
async fn collector() -> (String, Received) {
    let received: Received = Arc::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let store = store.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
                for resource in request.resource_spans {
                    let service = resource
                        .resource
                        .iter()
                        .flat_map(|r| &r.attributes)
                        .find(|a| a.key == "service.name")
                        .and_then(|a| a.value.as_ref())
                        .map(|v| format!("{:?}", v.value))
                        .unwrap_or_default();
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            store.lock().unwrap().push((service.clone(), span));
                        }
                    }
                }
                ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_is_one_trace_from_the_counter_to_the_core_system() {
    let dir = tempfile::tempdir().unwrap();
    let (otlp, spans) = collector().await;
    let population = Population::generate(100, 7);
    let resident_record = ResidentRecordSimulator::new(&population).start("127.0.0.1:0").await.unwrap();
    let atena = population.residents().next().unwrap().atena_number.to_string();
    let data = dir.path().join("data");
    let grpc = free_port();
    let config = dir.path().join("renkei.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
grpc_listen = "127.0.0.1:{grpc}"
http_listen = "127.0.0.1:{http}"
[storage]
data_dir = "{data}"
[card]
watch = false
[telemetry]
otlp_endpoint = "{otlp}"
service_name = "renkei-trace-test"
[delivery]
poll_interval_ms = 100
[systems.resident-record]
transport = "rest"
base_url = "{rr}"
"#,
            http = free_port(),
            data = data.display(),
            rr = resident_record.base_url(),
        ),
    )
    .unwrap();
    add_user(&data, None, USER, PASSPHRASE);

    let log = dir.path().join("renkei.log");
    let mut gateway = common::spawn(&config, &log);
    let addr = format!("http://127.0.0.1:{grpc}");
    let channel = loop {
        if let Ok(channel) = Channel::from_shared(addr.clone()).unwrap().connect().await {
            break channel;
        }
        assert!(gateway.try_wait().unwrap().is_none(), "{}", std::fs::read_to_string(&log).unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let token = AuthServiceClient::new(channel.clone())
        .login(pb::LoginRequest { user_id: USER.into(), password: PASSPHRASE.into() })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let mut counter = CounterServiceClient::new(Bearer::new(&token).unwrap().on(channel));
    let session_id = counter
        .open_session(pb::OpenSessionRequest { counter_id: "window-1".into() })
        .await
        .unwrap()
        .into_inner()
        .session_id;
    let mut request = tonic::Request::new(pb::SubmitApplicationsRequest {
        session_id,
        idempotency_key: "traced".into(),
        applications: vec![moving(&atena)],
    });
    request.metadata_mut().insert("traceparent", format!("00-{TRACE_ID}-{CLIENT_SPAN}-01").parse().unwrap());
    let id = counter.submit_applications(request).await.unwrap().into_inner().applications[0]
        .application_id
        .clone();

    // The core system's request carries the counter's trace id, under a span of renkei's.
    let deadline = Instant::now() + Duration::from_secs(20);
    while resident_record.todoke_by_key(&id).is_none() {
        assert!(Instant::now() < deadline, "not delivered:\n{}", std::fs::read_to_string(&log).unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = resident_record.traceparents(&id);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let parts: Vec<&str> = sent[0].split('-').collect();
    assert_eq!(parts.len(), 4, "{}", sent[0]);
    assert_eq!((parts[0], parts[1], parts[3]), ("00", TRACE_ID, "01"), "{}", sent[0]);
    let delivery_span = parts[2].to_owned();
    assert_ne!(delivery_span, CLIENT_SPAN);

    // The exported spans: the call, child of the counter's span; the attempt, in the same trace,
    // whose span is the one the core system was sent.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (call, attempt) = loop {
        let received = spans.lock().unwrap().clone();
        let ours: Vec<&(String, Span)> =
            received.iter().filter(|(_, s)| hex(&s.trace_id) == TRACE_ID).collect();
        let call =
            ours.iter().find(|(_, s)| s.name == "renkei.v1.CounterService/SubmitApplications").cloned();
        let attempt = ours.iter().find(|(_, s)| hex(&s.span_id) == delivery_span).cloned();
        if let (Some(call), Some(attempt)) = (call, attempt) {
            break (call.clone(), attempt.clone());
        }
        assert!(Instant::now() < deadline, "spans of the trace not exported: {received:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(call.0.contains("renkei-trace-test"), "the service name: {}", call.0);
    assert_eq!(hex(&call.1.parent_span_id), CLIENT_SPAN, "the call continues the counter's span");
    assert_eq!(attempt.1.name, "deliver resident-record");
    assert_eq!(hex(&attempt.1.parent_span_id), hex(&call.1.span_id), "the attempt is a child of the call");
    // No span carries a resident's data: names and attributes are methods, systems and ids.
    let text = format!("{:?}", spans.lock().unwrap());
    assert!(!text.contains(&atena), "an 宛名番号 in the traces");

    gateway.kill().unwrap();
    gateway.wait().unwrap();
    resident_record.shutdown().await.unwrap();
}
