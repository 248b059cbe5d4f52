//! The NHI system's member lookup: `GET /api/v1/member/{宛名番号}` → one `nhi/member` record
//! (fixed-length Shift_JIS) of the synthetic resident, or 404.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use renkei_mappings::{CanonicalRecord, Report};

use super::{Shared, SystemKind, json_error};
use crate::faults;

/// Bytes a malformed answer carries: not Shift_JIS (0x82 needs a trail byte), and short.
const MALFORMED: &[u8] = b"\x82 broken";

pub(super) async fn member(State(shared): State<Arc<Shared>>, Path(atena_no): Path<String>) -> Response {
    if shared.kind != SystemKind::Nhi {
        return json_error(StatusCode::NOT_FOUND, "not_found", None);
    }
    let fault = shared.faults.next();
    if let Some(early) = faults::before(fault).await {
        return early;
    }
    let response = match answer(&shared, &atena_no) {
        Ok(Some(body)) => {
            (StatusCode::OK, [(CONTENT_TYPE, "application/octet-stream")], body).into_response()
        }
        Ok(None) => json_error(StatusCode::NOT_FOUND, "not_found", None),
        Err(detail) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", Some(&detail)),
    };
    faults::after(fault, response, MALFORMED).await
}

fn answer(shared: &Shared, atena_no: &str) -> Result<Option<Vec<u8>>, String> {
    let Some(resident) = shared.residents.get(atena_no) else { return Ok(None) };
    let mapping = shared.mapping("member").ok_or("member: no such interface")?;
    let canonical = CanonicalRecord::from_resident(mapping.schema(), resident);
    let mut record = mapping.new_system();
    mapping.to_system(&canonical, &mut record, &mut Report::default()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    mapping.encode(&record, &mut out).map_err(|e| e.to_string())?;
    out.extend_from_slice(mapping.record_separator.bytes());
    Ok(Some(out))
}
