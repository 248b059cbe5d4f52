//! Simulators of the tax (税), national health insurance (国保) and welfare (福祉) core systems.
//!
//! Each takes records in the layouts of its interfaces (the mapping files under
//! `mappings/systems/<system>/`, the stand-in for a vendor's interface specification) over both
//! transports a real one offers:
//!
//! - REST: `POST /api/v1/{interface}` with the record as the body and an `Idempotency-Key`; 201
//!   and `{"uketsuke_no": …}` for a new key, 200 and the first answer for a key seen before, 422
//!   with `{"error":"rejected","detail":…}` for a record it will not take. The tax system answers
//!   a certificate request (`shoumei`) with the certificate's data instead (fixed-length
//!   Shift_JIS records, 受付番号 in the `Uketsuke-No` header); the NHI system also answers
//!   `GET /api/v1/member/{宛名番号}` with one `nhi/member` record.
//! - The resident record's differences: `POST /api/v1/atena-diff` ([`crate::change_sink`]).
//! - File transfer: it watches an inbox for `{interface}-{key}.{ext}` files with their
//!   completion file and writes the acknowledgement `NAME.ack` beside each
//!   (`status=accepted|duplicate|refused|failed`, `reference=`, `reason=`); the file name's key is
//!   the idempotency key.
//!
//! All of them share the synthetic population (records naming an unknown 宛名番号 are refused),
//! honour idempotency keys, record what they took for tests to inspect, and take faults
//! ([`crate::faults`]) per request or file, and a full disk for the files they write.

mod file;
mod nhi;
mod tax;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use renkei_mappings::{Format, Mapping, MappingSet, Value};
use renkei_model::{Date, Resident};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::change_sink::ChangeLedger;
use crate::faults::{self, Disk, Fault, Faults};
use crate::population::Population;

/// Which system a simulator stands in for: the name its interfaces are filed under, and what it
/// does besides taking records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemKind {
    /// 個人住民税・固定資産税: certificate requests are answered with certificate data.
    Tax,
    /// 国民健康保険: member lookups.
    Nhi,
    /// 福祉 (児童手当, 福祉医療, 障害者福祉, 保育).
    Welfare,
}

impl SystemKind {
    /// The system's name in mapping files and the gateway's configuration.
    pub fn name(self) -> &'static str {
        match self {
            SystemKind::Tax => "tax",
            SystemKind::Nhi => "nhi",
            SystemKind::Welfare => "welfare",
        }
    }

    fn reference_prefix(self) -> &'static str {
        match self {
            SystemKind::Tax => "ZEI",
            SystemKind::Nhi => "KOKUHO",
            SystemKind::Welfare => "FUKUSHI",
        }
    }
}

/// A record the simulator took: once per idempotency key, however often it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub interface: String,
    pub idempotency_key: String,
    /// The 受付番号 answered, the same on every resend.
    pub reference: String,
    /// Requests or files with this key that were taken: 1 when it arrived exactly once.
    pub times_sent: usize,
    /// Item key → value as the first record held it (lists joined with `,`): the document's one
    /// record for most interfaces.
    pub items: BTreeMap<String, String>,
    /// Every record of the document, in order (one per subject for a per-subject interface).
    pub records: Vec<BTreeMap<String, String>>,
    /// `rest` or `file`.
    pub transport: &'static str,
}

/// A record the simulator refused (422 or `status=refused`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub interface: String,
    pub idempotency_key: String,
    pub detail: String,
}

/// A simulator before it runs.
pub struct CoreSystemSimulator {
    kind: SystemKind,
    mappings: Arc<MappingSet>,
    residents: HashMap<String, Resident>,
    inbox: Option<PathBuf>,
    changes: ChangeLedger,
}

impl fmt::Debug for CoreSystemSimulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreSystemSimulator")
            .field("system", &self.kind.name())
            .field("residents", &self.residents.len())
            .field("inbox", &self.inbox)
            .finish_non_exhaustive()
    }
}

impl CoreSystemSimulator {
    /// A simulator of `kind` serving `population`, reading records through `mappings` (the
    /// interfaces' layouts).
    pub fn new(kind: SystemKind, population: &Population, mappings: Arc<MappingSet>) -> Self {
        let residents = population.residents().map(|r| (r.atena_number.to_string(), r.clone())).collect();
        CoreSystemSimulator { kind, mappings, residents, inbox: None, changes: ChangeLedger::default() }
    }

    /// Also take files from `inbox` (renkei's side of the file transfer).
    #[must_use]
    pub fn with_inbox(mut self, inbox: PathBuf) -> Self {
        self.inbox = Some(inbox);
        self
    }

    /// Serve REST on `addr` (`127.0.0.1:0` for any free port) and watch the inbox, if any.
    pub async fn start(self, addr: SocketAddr) -> io::Result<CoreSystemHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            kind: self.kind,
            mappings: self.mappings,
            residents: self.residents,
            faults: Faults::default(),
            disk: Disk::default(),
            state: Mutex::new(Ledger::default()),
        });
        let app = Router::new()
            .route("/api/v1/health", get(health))
            .route("/api/v1/member/{atena_no}", get(nhi::member))
            .route("/api/v1/{interface}", post(submit))
            .with_state(shared.clone())
            .merge(self.changes.router());
        let (stop, stopped) = oneshot::channel::<()>();
        let (file_stop_tx, file_stop_rx) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        let watcher =
            self.inbox.clone().map(|inbox| tokio::spawn(file::watch(shared.clone(), inbox, file_stop_rx)));
        tracing::info!(system = self.kind.name(), %addr, inbox = ?self.inbox, "core-system simulator running");
        Ok(CoreSystemHandle {
            addr,
            changes: self.changes,
            shared,
            stop: Some(stop),
            file_stop: file_stop_tx,
            server: Some(server),
            watcher,
            inbox: self.inbox,
        })
    }
}

/// A running simulator. Dropping it stops the REST server and the inbox watcher.
pub struct CoreSystemHandle {
    addr: SocketAddr,
    changes: ChangeLedger,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    file_stop: tokio::sync::watch::Sender<bool>,
    server: Option<JoinHandle<io::Result<()>>>,
    watcher: Option<JoinHandle<()>>,
    inbox: Option<PathBuf>,
}

impl fmt::Debug for CoreSystemHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreSystemHandle")
            .field("system", &self.shared.kind.name())
            .field("addr", &self.addr)
            .field("inbox", &self.inbox)
            .finish_non_exhaustive()
    }
}

impl Drop for CoreSystemHandle {
    fn drop(&mut self) {
        let _ = self.file_stop.send(true);
        if let Some(watcher) = &self.watcher {
            watcher.abort();
        }
    }
}

impl CoreSystemHandle {
    pub fn system(&self) -> &'static str {
        self.shared.kind.name()
    }

    /// `http://{addr}/api/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    pub fn inbox(&self) -> Option<&std::path::Path> {
        self.inbox.as_deref()
    }

    /// What the system has taken from the resident record's change feed
    /// (`POST /api/v1/atena-diff`).
    pub fn changes(&self) -> &ChangeLedger {
        &self.changes
    }

    /// Records taken, in the order they first arrived.
    pub fn received(&self) -> Vec<Received> {
        self.shared.ledger().received.clone()
    }

    /// The record taken under `idempotency_key`.
    pub fn received_by_key(&self, idempotency_key: &str) -> Option<Received> {
        let ledger = self.shared.ledger();
        ledger.by_key.get(idempotency_key).map(|i| ledger.received[*i].clone())
    }

    /// How often the record with `idempotency_key` was taken (0 if never).
    pub fn times_sent(&self, idempotency_key: &str) -> usize {
        self.received_by_key(idempotency_key).map_or(0, |r| r.times_sent)
    }

    /// Records refused, in order.
    pub fn refused(&self) -> Vec<Refused> {
        self.shared.ledger().refused.clone()
    }

    /// The fault queue: each request or file takes the next fault.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// The disk the simulator writes its files on (acknowledgements): limit its free space to
    /// make writes fail with ENOSPC.
    pub fn disk(&self) -> &Disk {
        &self.shared.disk
    }

    /// Stop serving and watching, letting requests in flight finish (a few seconds at most).
    pub async fn shutdown(mut self) -> io::Result<()> {
        let _ = self.file_stop.send(true);
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.await;
        }
        crate::stop_server(self.stop.take(), self.server.take()).await
    }
}

#[derive(Debug, Default)]
struct Ledger {
    received: Vec<Received>,
    by_key: HashMap<String, usize>,
    refused: Vec<Refused>,
    serial: u64,
}

struct Shared {
    kind: SystemKind,
    mappings: Arc<MappingSet>,
    residents: HashMap<String, Resident>,
    faults: Faults,
    disk: Disk,
    state: Mutex<Ledger>,
}

/// What became of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Taken {
    Accepted(Received),
    Replayed(Received),
    Refused(String),
}

impl Shared {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The interface's layout in force today.
    fn mapping(&self, interface: &str) -> Option<&Arc<Mapping>> {
        self.mappings.mapping(self.kind.name(), interface, Date::today())
    }

    /// Read one record document of `interface` and record it under `key`.
    fn take(&self, interface: &str, key: &str, body: &[u8], transport: &'static str) -> Taken {
        let seen = self.ledger().by_key.get(key).copied();
        if let Some(i) = seen {
            let mut ledger = self.ledger();
            let first = &mut ledger.received[i];
            if first.interface == interface {
                first.times_sent += 1;
                return Taken::Replayed(first.clone());
            }
        }
        let records = match self.read(interface, body) {
            Ok(records) => records,
            Err(detail) => {
                self.ledger().refused.push(Refused {
                    interface: interface.to_owned(),
                    idempotency_key: key.to_owned(),
                    detail: detail.clone(),
                });
                return Taken::Refused(detail);
            }
        };
        let mut ledger = self.ledger();
        // A concurrent request with the same key may have been recorded meanwhile.
        if let Some(i) = ledger.by_key.get(key).copied() {
            ledger.received[i].times_sent += 1;
            return Taken::Replayed(ledger.received[i].clone());
        }
        ledger.serial += 1;
        let received = Received {
            interface: interface.to_owned(),
            idempotency_key: key.to_owned(),
            reference: format!(
                "{}-{}-{:06}",
                self.kind.reference_prefix(),
                Date::today().year(),
                ledger.serial
            ),
            times_sent: 1,
            items: records[0].clone(),
            records,
            transport,
        };
        let index = ledger.received.len();
        ledger.by_key.insert(key.to_owned(), index);
        ledger.received.push(received.clone());
        Taken::Accepted(received)
    }

    /// Decode a document of `interface` and check it as the system would: the layout, the
    /// required items, and that every 宛名番号 it names is a resident; a CSV or fixed-length
    /// document holds one or more records, one per line. The detail names the record and item.
    fn read(&self, interface: &str, body: &[u8]) -> Result<Vec<BTreeMap<String, String>>, String> {
        let mapping = self.mapping(interface).ok_or_else(|| format!("{interface}: no such interface"))?;
        let separator = mapping.record_separator.bytes();
        let mut record_bytes = body;
        if let Some(header) = mapping.csv_header() {
            let rest = record_bytes
                .strip_prefix(header.as_bytes())
                .and_then(|r| r.strip_prefix(separator))
                .ok_or_else(|| "(header): is not the layout's header line".to_owned())?;
            record_bytes = rest;
        }
        if mapping.format != Format::Json {
            record_bytes = record_bytes
                .strip_suffix(separator)
                .ok_or_else(|| "(record): does not end with the record separator (truncated?)".to_owned())?;
        }
        let lines: Vec<&[u8]> = if mapping.format == Format::Json || separator.is_empty() {
            vec![record_bytes]
        } else {
            split(record_bytes, separator)
        };
        let several = lines.len() > 1;
        lines
            .into_iter()
            .enumerate()
            .map(|(n, line)| {
                let items = self.read_record(mapping, line);
                if several { items.map_err(|e| format!("record {}: {e}", n + 1)) } else { items }
            })
            .collect()
    }

    fn read_record(
        &self,
        mapping: &Mapping,
        record_bytes: &[u8],
    ) -> Result<BTreeMap<String, String>, String> {
        let mut record = mapping.new_system();
        mapping.decode(record_bytes, &mut record).map_err(|e| e.to_string())?;
        let mut items = BTreeMap::new();
        for (index, item) in mapping.items.iter().enumerate() {
            let value = record.get(index);
            if item.required && item.direction.to_system() && value.is_none() {
                return Err(format!("{}: is required", item.label()));
            }
            let Some(value) = value else { continue };
            let text = match value {
                Value::List(list) => list.join(","),
                other => other.to_text(),
            };
            if item.key.ends_with("atena_no") && !text.split(',').all(|n| self.residents.contains_key(n)) {
                return Err(format!("{}: no resident has this 宛名番号", item.label()));
            }
            items.insert(item.key.clone(), text);
        }
        Ok(items)
    }
}

/// The records of a document's body, between separators.
fn split<'a>(mut body: &'a [u8], separator: &[u8]) -> Vec<&'a [u8]> {
    let mut records = Vec::new();
    while let Some(at) = body.windows(separator.len()).position(|w| w == separator) {
        records.push(&body[..at]);
        body = &body[at + separator.len()..];
    }
    records.push(body);
    records
}

async fn health(State(shared): State<Arc<Shared>>) -> Response {
    let body = serde_json::json!({ "status": "ok", "system": shared.kind.name(), "residents": shared.residents.len() });
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn json_error(status: StatusCode, error: &str, detail: Option<&str>) -> Response {
    let body = serde_json::json!({ "error": error, "detail": detail });
    (status, axum::Json(body)).into_response()
}

/// Longest `Idempotency-Key` taken.
const MAX_KEY_LEN: usize = 255;

async fn submit(
    State(shared): State<Arc<Shared>>,
    Path(interface): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = shared.faults.next();
    if let Some(early) = faults::before(fault).await {
        return early;
    }
    let key = match headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::trim) {
        Some(k) if !k.is_empty() && k.len() <= MAX_KEY_LEN => k.to_owned(),
        _ => return json_error(StatusCode::BAD_REQUEST, "bad_request", Some("Idempotency-Key: is required")),
    };
    let taken = shared.take(&interface, &key, &body, "rest");
    let response = match &taken {
        Taken::Refused(detail) => json_error(StatusCode::UNPROCESSABLE_ENTITY, "rejected", Some(detail)),
        Taken::Accepted(received) | Taken::Replayed(received) => {
            let replay = matches!(taken, Taken::Replayed(_)) || fault == Some(Fault::DuplicateAck);
            let status = if replay { StatusCode::OK } else { StatusCode::CREATED };
            answer(&shared, status, received)
        }
    };
    faults::after(fault, response, b"{\"uketsuke_no\": ").await
}

/// The answer to a record taken: the 受付番号, or for a certificate request the certificate.
fn answer(shared: &Shared, status: StatusCode, received: &Received) -> Response {
    if shared.kind == SystemKind::Tax && received.interface == tax::REQUEST_INTERFACE {
        return match tax::certificate(shared, received) {
            Ok(data) => {
                let mut response =
                    (status, [(CONTENT_TYPE, "application/octet-stream")], data).into_response();
                if let Ok(reference) = HeaderValue::from_str(&received.reference) {
                    response.headers_mut().insert(HeaderName::from_static("uketsuke-no"), reference);
                }
                response
            }
            Err(detail) => json_error(StatusCode::UNPROCESSABLE_ENTITY, "rejected", Some(&detail)),
        };
    }
    (status, axum::Json(serde_json::json!({ "uketsuke_no": received.reference }))).into_response()
}
