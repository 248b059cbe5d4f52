//! Committing applications, whichever channel they came through (the counter's
//! SubmitApplications, an online application file): where each one goes — its procedure's
//! backyard work queue or its core system's outbox — and the one transaction that commits them
//! under an idempotency key.

use renkei_mappings::Catalog;
use renkei_model::{Application, IndividualNumber, Processing, Rule, ValidationError, ValidationErrors};
use renkei_proto::v1 as pb;
use tonic::Status;
use tracing::info;

use super::{GatewayState, status};
use crate::storage::submissions::{self, NewApplication, SubmissionOutcome, SubmittedRow};
use crate::storage::{AuditEntry, SessionRow, StorageError};

/// Why an application cannot be committed.
#[derive(Debug)]
pub(crate) enum Unfit {
    /// The application breaks the model's or its procedure's rules (paths relative to it).
    Invalid(ValidationErrors),
    /// It is valid, but this gateway has nowhere to send it (relative to `procedure_id`).
    NoDestination(String),
}

/// Accept `app`: check it against its procedure and say where it goes (its destination).
pub(crate) fn accept(
    state: &GatewayState,
    catalog: &Catalog,
    app: &Application,
) -> Result<NewApplication, Unfit> {
    let Some(def) = catalog.get(&app.procedure) else {
        return Err(Unfit::Invalid(
            ValidationError::at("procedure_id", Rule::UnknownCode { table: "procedure" }).into(),
        ));
    };
    app.validate(&def.required_fields(app.life_event)).map_err(Unfit::Invalid)?;
    // Only the form's fields, and an individual number only where the form declares one.
    let mut errors = ValidationErrors::new();
    for (name, value) in &app.fields {
        let rule = match def.field(name) {
            None => Rule::NotOnForm,
            Some(field) if !field.individual_number && IndividualNumber::appears_in(value.value.as_str()) => {
                Rule::IndividualNumberNotDeclared
            }
            Some(_) => continue,
        };
        errors.push(ValidationError::at(&format!("fields.{name}"), rule));
    }
    if !errors.is_empty() {
        return Err(Unfit::Invalid(errors));
    }
    // Procedures processed at the backyard center go to its work queue; the center delivers
    // them on to their core system, if any, when it completes them.
    let backyard = def.processing == Processing::BackyardCenter;
    let target = match def.target_system.clone() {
        Some(target) if backyard || state.systems.contains_key(&target) => target,
        None if backyard => String::new(),
        Some(target) => {
            return Err(Unfit::NoDestination(format!(
                "its core system {target:?} is not configured in this gateway"
            )));
        }
        None => return Err(Unfit::NoDestination(format!("{} is not delivered to a core system", def.id))),
    };
    let payload = serde_json::to_string(app).map_err(|e| Unfit::NoDestination(e.to_string()))?;
    Ok(NewApplication {
        procedure_id: def.id.to_string(),
        target_system: target,
        payload,
        pattern: i32::from(def.pattern()),
        fields_total: app.fields.len() as i32,
        fields_prefilled: app.prefilled_count() as i32,
        work_department: backyard.then(|| def.department.clone()),
        traceparent: renkei_delivery::trace::traceparent(&tracing::Span::current()),
    })
}

/// Commit `apps` (each with its applicant's 宛名番号, for the access log) under
/// `(session, key)`, or find what that key committed before: `(rows, replayed)`. With
/// `open_session` the session row is created in the same transaction when it does not exist
/// (channels without a counter session). A key reused for other content is ALREADY_EXISTS.
pub(crate) async fn commit(
    state: &GatewayState,
    session: &SessionRow,
    open_session: bool,
    key: &str,
    request_sha256: String,
    apps: Vec<(String, NewApplication)>,
) -> Result<(Vec<SubmittedRow>, bool), Status> {
    let audit: Vec<AuditEntry> = apps
        .iter()
        .map(|(applicant, app)| {
            AuditEntry::new(
                &session.id,
                &session.staff_id,
                "submit_application",
                Some(applicant),
                Some(app.procedure_id.clone()),
            )
        })
        .collect();
    let apps: Vec<NewApplication> = apps.into_iter().map(|(_, app)| app).collect();
    let run = || {
        let (session, key, hash, apps, audit) =
            (session.clone(), key.to_owned(), request_sha256.clone(), apps.clone(), audit.clone());
        let keys = state.db.keys().clone();
        state.db.write(move |c| {
            if open_session && SessionRow::find(c, &session.id)?.is_none() {
                session.insert(c)?;
            }
            let outcome = submissions::submit(c, &keys, &session.id, &key, &hash, &apps)?;
            if matches!(outcome, SubmissionOutcome::Committed(_)) {
                AuditEntry::insert_all(c, &audit)?;
            }
            Ok(outcome)
        })
    };
    let outcome = match run().await {
        // Two replicas committing the same key at once: the loser finds the winner's rows.
        Err(StorageError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ))) => run().await,
        other => other,
    }
    .map_err(status::storage)?;
    match outcome {
        SubmissionOutcome::Committed(rows) => {
            state.delivery_wakeup.notify_waiters();
            info!(session = %session.id, applications = rows.len(), "applications committed");
            Ok((rows, false))
        }
        SubmissionOutcome::Replayed(rows) => Ok((rows, true)),
        SubmissionOutcome::KeyReused => Err(Status::already_exists(
            "idempotency_key: already used in this session for a different submission",
        )),
    }
}

/// A committed application as the API answers with it.
pub(crate) fn submitted_to_proto(row: SubmittedRow) -> pb::SubmittedApplication {
    pb::SubmittedApplication {
        application_id: row.id,
        procedure_id: row.procedure_id,
        status: super::convert::status_from_str(&row.status) as i32,
        target_system: row.target_system,
    }
}
