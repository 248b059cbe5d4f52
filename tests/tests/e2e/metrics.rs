//! `/metrics`, scraped over HTTP and read with a Prometheus text-format parser (the
//! prometheus-parse crate): every metric the operators' dashboards and alerts use is there, with
//! the figures of what happened.

use renkei_conformance::population::HardCase;
use renkei_gateway::config::{SubscriberConfig, SystemConfig};
use renkei_proto::v1 as pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Harness, moving_notification, wait_for_status};

async fn scrape(h: &Harness) -> prometheus_parse::Scrape {
    let mut stream = tokio::net::TcpStream::connect(h.gateway.http_addr).await.unwrap();
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: renkei\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_lowercase().contains("content-type: text/plain; version=0.0.4"), "{head}");
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            prometheus_parse::Value::Summary(_) => f64::NAN,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_in_the_prometheus_text_format_with_every_figure() {
    let sink = renkei_conformance::change_sink::start("127.0.0.1:0").await.unwrap();
    let sink_url = sink.base_url();
    let h = Harness::start_with(move |c| {
        c.systems.insert("tax".into(), SystemConfig::rest(sink_url));
        c.hub.subscribers.insert(
            "tax".into(),
            SubscriberConfig { system: "tax".into(), mapping: "resident-record/atena-diff".parse().unwrap() },
        );
    })
    .await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let mover = h.population.hard_case(HardCase::SakiVariant).unwrap();
    let submitted = counter
        .submit_applications(pb::SubmitApplicationsRequest {
            session_id: session_id.clone(),
            idempotency_key: "metrics-1".into(),
            applications: vec![moving_notification(mover.atena_number.as_str())],
        })
        .await
        .unwrap()
        .into_inner();
    let id = submitted.applications[0].application_id.clone();
    wait_for_status(&mut counter, &session_id, &id, pb::ApplicationStatus::Delivered).await;
    // A refused call, for a code other than OK.
    let refused =
        counter.close_session(pb::CloseSessionRequest { session_id: "no-such-session".into() }).await;
    assert!(refused.is_err());

    // Calls to paths renkei does not serve share one series, whatever the path.
    for n in 0..3 {
        let mut grpc = tonic::client::Grpc::new(h.plain_channel().await);
        grpc.ready().await.unwrap();
        let path = http::uri::PathAndQuery::try_from(format!("/renkei.v1.NoSuchService/Probe{n}")).unwrap();
        let codec = tonic_prost::ProstCodec::<(), ()>::default();
        let e = grpc.unary(tonic::Request::new(()), path, codec).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unimplemented);
    }

    let scrape = scrape(&h).await;
    assert_eq!(
        value(&scrape, "renkei_rpc_duration_seconds", &[("method", "unknown"), ("code", "Unimplemented")]),
        Some(3.0)
    );
    assert!(
        !scrape.samples.iter().any(|s| s.labels.get("method").is_some_and(|m| m.contains("NoSuchService"))),
        "no series per unknown path"
    );
    let opened = value(
        &scrape,
        "renkei_rpc_duration_seconds",
        &[("method", "renkei.v1.CounterService/OpenSession"), ("code", "Ok")],
    );
    assert_eq!(opened, Some(1.0), "one OpenSession observed");
    let submits = value(
        &scrape,
        "renkei_rpc_duration_seconds",
        &[("method", "renkei.v1.CounterService/SubmitApplications")],
    );
    assert_eq!(submits, Some(1.0));
    assert!(
        scrape.samples.iter().any(|s| s.metric == "renkei_rpc_duration_seconds"
            && s.labels.get("method") == Some("renkei.v1.CounterService/CloseSession")
            && s.labels.get("code") != Some("Ok")),
        "the refused call is observed with its code"
    );
    assert_eq!(
        value(&scrape, "renkei_deliveries", &[("system", "resident-record"), ("state", "delivered")]),
        Some(1.0)
    );
    assert_eq!(
        value(&scrape, "renkei_deliveries", &[("system", "tax"), ("state", "dead")]),
        Some(0.0),
        "a configured system's states are there at 0 before anything happens in them"
    );
    assert_eq!(value(&scrape, "renkei_delivery_queue_depth", &[]), Some(0.0));
    assert_eq!(value(&scrape, "renkei_oldest_undelivered_seconds", &[]), Some(0.0));
    assert!(
        value(&scrape, "renkei_hub_lag_changes", &[("subscriber", "tax")]).is_some(),
        "the hub's lag per subscriber"
    );
    assert_eq!(value(&scrape, "renkei_circuit_state", &[("system", "resident-record")]), Some(0.0), "closed");
    let backup_age = value(&scrape, "renkei_backup_age_seconds", &[]).expect("the backup's age");
    assert!((-1.0..3600.0).contains(&backup_age), "{backup_age}");
}
