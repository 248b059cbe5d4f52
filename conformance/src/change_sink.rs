//! The receiving end of the resident record's change feed, as a core system (tax, national
//! health insurance, welfare) that keeps its own copy of the 宛名 offers it: `POST
//! /api/v1/atena-diff` with a batch of difference records and an `Idempotency-Key`.
//!
//! A batch is recorded once per key, however often it is sent (a resend answers 200 instead of
//! 201), which is what lets the sender resend after a crash without anything arriving twice.
//! Tests read back what arrived through the [`ChangeSinkHandle`].
//!
//! ```text
//! POST /api/v1/atena-diff
//! Idempotency-Key: tax-0000000001-0000000100
//! {"batch": "tax-0000000001-0000000100", "first_seq": 1, "last_seq": 100, "records": [{…}, …]}
//! ```

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A batch as it arrived, once per key.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReceivedBatch {
    pub idempotency_key: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub records: Vec<serde_json::Value>,
    /// Requests with this key answered as accepted: 1 when it was sent once.
    pub times_sent: usize,
}

#[derive(Debug, Default)]
struct Inner {
    batches: Vec<ReceivedBatch>,
    by_key: HashMap<String, usize>,
    /// Requests still to answer 503 before taking any.
    failures_left: usize,
    latency: Duration,
}

#[derive(Deserialize)]
struct Body {
    first_seq: u64,
    last_seq: u64,
    records: Vec<serde_json::Value>,
}

/// What a system has taken from the change feed, behind `POST /api/v1/atena-diff`
/// ([`ChangeLedger::router`]). The tax, NHI and welfare simulators each mount one; [`start`]
/// serves one alone.
#[derive(Debug, Clone, Default)]
pub struct ChangeLedger {
    inner: Arc<Mutex<Inner>>,
}

impl ChangeLedger {
    /// The route, ready to merge into a simulator's router.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/v1/atena-diff", post(receive))
            .route(CHANGES_PATH, axum::routing::get(batches))
            .with_state(self.inner.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Batches in the order they first arrived.
    pub fn batches(&self) -> Vec<ReceivedBatch> {
        self.lock().batches.clone()
    }

    /// Every record of every batch, in arrival order.
    pub fn records(&self) -> Vec<serde_json::Value> {
        self.lock().batches.iter().flat_map(|b| b.records.clone()).collect()
    }

    /// The highest seq received so far (0 before anything).
    pub fn last_seq(&self) -> u64 {
        self.lock().batches.iter().map(|b| b.last_seq).max().unwrap_or(0)
    }

    /// Answer the next `n` requests 503 without looking at them.
    pub fn fail_next(&self, n: usize) {
        self.lock().failures_left = n;
    }

    /// Wait this long before answering each request.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }
}

/// A change sink serving on its own: a [`ChangeLedger`] (which it derefs to) on a listener.
#[derive(Debug)]
pub struct ChangeSinkHandle {
    addr: SocketAddr,
    ledger: ChangeLedger,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

/// Start a change sink on `addr` (port 0: any free port).
pub async fn start(addr: impl ToSocketAddrs) -> io::Result<ChangeSinkHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let ledger = ChangeLedger::default();
    let app = ledger.router();
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.await;
            })
            .await
    });
    Ok(ChangeSinkHandle { addr, ledger, shutdown: Some(shutdown), task: Some(task) })
}

impl std::ops::Deref for ChangeSinkHandle {
    type Target = ChangeLedger;

    fn deref(&self) -> &ChangeLedger {
        &self.ledger
    }
}

impl ChangeSinkHandle {
    /// `http://{addr}/api/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    pub async fn shutdown(mut self) -> io::Result<()> {
        crate::stop_server(self.shutdown.take(), self.task.take()).await
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Where testers read the batches taken, in arrival order, as JSON. Not part of any vendor's
/// interface.
pub const CHANGES_PATH: &str = "/api/v1/_conformance/changes";

async fn batches(State(inner): State<Arc<Mutex<Inner>>>) -> Response {
    let list = inner.lock().unwrap_or_else(PoisonError::into_inner).batches.clone();
    (StatusCode::OK, axum::Json(list)).into_response()
}

async fn receive(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> Response {
    let latency = inner.lock().unwrap_or_else(PoisonError::into_inner).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut inner = inner.lock().unwrap_or_else(PoisonError::into_inner);
    if inner.failures_left > 0 {
        inner.failures_left -= 1;
        return answer(StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({"error": "unavailable"}));
    }
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).filter(|k| !k.is_empty())
    else {
        return answer(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "bad_request", "detail": "Idempotency-Key: is required"}),
        );
    };
    if let Some(&i) = inner.by_key.get(key) {
        inner.batches[i].times_sent += 1;
        return answer(StatusCode::OK, serde_json::json!({"batch": key, "duplicate": true}));
    }
    let body: Body = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": "bad_request", "detail": format!("body: {e}")}),
            );
        }
    };
    let index = inner.batches.len();
    inner.by_key.insert(key.to_owned(), index);
    inner.batches.push(ReceivedBatch {
        idempotency_key: key.to_owned(),
        first_seq: body.first_seq,
        last_seq: body.last_seq,
        records: body.records,
        times_sent: 1,
    });
    answer(StatusCode::CREATED, serde_json::json!({"batch": key, "duplicate": false}))
}
