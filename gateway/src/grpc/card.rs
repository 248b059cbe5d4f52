use std::pin::Pin as StdPin;
use std::sync::Arc;

use futures::Stream;
use renkei_adapter_card::pcsc::ReaderEvent;
use renkei_adapter_card::{CardError, Pin, ReadRequest};
use renkei_auth::Permission;
use renkei_model::{CardKind, ValidationError};
use renkei_proto::v1 as pb;
use renkei_proto::v1::card_service_server::CardService;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::info;

use super::convert::basic_facts_to_proto;
use super::status::invalid_one;
use super::{GatewayState, guard};
use crate::storage::AuditEntry;

/// `CardService`: readers at the counters, through pcscd.
#[derive(Debug, Clone)]
pub struct CardApi {
    state: Arc<GatewayState>,
}

impl CardApi {
    pub fn new(state: Arc<GatewayState>) -> Self {
        Self { state }
    }
}

/// The status for a card error: a code that says what the counter app can do, the message, and a
/// google.rpc.ErrorInfo (domain `renkei.v1`) whose reason (`WRONG_PIN`, `CARD_REMOVED`, …) a
/// program can match; a wrong PIN carries `tries_left` in its metadata.
pub(super) fn card_status(e: &CardError) -> Status {
    let code = match e {
        CardError::ServiceUnavailable(_) | CardError::Transport(_) => Code::Unavailable,
        CardError::NoReader | CardError::ReaderNotFound { .. } => Code::NotFound,
        CardError::WrongPin { .. } => Code::Unauthenticated,
        CardError::Removed => Code::Aborted,
        CardError::MalformedTlv { .. } | CardError::BadField { .. } => Code::DataLoss,
        _ => Code::FailedPrecondition,
    };
    let mut metadata = std::collections::HashMap::new();
    if let CardError::WrongPin { tries_left } = e {
        metadata.insert("tries_left".to_owned(), tries_left.to_string());
    }
    let details = ErrorDetails::with_error_info(e.reason(), "renkei.v1", metadata);
    Status::with_error_details(code, e.to_string(), details)
}

fn card_kind_to_proto(kind: CardKind) -> pb::CardKind {
    match kind {
        CardKind::MyNumberCard => pb::CardKind::MyNumberCard,
        CardKind::DriversLicense => pb::CardKind::DriversLicense,
        CardKind::ResidenceCard => pb::CardKind::ResidenceCard,
    }
}

fn reader_event_to_proto(event: &ReaderEvent) -> pb::ReaderEvent {
    pb::ReaderEvent { reader: event.reader().to_owned(), kind: event.kind().to_owned() }
}

#[tonic::async_trait]
impl CardService for CardApi {
    type WatchReadersStream = StdPin<Box<dyn Stream<Item = Result<pb::ReaderEvent, Status>> + Send>>;

    async fn watch_readers(
        &self,
        _request: Request<pb::WatchReadersRequest>,
    ) -> Result<Response<Self::WatchReadersStream>, Status> {
        let (snapshot, mut live) = self.state.cards.subscribe();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            for event in &snapshot {
                if tx.send(Ok(reader_event_to_proto(event))).await.is_err() {
                    return;
                }
            }
            super::forward_live(&mut live, tx, |e| reader_event_to_proto(&e), "reader events").await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn read_card(
        &self,
        request: Request<pb::ReadCardRequest>,
    ) -> Result<Response<pb::ReadCardResponse>, Status> {
        let caller = guard::principal_of(&request)?;
        let r = request.into_inner();
        let session = self.state.session(&caller, &r.session_id).await?;
        let pin = match r.pin.as_str() {
            "" => None,
            text => Some(Pin::parse(text).map_err(|e| invalid_one("pin", e))?),
        };
        if r.read_individual_number && !caller.allows(Permission::ResidentReadIndividualNumber) {
            return Err(Status::permission_denied(
                "read_individual_number: needs the permission resident.read_individual_number, which the \
                 caller's groups do not grant",
            ));
        }
        let reader = Some(r.reader).filter(|n| !n.is_empty());
        if let Some(name) = &reader
            && name.chars().any(char::is_control)
        {
            return Err(invalid_one("reader", ValidationError::new(renkei_model::Rule::ControlCharacter)));
        }
        let request = ReadRequest {
            pin,
            staff_confirmed_last_try: r.staff_confirmed_last_try,
            read_individual_number: r.read_individual_number,
        };
        let (reading, apdus) =
            self.state.cards.read(reader.clone(), request).await.map_err(|e| card_status(&e))?;
        let kind = card_kind_to_proto(reading.card);
        if reading.facts.is_some() {
            let mut audit = vec![AuditEntry::new(
                &session.id,
                &session.staff_id,
                "read_card",
                None,
                Some(format!("{kind:?}")),
            )];
            if reading.individual_number.is_some() {
                audit.push(AuditEntry::new(
                    &session.id,
                    &session.staff_id,
                    "read_individual_number",
                    None,
                    None,
                ));
            }
            self.state.audit(audit).await?;
            // Read by the gateway's own reader after the resident's PIN: the visit keeps it as
            // high-assurance evidence (without the individual number).
            let chip = renkei_model::IdentityEvidence {
                source: renkei_model::EvidenceSource::Card { card: reading.card },
                assurance: renkei_model::AssuranceLevel::High,
                facts: reading.facts.clone().expect("checked above"),
                individual_number: None,
                needs_confirmation: reading.needs_confirmation.clone(),
            };
            self.state.update_visit(&session.id, move |v| v.chip = Some(chip)).await?;
        }
        info!(session = %session.id, card = ?kind, apdus, facts = reading.facts.is_some(), "card read");
        Ok(Response::new(pb::ReadCardResponse {
            card: kind as i32,
            facts: reading.facts.as_ref().map(basic_facts_to_proto),
            pin_tries_left: u32::from(reading.pin_tries_left),
            needs_confirmation: reading.needs_confirmation.iter().map(ToString::to_string).collect(),
            individual_number: reading.individual_number.map(|n| n.expose().to_owned()).unwrap_or_default(),
        }))
    }
}
