//! `AdminService.SubmitOnlineApplications`: a file of online application XML into the same
//! pipeline as the counter's applications.
//!
//! The file is read through its XML mapping (`renkei_adapter_intake::online`); the applications
//! it yields are routed and committed like SubmitApplications — work queue or outbox, one
//! transaction — in a session of the file's own, opened for the caller (the online intake's
//! service principal), under the file's name as the idempotency key. The session's id is made of
//! the caller and the file's name, so the same file sent again finds its session and key, and
//! no other caller can reach either. Refused applications are answered with their line and column; the others
//! are committed.

use renkei_adapter_intake::online::{OnlineIntake, Refusal, RefusalKind};
use renkei_model::{Rule, ValidationError};
use renkei_proto::v1 as pb;
use sha2::{Digest, Sha256};
use tonic::Status;

use renkei_auth::Principal;

use super::GatewayState;
use super::status::invalid_one;
use super::submit::{self, Unfit};
use crate::storage::SessionRow;

/// The counter of online sessions: there is none, and the access log names the channel.
const ONLINE_COUNTER: &str = "online";

/// The session of file `name` sent by `caller`.
fn session_id(caller: &Principal, name: &str) -> String {
    let digest = Sha256::digest(format!("{}\n{name}", caller.subject));
    format!("online-{}", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>())
}

pub(super) async fn submit_online_applications(
    state: &GatewayState,
    caller: &Principal,
    r: pb::SubmitOnlineApplicationsRequest,
) -> Result<pb::SubmitOnlineApplicationsResponse, Status> {
    let name = r.source_name.trim();
    if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(invalid_one(
            "source_name",
            ValidationError::at(
                "",
                Rule::Other("is required: the delivered file's name, at most 128 characters"),
            ),
        ));
    }
    let mappings = state.mappings.current();
    let mapping_id = Some(r.mapping_id.as_str()).filter(|m| !m.is_empty());
    let intake = OnlineIntake::new(&mappings, mapping_id, state.online_limits)
        .map_err(|e| Status::invalid_argument(format!("mapping_id: {e}")))?;
    let limit = state.online_limits.max_file_bytes;
    if r.document.len() as u64 > limit {
        return Err(Status::invalid_argument(format!(
            "document: the file is {} bytes; at most {limit} are accepted ([intake.online].max_file_bytes)",
            r.document.len()
        )));
    }
    let batch = intake.read(name, &r.document[..]);
    let mut refused = batch.refused;
    let mut new_apps = Vec::with_capacity(batch.applications.len());
    for online in batch.applications {
        let refuse = |field: String, rule: String| Refusal {
            kind: RefusalKind::Invalid,
            file: name.to_owned(),
            record: Some(online.record),
            line: online.line,
            column: online.column,
            field: Some(field),
            rule,
        };
        match submit::accept(state, mappings.catalog(), &online.application) {
            Ok(new) => new_apps.push((online.application.applicant.to_string(), new)),
            Err(Unfit::Invalid(errors)) => {
                refused.extend(errors.iter().map(|e| refuse(e.path.to_string(), e.rule.to_string())))
            }
            Err(Unfit::NoDestination(why)) => refused.push(refuse("procedure".into(), why)),
        }
    }
    refused.sort_by_key(|r| (r.line, r.column));
    let complete = !refused.iter().any(|r| r.kind.stops_file());
    if new_apps.is_empty() {
        return Ok(response(Vec::new(), refused, false, complete));
    }
    let session =
        SessionRow { id: session_id(caller, name), ..SessionRow::open(ONLINE_COUNTER, &caller.subject, "") };
    let mut hash = Sha256::new();
    hash.update(intake.mapping().id.to_string());
    hash.update([0]);
    hash.update(&r.document);
    let (rows, replayed) =
        submit::commit(state, &session, true, name, format!("{:x}", hash.finalize()), new_apps).await?;
    Ok(response(rows, refused, replayed, complete))
}

fn response(
    rows: Vec<crate::storage::submissions::SubmittedRow>,
    refused: Vec<Refusal>,
    replayed: bool,
    complete: bool,
) -> pb::SubmitOnlineApplicationsResponse {
    pb::SubmitOnlineApplicationsResponse {
        applications: rows.into_iter().map(submit::submitted_to_proto).collect(),
        refused: refused
            .into_iter()
            .map(|r| pb::OnlineRefusal {
                kind: r.kind.as_str().to_owned(),
                record: r.record.unwrap_or(0),
                line: r.line,
                column: r.column,
                field: r.field.unwrap_or_default(),
                rule: r.rule,
            })
            .collect(),
        replayed,
        complete,
    }
}
