//! Committing a SubmitApplications call: the submission, its applications and their outbox rows
//! in one transaction, keyed by the client's idempotency key.

use diesel::prelude::*;

use super::deliveries::insert_pending;
use super::schema::{applications, deliveries, submissions};
use super::work_items::{self, WorkState};
use super::{AnyConnection, Keyring, StorageError, now_ms};

/// The sealed column an application's body is kept in ([`crate::sealed`]).
pub const PAYLOAD: &str = "applications.payload";

/// An application ready to be committed.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub procedure_id: String,
    /// Empty for an application keyed in by hand at the backyard center.
    pub target_system: String,
    /// The canonical application as JSON.
    pub payload: String,
    /// Pattern 1–4 of the procedure.
    pub pattern: i32,
    /// Fields on the form, and how many renkei filled (not written by hand).
    pub fields_total: i32,
    pub fields_prefilled: i32,
    /// Set for procedures processed at the backyard center: the owning department, whose work
    /// queue the application goes to instead of the outbox.
    pub work_department: Option<String>,
    /// The W3C trace context of the call committing it; its delivery attempts continue it.
    pub traceparent: Option<String>,
}

/// An application as committed.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = applications)]
pub struct SubmittedRow {
    pub id: String,
    pub procedure_id: String,
    pub target_system: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmissionOutcome {
    /// Committed now.
    Committed(Vec<SubmittedRow>),
    /// The key was seen before with the same request: the first submission's applications.
    Replayed(Vec<SubmittedRow>),
    /// The key was seen before with a different request.
    KeyReused,
}

#[derive(Insertable)]
#[diesel(table_name = submissions)]
struct SubmissionInsert<'a> {
    session_id: &'a str,
    idempotency_key: &'a str,
    request_sha256: &'a str,
    created_at_ms: i64,
}

#[derive(Insertable)]
#[diesel(table_name = applications)]
struct ApplicationInsert<'a> {
    id: &'a str,
    session_id: &'a str,
    idempotency_key: &'a str,
    position: i32,
    procedure_id: &'a str,
    target_system: &'a str,
    payload: &'a str,
    status: &'a str,
    created_at_ms: i64,
    updated_at_ms: i64,
    pattern: i32,
    fields_total: i32,
    fields_prefilled: i32,
}

/// Commit `apps` under `(session_id, key)` — or find what that key committed before. Runs inside
/// the caller's transaction (see `Db::write`), so the submission, its applications and their
/// deliveries are committed together or not at all.
pub fn submit(
    conn: &mut AnyConnection,
    keys: &Keyring,
    session_id: &str,
    key: &str,
    request_sha256: &str,
    apps: &[NewApplication],
) -> Result<SubmissionOutcome, StorageError> {
    let previous: Option<String> = submissions::table
        .find((session_id, key))
        .select(submissions::request_sha256)
        .first(conn)
        .optional()?;
    if let Some(previous) = previous {
        if previous != request_sha256 {
            return Ok(SubmissionOutcome::KeyReused);
        }
        return Ok(SubmissionOutcome::Replayed(applications_of(conn, session_id, key)?));
    }
    let now = now_ms();
    diesel::insert_into(submissions::table)
        .values(SubmissionInsert { session_id, idempotency_key: key, request_sha256, created_at_ms: now })
        .execute(conn)?;
    for (position, app) in apps.iter().enumerate() {
        let application_id = uuid::Uuid::now_v7().to_string();
        let payload = keys.seal(PAYLOAD, &app.payload)?;
        diesel::insert_into(applications::table)
            .values(ApplicationInsert {
                id: &application_id,
                session_id,
                idempotency_key: key,
                position: position as i32,
                procedure_id: &app.procedure_id,
                target_system: &app.target_system,
                payload: &payload,
                status: renkei_model::ApplicationStatus::Submitted.as_str(),
                created_at_ms: now,
                updated_at_ms: now,
                pattern: app.pattern,
                fields_total: app.fields_total,
                fields_prefilled: app.fields_prefilled,
            })
            .execute(conn)?;
        match &app.work_department {
            Some(department) => work_items::insert(
                conn,
                &work_items::NewWorkItem {
                    id: &uuid::Uuid::now_v7().to_string(),
                    application_id: &application_id,
                    session_id,
                    procedure_id: &app.procedure_id,
                    department,
                    state: WorkState::Queued.as_str(),
                    created_at_ms: now,
                    updated_at_ms: now,
                },
            )?,
            None => {
                insert_pending(conn, &application_id, &app.target_system, now, app.traceparent.as_deref())?
            }
        }
    }
    Ok(SubmissionOutcome::Committed(applications_of(conn, session_id, key)?))
}

fn applications_of(
    conn: &mut AnyConnection,
    session_id: &str,
    key: &str,
) -> Result<Vec<SubmittedRow>, StorageError> {
    Ok(applications::table
        .filter(applications::session_id.eq(session_id))
        .filter(applications::idempotency_key.eq(key))
        .order(applications::position)
        .select(SubmittedRow::as_select())
        .load(conn)?)
}

/// An application of a session with where its delivery stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionApplication {
    pub application: SubmittedRow,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub receipt: Option<String>,
}

/// The applications of a session with their deliveries (none yet for one in a work queue),
/// oldest first.
pub fn applications_of_session(
    conn: &mut AnyConnection,
    session_id: &str,
) -> Result<Vec<SessionApplication>, StorageError> {
    // (application, delivery attempts, last error, receipt): the delivery columns are null for an
    // application still in a work queue.
    type Row = (SubmittedRow, Option<i32>, Option<String>, Option<String>);
    let rows: Vec<Row> = applications::table
        .left_join(deliveries::table)
        .filter(applications::session_id.eq(session_id))
        .order((applications::created_at_ms, applications::position))
        .select((
            SubmittedRow::as_select(),
            deliveries::attempts.nullable(),
            deliveries::last_error.nullable(),
            deliveries::receipt.nullable(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(application, attempts, last_error, receipt)| SessionApplication {
            application,
            attempts: attempts.unwrap_or(0),
            last_error,
            receipt,
        })
        .collect())
}

/// The application `id` as committed (renkei's canonical model, provenance and all).
pub fn committed_application(
    conn: &mut AnyConnection,
    keys: &Keyring,
    id: &str,
) -> Result<Option<renkei_model::Application>, StorageError> {
    let payload: Option<String> =
        applications::table.find(id).select(applications::payload).first(conn).optional()?;
    payload
        .map(|p| {
            serde_json::from_str(&keys.open(PAYLOAD, &p)?)
                .map_err(|e| StorageError::Corrupt(format!("applications.payload: {e}")))
        })
        .transpose()
}
