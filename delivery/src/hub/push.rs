//! Push mode: the resident record sends its changes to `POST /hub/v1/changes` on the gateway's
//! HTTP listener, in the same shape its change feed answers (`{"changes": [{"seq": …, "jiyu": …,
//! "idou_date": …, "record": {…}}]}`), with `Authorization: Bearer <token>`.
//!
//! Each entry is read as a pulled one is ([`ResidentRecordClient::decode_change`]: the mapping
//! `resident-record/atena-diff` in force on the day it arrives). A batch is taken whole or not at all: the answer names the entry (by index and seq)
//! and the item of the first one that does not read, and nothing of the batch is kept. Entries
//! already taken are skipped, so a sender may resend after a lost answer; an entry after a gap
//! is refused with the seq expected next (409).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use renkei_adapter_resident_record::ResidentRecordClient;
use renkei_mappings::MappingSet;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Hub, HubError};
use renkei_store::StorageError;
use renkei_store::feed::JournalEntry;

/// Largest request body taken (a page of 1,000 changes is well under it).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Takes pushed changes into the hub's journal.
#[derive(Debug, Clone)]
pub struct PushIntake {
    hub: Arc<Hub>,
    token: Arc<str>,
}

/// What became of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// `added` entries were new; the journal now ends at `position`.
    Taken { added: usize, position: i64 },
}

#[derive(Deserialize)]
struct PushBody<'a> {
    #[serde(borrow)]
    changes: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Seq {
    seq: i64,
}

/// Why a push was refused, as the HTTP answer says it.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    error: &'static str,
    detail: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.error, "detail": self.detail });
        (self.status, axum::Json(body)).into_response()
    }
}

impl PushIntake {
    pub(super) fn new(hub: Arc<Hub>, token: String) -> Self {
        Self { hub, token: token.trim().into() }
    }

    /// The HTTP routes of push mode.
    pub fn router(self) -> Router {
        Router::new()
            .route("/hub/v1/changes", post(push))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
            .with_state(self)
    }

    /// Read and journal one pushed batch.
    pub async fn take(&self, body: &[u8]) -> Result<PushOutcome, HubError> {
        let entries = decode(&self.hub.mappings.current(), body)?;
        if self.hub.lease(super::SOURCE).await?.is_none() {
            return Err(HubError::Delivery {
                subscriber: super::SOURCE.into(),
                message: "another replica is taking the feed".into(),
            });
        }
        let (added, position) = self.hub.append(entries).await?;
        Ok(PushOutcome::Taken { added, position })
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(sent) = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        // Compare in time independent of where the first difference is.
        let (a, b) = (sent.trim().as_bytes(), self.token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

async fn push(State(intake): State<PushIntake>, headers: HeaderMap, body: Bytes) -> Response {
    if !intake.authorized(&headers) {
        return Refusal {
            status: StatusCode::UNAUTHORIZED,
            error: "unauthorized",
            detail: "Authorization: Bearer <the hub's push token> is required".into(),
        }
        .into_response();
    }
    match intake.take(&body).await {
        Ok(PushOutcome::Taken { added, position }) => {
            (StatusCode::OK, axum::Json(serde_json::json!({ "added": added, "position": position })))
                .into_response()
        }
        Err(e) => refusal(e).into_response(),
    }
}

fn refusal(e: HubError) -> Refusal {
    match e {
        HubError::Record { .. } => {
            Refusal { status: StatusCode::BAD_REQUEST, error: "bad_change", detail: e.to_string() }
        }
        HubError::Storage(StorageError::Gap { expected, got }) => Refusal {
            status: StatusCode::CONFLICT,
            error: "gap",
            detail: format!("seq {got} came before seq {expected}; send from seq {expected}"),
        },
        HubError::Delivery { .. } => Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "busy",
            detail: "another replica is taking the feed; send again".into(),
        },
        other => Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "unavailable",
            detail: other.to_string(),
        },
    }
}

/// Read a pushed batch into journal entries, all or nothing, each entry as a pulled one is read.
fn decode(set: &MappingSet, body: &[u8]) -> Result<Vec<JournalEntry>, HubError> {
    let bad = |seq: i64, message: String| HubError::Record { seq, message };
    let body: PushBody<'_> = serde_json::from_slice(body)
        .map_err(|e| bad(0, format!("the body is not {{\"changes\": [...]}}: {e}")))?;
    let diff = ResidentRecordClient::change_mapping(set).map_err(|e| bad(0, e.to_string()))?;
    let mut entries = Vec::with_capacity(body.changes.len());
    for (i, raw) in body.changes.iter().enumerate() {
        let seq =
            serde_json::from_str::<Seq>(raw.get()).map_err(|e| bad(0, format!("changes[{i}].seq: {e}")))?.seq;
        if seq < 1 {
            return Err(bad(seq, format!("changes[{i}].seq: must be 1 or more")));
        }
        let change =
            ResidentRecordClient::decode_change(&diff, raw.get().as_bytes(), &format!("changes[{i}]"))
                .map_err(|e| bad(seq, format!("changes[{i}]: {e}")))?;
        entries.push(super::journal_entry(set, &change));
    }
    Ok(entries)
}
