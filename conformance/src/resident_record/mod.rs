//! A simulator of a standard resident-record core system (住民記録システム), speaking the REST API
//! of `docs/resident-record-api.md` on a loopback listener.
//!
//! It holds a [`Population`] in memory, indexed by 宛名番号, 世帯番号, individual number and the
//! basic facts, answers lookups and searches, keeps a change feed, and receives 住民異動届 with
//! idempotency keys. Tests read back what it received through the [`SimulatorHandle`].
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use renkei_conformance::population::Population;
//! use renkei_conformance::resident_record::ResidentRecordSimulator;
//!
//! let population = Population::generate(1_000, 1);
//! let simulator = ResidentRecordSimulator::new(&population).start("127.0.0.1:0").await?;
//! println!("resident record at {}", simulator.base_url());
//! // … drive the adapter against it, then:
//! assert!(simulator.received_todoke().is_empty());
//! simulator.shutdown().await
//! # }
//! ```
//!
//! The individual number never appears in a response body, a log line or an error detail: it is
//! accepted only in the body of a search and compared through an index.

mod churn;
mod store;
mod wire;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use renkei_model::{
    Address, AtenaNumber, Date, Household, HouseholdNumber, LifeEvent, Resident, Rule, ValidationError,
};
use serde::Serialize;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::faults::{self, Fault, Faults};
use crate::population::Population;
use store::{Store, TodokeOutcome};
use wire::{AtenaRecord, BadRequest, ErrorBody};

/// Default and largest page of the change feed.
const DEFAULT_CHANGES_LIMIT: usize = 100;
const MAX_CHANGES_LIMIT: usize = 1000;

/// Longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// A 住民異動届 as the simulator understood it.
#[derive(Debug, Clone, PartialEq)]
pub struct Todoke {
    /// 届出種別.
    pub kind: LifeEvent,
    /// 異動日.
    pub idou_date: Date,
    /// 届出人.
    pub todokede: AtenaNumber,
    /// 異動者, in the order sent.
    pub subjects: Vec<AtenaNumber>,
    /// 新住所, when one was sent.
    pub new_address: Option<Address>,
    /// 備考.
    pub note: Option<String>,
}

/// A todoke the simulator accepted: recorded once per idempotency key, however often it was sent.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedTodoke {
    /// The `Idempotency-Key` it was first sent with.
    pub idempotency_key: String,
    /// 受付番号 answered for the key, the same on every resend.
    pub uketsuke_no: String,
    /// Requests with this key that were answered 201 or 200 (or would have been, but for an
    /// injected [`Fault`]): 1 when the todoke was delivered exactly once.
    pub times_sent: usize,
    /// What was notified.
    pub todoke: Todoke,
}

/// A request to `POST /todoke` that was answered 400 or 422.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedTodoke {
    /// The key, when the request carried a usable one.
    pub idempotency_key: Option<String>,
    /// 400 or 422.
    pub status: u16,
    /// The `detail` that was answered.
    pub detail: String,
}

/// The simulator before it is serving: a resident record loaded from households.
pub struct ResidentRecordSimulator {
    store: Store,
}

impl fmt::Debug for ResidentRecordSimulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResidentRecordSimulator").field("residents", &self.store.len()).finish()
    }
}

impl ResidentRecordSimulator {
    /// A resident record holding a copy of `population`.
    pub fn new(population: &Population) -> Self {
        Self::from_households(population.households().iter().cloned())
    }

    /// A resident record holding `households`. 宛名番号 and individual numbers must be unique
    /// across them (a later duplicate shadows an earlier one in lookups).
    pub fn from_households(households: impl IntoIterator<Item = Household>) -> Self {
        ResidentRecordSimulator { store: Store::new(households) }
    }

    /// Serve on `listener` until the handle is shut down or dropped. Must be called from within a
    /// Tokio runtime.
    pub fn serve(self, listener: TcpListener) -> io::Result<SimulatorHandle> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            store: RwLock::new(self.store),
            faults: Faults::default(),
            wire: std::sync::Mutex::default(),
            requests: std::sync::Mutex::default(),
            traceparents: std::sync::Mutex::default(),
        });
        let app = router(Arc::clone(&shared));
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // A dropped handle (Err) stops the server as surely as an explicit shutdown.
                    let _ = signal.await;
                })
                .await
        });
        tracing::info!(%addr, "resident-record simulator listening");
        Ok(SimulatorHandle { addr, shared, shutdown: Some(shutdown), task: Some(task) })
    }

    /// Bind `addr` (use `127.0.0.1:0` for a free port) and [`serve`](Self::serve) on it.
    pub async fn start(self, addr: impl ToSocketAddrs) -> io::Result<SimulatorHandle> {
        let listener = TcpListener::bind(addr).await?;
        self.serve(listener)
    }
}

/// A running simulator: its address, inspection of what it received, and shutdown. Dropping the
/// handle stops the server.
pub struct SimulatorHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl fmt::Debug for SimulatorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorHandle").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl SimulatorHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}/api/v1`, the base every endpoint path is relative to.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    /// Accepted todoke, in the order they were first received.
    pub fn received_todoke(&self) -> Vec<ReceivedTodoke> {
        self.shared.read().received().to_vec()
    }

    /// The todoke accepted under `idempotency_key`, if any.
    pub fn todoke_by_key(&self, idempotency_key: &str) -> Option<ReceivedTodoke> {
        self.shared.read().received_by_key(idempotency_key).cloned()
    }

    /// How many requests with `idempotency_key` were answered as accepted (0 if none was).
    pub fn times_sent(&self, idempotency_key: &str) -> usize {
        self.shared.read().received_by_key(idempotency_key).map_or(0, |t| t.times_sent)
    }

    /// Todoke requests answered 400 or 422, in order.
    pub fn rejected_todoke(&self) -> Vec<RejectedTodoke> {
        self.shared.read().rejections().to_vec()
    }

    /// The person's current record, as changed by the todoke received so far.
    pub fn resident(&self, atena_number: &AtenaNumber) -> Option<Resident> {
        self.shared.read().resident(atena_number).cloned()
    }

    /// The seq of the newest change (0 while the feed is empty).
    pub fn last_change_seq(&self) -> u64 {
        self.shared.read().last_seq()
    }

    /// How many requests the simulator answered on `route` (method and route template, as
    /// `GET /api/v1/atena/{atena_no}`): tests count the resident record's reads.
    pub fn requests(&self, route: &str) -> usize {
        self.shared.requests.lock().unwrap_or_else(PoisonError::into_inner).get(route).copied().unwrap_or(0)
    }

    /// The `traceparent` headers of the todoke requests sent with `idempotency_key`, in order.
    pub fn traceparents(&self, idempotency_key: &str) -> Vec<String> {
        let sent = self.shared.traceparents.lock().unwrap_or_else(PoisonError::into_inner);
        sent.get(idempotency_key).cloned().unwrap_or_default()
    }

    /// Make the next `POST /todoke` fail with `fault` ([`crate::faults`]). Faults queue up, one
    /// per request.
    pub fn inject_todoke_fault(&self, fault: Fault) {
        self.shared.faults.inject(fault);
    }

    /// Stop accepting connections, let requests in flight finish (up to a few seconds), and wait
    /// for the server to stop.
    pub async fn shutdown(mut self) -> io::Result<()> {
        crate::stop_server(self.shutdown.take(), self.task.take()).await
    }
}

/// State shared by the handlers and the handle.
struct Shared {
    store: RwLock<Store>,
    faults: Faults,
    /// Each accepted todoke as the receiver's own layout reads it ([`crate::receiver`]), for
    /// conformance runs.
    wire: std::sync::Mutex<Vec<WireTaken>>,
    /// Requests answered, by method and route template (`GET /api/v1/atena/{atena_no}`).
    requests: std::sync::Mutex<std::collections::BTreeMap<String, usize>>,
    /// The W3C `traceparent` each todoke request carried, by idempotency key: what a system's
    /// own logs would keep to join renkei's traces.
    traceparents: std::sync::Mutex<HashMap<String, Vec<String>>>,
}

/// A document as the receiving layout read it, as testers fetch it from
/// [`crate::core_system::RECEIVED_PATH`].
#[derive(Debug, Clone, serde::Serialize)]
struct WireTaken {
    interface: &'static str,
    idempotency_key: String,
    records: Vec<crate::receiver::WireRecord>,
}

impl Shared {
    // A handler that panicked mid-change leaves the record as it was at the panic; for a test
    // double that is more useful than refusing every later request.
    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }
}

type AppState = Arc<Shared>;

fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/atena/search", post(search))
        .route("/api/v1/atena/{atena_no}", get(atena))
        .route("/api/v1/setai/{setai_no}", get(setai))
        .route("/api/v1/changes", get(changes))
        .route("/api/v1/todoke", post(todoke))
        .route("/api/v1/health", get(health))
        .route(crate::core_system::RECEIVED_PATH, get(wire_received))
        .route_layer(middleware::from_fn_with_state(state.clone(), log_request))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Logs the route template rather than the path: a caller that puts an individual number in a
/// URL by mistake must not get it into the log.
async fn log_request(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = matched.map(|m| m.as_str().to_owned()).unwrap_or_default();
    *state
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(format!("{method} {route}"))
        .or_default() += 1;
    let response = next.run(request).await;
    tracing::debug!(%method, route, status = response.status().as_u16(), "resident-record simulator");
    response
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            (status, [(CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"))], bytes)
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "resident-record simulator could not serialize a response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn error(status: StatusCode, error: &'static str, detail: Option<String>) -> Response {
    json(status, &ErrorBody { error, detail })
}

fn bad_request(detail: String) -> Response {
    error(StatusCode::BAD_REQUEST, "bad_request", Some(detail))
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", None)
}

async fn method_not_allowed() -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None)
}

/// The number in the path, parsed with `parse`; the 400 detail on failure.
fn path_number<T>(
    path: Result<Path<String>, PathRejection>,
    field: &str,
    parse: fn(&str) -> Result<T, ValidationError>,
) -> Result<T, String> {
    let Path(segment) = path.map_err(|_| format!("{field}: is not valid percent-encoded UTF-8"))?;
    parse(&segment).map_err(|e| e.under(field).to_string())
}

async fn atena(State(state): State<AppState>, path: Result<Path<String>, PathRejection>) -> Response {
    let number = match path_number(path, "atena_no", AtenaNumber::parse) {
        Ok(number) => number,
        Err(detail) => return bad_request(detail),
    };
    let store = state.read();
    match store.resident(&number) {
        Some(resident) => json(StatusCode::OK, &AtenaRecord::from_resident(resident)),
        None => error(StatusCode::NOT_FOUND, "not_found", None),
    }
}

async fn setai(State(state): State<AppState>, path: Result<Path<String>, PathRejection>) -> Response {
    let number = match path_number(path, "setai_no", HouseholdNumber::parse) {
        Ok(number) => number,
        Err(detail) => return bad_request(detail),
    };
    let store = state.read();
    match store.household(&number) {
        Some(members) => json(
            StatusCode::OK,
            &wire::SetaiResponse {
                setai_no: number.to_string(),
                members: members.into_iter().map(AtenaRecord::from_resident).collect(),
            },
        ),
        None => error(StatusCode::NOT_FOUND, "not_found", None),
    }
}

async fn search(State(state): State<AppState>, body: Bytes) -> Response {
    let query = match wire::parse_search(&body) {
        Ok(query) => query,
        Err(BadRequest(detail)) => return bad_request(detail),
    };
    let store = state.read();
    let results = store.search(&query).into_iter().map(AtenaRecord::from_resident).collect();
    json(StatusCode::OK, &wire::SearchResponse { results })
}

async fn changes(
    State(state): State<AppState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return bad_request("query: is not a valid query string".to_owned());
    };
    let (cursor, limit) = match parse_changes_query(&params) {
        Ok(parsed) => parsed,
        Err(e) => return bad_request(e.to_string()),
    };
    let store = state.read();
    let page = store.changes_after(cursor, limit);
    let next_cursor = page.last().map_or(cursor, |c| c.seq);
    let changes = page
        .iter()
        .map(|c| wire::ChangeEntry {
            seq: c.seq,
            jiyu: c.reason.label(),
            idou_date: c.date.to_yyyymmdd(),
            record: AtenaRecord::from_resident(&c.record),
        })
        .collect();
    json(StatusCode::OK, &wire::ChangesResponse { changes, next_cursor })
}

fn parse_changes_query(params: &HashMap<String, String>) -> Result<(u64, usize), ValidationError> {
    let cursor = match params.get("cursor") {
        None => 0,
        Some(c) => c
            .parse::<u64>()
            .map_err(|_| ValidationError::at("cursor", Rule::Other("must be a whole number, 0 or more")))?,
    };
    let limit = match params.get("limit") {
        None => DEFAULT_CHANGES_LIMIT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_CHANGES_LIMIT).contains(l))
            .ok_or(ValidationError::at("limit", Rule::Other("must be a whole number from 1 to 1000")))?,
    };
    Ok((cursor, limit))
}

async fn health(State(state): State<AppState>) -> Response {
    let residents = state.read().len();
    json(StatusCode::OK, &wire::HealthResponse { status: "ok", residents })
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, String> {
    let value = headers.get("idempotency-key").ok_or("Idempotency-Key: is required")?;
    let key = value.to_str().map_err(|_| "Idempotency-Key: must be visible ASCII")?.trim();
    if key.is_empty() {
        return Err("Idempotency-Key: is required".to_owned());
    }
    if key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(format!("Idempotency-Key: is longer than {MAX_IDEMPOTENCY_KEY_LEN} characters"));
    }
    Ok(key.to_owned())
}

#[derive(serde::Deserialize)]
struct KeyQuery {
    key: Option<String>,
}

async fn wire_received(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<KeyQuery>,
) -> Response {
    let taken = state.wire.lock().unwrap_or_else(PoisonError::into_inner);
    let list: Vec<&WireTaken> =
        taken.iter().filter(|t| query.key.as_ref().is_none_or(|k| &t.idempotency_key == k)).collect();
    (StatusCode::OK, axum::Json(list)).into_response()
}

async fn todoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = state.faults.next();
    if let Some(early) = faults::before(fault).await {
        return early;
    }
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(detail) => {
            state.write().reject(None, 400, detail.clone());
            return bad_request(detail);
        }
    };
    if let Some(traceparent) = headers.get("traceparent").and_then(|v| v.to_str().ok()) {
        let mut sent = state.traceparents.lock().unwrap_or_else(PoisonError::into_inner);
        sent.entry(key.clone()).or_default().push(traceparent.to_owned());
    }
    let todoke = match wire::parse_todoke(&body) {
        Ok(todoke) => todoke,
        Err(BadRequest(detail)) => {
            state.write().reject(Some(key), 400, detail.clone());
            return bad_request(detail);
        }
    };
    let kind = todoke.kind;
    let outcome = state.write().submit(&key, todoke, Date::today().year());
    let response = match outcome {
        TodokeOutcome::Accepted(uketsuke_no) => {
            let layout = crate::receiver::layouts::layout("resident-record", "todoke").expect("a layout");
            if let Ok(records) = crate::receiver::decode(layout, &body) {
                let taken = WireTaken { interface: "todoke", idempotency_key: key.clone(), records };
                state.wire.lock().unwrap_or_else(PoisonError::into_inner).push(taken);
            }
            tracing::info!(idempotency_key = %key, %uketsuke_no, kind = kind.label(), "todoke accepted");
            let status =
                if fault == Some(Fault::DuplicateAck) { StatusCode::OK } else { StatusCode::CREATED };
            json(status, &wire::UketsukeResponse { uketsuke_no })
        }
        TodokeOutcome::Replayed(uketsuke_no) => {
            tracing::info!(idempotency_key = %key, %uketsuke_no, "todoke resent; answered from the first receipt");
            json(StatusCode::OK, &wire::UketsukeResponse { uketsuke_no })
        }
        TodokeOutcome::Rejected(detail) => {
            tracing::info!(idempotency_key = %key, %detail, "todoke rejected");
            error(StatusCode::UNPROCESSABLE_ENTITY, "rejected", Some(detail))
        }
    };
    faults::after(fault, response, b"{\"uketsuke_no\": ").await
}
