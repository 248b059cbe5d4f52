//! The QR and OCR arms of `SubmitEvidence`: intake payloads into identity evidence, and their
//! refusals into statuses a counter app can act on.

use std::collections::HashMap;

use renkei_adapter_intake::{OcrError, QrError, VerifiedPreEntry};
use renkei_model::IdentityEvidence;
use renkei_proto::v1 as pb;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::GatewayState;
use super::convert::{basic_facts_to_proto, date_to_proto};
use super::status::invalid;

/// The applicant of a pre-entry payload, and the rest of the pre-entry for the counter app.
pub(super) fn qr_evidence(
    state: &GatewayState,
    qr: &pb::QrEvidence,
) -> Result<(IdentityEvidence, pb::PreEntry), Status> {
    if state.qr.is_empty() {
        return Err(Status::failed_precondition(
            "qr.payload: no pre-entry keys are configured in this gateway ([intake].qr_keys)",
        ));
    }
    let now = chrono::Utc::now().timestamp();
    let verified = state.qr.decode(&qr.payload, now).map_err(|e| qr_status(&e))?;
    Ok((verified.identity(), pre_entry_to_proto(&verified)))
}

/// The identity an OCR result states, with its uncertain fields flagged.
pub(super) fn ocr_evidence(state: &GatewayState, ocr: &pb::OcrEvidence) -> Result<IdentityEvidence, Status> {
    state.ocr.read(&ocr.json).map_err(|e| match e {
        OcrError::Invalid(errors) => invalid("ocr.json", errors),
        other => {
            let mut details = ErrorDetails::new();
            details.add_bad_request_violation("ocr.json", other.to_string());
            Status::with_error_details(Code::InvalidArgument, format!("ocr.json: {other}"), details)
        }
    })
}

fn qr_status(e: &QrError) -> Status {
    let mut details = ErrorDetails::with_error_info(e.reason(), "renkei.v1", HashMap::new());
    details.add_bad_request_violation("qr.payload", e.to_string());
    Status::with_error_details(Code::InvalidArgument, format!("qr.payload: {e}"), details)
}

fn pre_entry_to_proto(v: &VerifiedPreEntry) -> pb::PreEntry {
    let e = &v.entry;
    pb::PreEntry {
        life_event: life_event_to_proto(e.life_event) as i32,
        event_date: e.event_date.map(date_to_proto),
        new_address: e.new_address.as_ref().map(ToString::to_string).unwrap_or_default(),
        members: e
            .members
            .iter()
            .map(|m| pb::PreEntryMember {
                facts: Some(basic_facts_to_proto(&renkei_model::BasicFacts {
                    name: m.name.clone(),
                    name_kana: m.name_kana.clone(),
                    address: None,
                    birth_date: m.birth_date,
                    sex: m.sex,
                })),
                relationship: m.relationship.as_ref().map(ToString::to_string).unwrap_or_default(),
            })
            .collect(),
        answers: e.answers.clone(),
        expires_at: Some(prost_types::Timestamp { seconds: v.expires_at, nanos: 0 }),
    }
}

fn life_event_to_proto(e: renkei_model::LifeEvent) -> pb::LifeEvent {
    use renkei_model::LifeEvent as L;
    match e {
        L::MoveIn => pb::LifeEvent::MoveIn,
        L::MoveInFromAbroad => pb::LifeEvent::MoveInFromAbroad,
        L::MoveOut => pb::LifeEvent::MoveOut,
        L::MoveOutAbroad => pb::LifeEvent::MoveOutAbroad,
        L::MoveWithin => pb::LifeEvent::MoveWithin,
        L::Birth => pb::LifeEvent::Birth,
        L::Death => pb::LifeEvent::Death,
        L::Marriage => pb::LifeEvent::Marriage,
        L::Divorce => pb::LifeEvent::Divorce,
        L::HouseholdChange => pb::LifeEvent::HouseholdChange,
    }
}
