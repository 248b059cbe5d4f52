use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use prost::Message;
use renkei_adapter_resident_record::BasicFactsQuery;
use renkei_model::{
    ApplicationStatus, AssuranceLevel, CardKind, Date, EvidenceSource, IdentityEvidence, IndividualNumber,
    MojiText, Resident, Rule, ValidationError, ValidationErrors,
};
use renkei_proto::v1 as pb;
use renkei_proto::v1::counter_service_server::CounterService;
use sha2::{Digest, Sha256};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::info;

use super::convert::{self, basic_facts_from_proto, basic_facts_to_proto, date_from_proto, sex_from_proto};
use super::status::{self, invalid, invalid_one};
use super::submit::{self, Unfit};
use super::{GatewayState, guard};
use crate::storage::submissions;
use crate::storage::work_items;
use crate::storage::{AuditEntry, SessionRow, now_ms};

/// `CounterService`: what the counter app calls during a resident's visit.
#[derive(Debug, Clone)]
pub struct CounterApi {
    state: Arc<GatewayState>,
}

impl CounterApi {
    pub fn new(state: Arc<GatewayState>) -> Self {
        Self { state }
    }

    /// Audit that `residents` were shown in `session`, then convert them for the wire.
    async fn disclose(
        &self,
        session: &SessionRow,
        how: &str,
        residents: &[Resident],
    ) -> Result<Vec<pb::Resident>, Status> {
        let entries = residents
            .iter()
            .map(|r| {
                AuditEntry::new(
                    &session.id,
                    &session.staff_id,
                    "read_resident",
                    Some(r.atena_number.as_str()),
                    Some(how.to_owned()),
                )
            })
            .collect();
        self.state.audit(entries).await?;
        let today = Date::today();
        Ok(residents.iter().map(|r| convert::resident_to_proto(r, today)).collect())
    }
}

/// Every fact a claim carries, as the paths staff confirm.
fn claimed_fact_paths(facts: &renkei_model::BasicFacts) -> Vec<renkei_model::FieldPath> {
    let mut paths = vec!["name", "birth_date", "sex"];
    if facts.name_kana.is_some() {
        paths.insert(1, "name_kana");
    }
    if facts.address.is_some() {
        paths.push("address");
    }
    paths.into_iter().map(|p| renkei_model::FieldPath::field(p).under("facts")).collect()
}

const MAX_ID_LEN: usize = 64;
const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;

fn short_id(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        Err(ValidationError::at(field, Rule::Required))
    } else if value.chars().count() > max {
        Err(ValidationError::at(field, Rule::TooLong { max }))
    } else if value.chars().any(char::is_control) {
        Err(ValidationError::at(field, Rule::ControlCharacter))
    } else {
        Ok(())
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::SessionEvent, Status>> + Send>>;

#[tonic::async_trait]
impl CounterService for CounterApi {
    async fn open_session(
        &self,
        request: Request<pb::OpenSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let caller = guard::principal_of(&request)?;
        // The terminal is its client certificate's subject (mutual TLS), never the request's say.
        let terminal = caller.terminal.clone().unwrap_or_default();
        let r = request.into_inner();
        short_id("counter_id", &r.counter_id, MAX_ID_LEN).map_err(|e| invalid("", e.into()))?;
        let row = SessionRow::open(&r.counter_id, &caller.subject, &terminal);
        let stored = row.clone();
        let audit =
            AuditEntry::new(&row.id, &row.staff_id, "open_session", None, Some(row.counter_id.clone()));
        self.state
            .db
            .write(move |c| {
                stored.insert(c)?;
                AuditEntry::insert_all(c, &[audit])
            })
            .await
            .map_err(status::storage)?;
        info!(session = %row.id, counter = %row.counter_id, "session opened");
        Ok(Response::new(pb::Session {
            session_id: row.id,
            counter_id: row.counter_id,
            staff_id: row.staff_id,
            opened_at: Some(convert::ms_to_timestamp(row.opened_at_ms)),
            terminal_id: row.terminal_id,
        }))
    }

    async fn close_session(
        &self,
        request: Request<pb::CloseSessionRequest>,
    ) -> Result<Response<pb::CloseSessionResponse>, Status> {
        let caller = guard::principal_of(&request)?;
        let session = self.state.session(&caller, &request.into_inner().session_id).await?;
        let audit = AuditEntry::new(&session.id, &session.staff_id, "close_session", None, None);
        let id = session.id.clone();
        self.state
            .db
            .write(move |c| {
                SessionRow::close(c, &id, now_ms())?;
                AuditEntry::insert_all(c, &[audit])
            })
            .await
            .map_err(status::storage)?;
        self.state.events.forget(&session.id);
        info!(session = %session.id, "session closed");
        Ok(Response::new(pb::CloseSessionResponse {}))
    }

    async fn submit_evidence(
        &self,
        request: Request<pb::SubmitEvidenceRequest>,
    ) -> Result<Response<pb::SubmitEvidenceResponse>, Status> {
        use pb::submit_evidence_request::Evidence;
        let caller = guard::principal_of(&request)?;
        let r = request.into_inner();
        let session = self.state.session(&caller, &r.session_id).await?;
        let mut pre_entry = None;
        let identity = match r.evidence {
            None => return Err(invalid_one("evidence", ValidationError::new(Rule::Required))),
            Some(Evidence::Card(card)) => {
                let kind = match pb::CardKind::try_from(card.card) {
                    Ok(pb::CardKind::MyNumberCard) => CardKind::MyNumberCard,
                    Ok(pb::CardKind::DriversLicense) => CardKind::DriversLicense,
                    Ok(pb::CardKind::ResidenceCard) => CardKind::ResidenceCard,
                    Ok(pb::CardKind::Unspecified) => {
                        return Err(invalid_one("card.card", ValidationError::new(Rule::Required)));
                    }
                    Err(_) => {
                        return Err(invalid_one(
                            "card.card",
                            ValidationError::new(Rule::UnknownCode { table: "card kind" }),
                        ));
                    }
                };
                let facts =
                    basic_facts_from_proto(card.facts.as_ref()).map_err(|e| invalid("card.facts", e))?;
                // Facts the gateway's own reader took off the chip in this session (after the
                // resident's PIN) are high assurance; the same facts typed or relayed by a client
                // are a claim that staff confirm against the card.
                let visit = self.state.visit(&session.id).await?;
                match visit
                    .chip
                    .filter(|c| c.source == EvidenceSource::Card { card: kind } && c.facts == facts)
                {
                    Some(chip) => chip,
                    None => IdentityEvidence {
                        source: EvidenceSource::Card { card: kind },
                        assurance: AssuranceLevel::Low,
                        needs_confirmation: claimed_fact_paths(&facts),
                        facts,
                        individual_number: None,
                    },
                }
            }
            Some(Evidence::Manual(manual)) => {
                let facts =
                    basic_facts_from_proto(manual.facts.as_ref()).map_err(|e| invalid("manual.facts", e))?;
                IdentityEvidence {
                    source: EvidenceSource::Manual,
                    assurance: AssuranceLevel::Low,
                    facts,
                    individual_number: None,
                    needs_confirmation: Vec::new(),
                }
            }
            Some(Evidence::Qr(qr)) => {
                let (identity, rest) = super::intake::qr_evidence(&self.state, &qr)?;
                pre_entry = Some(rest);
                identity
            }
            Some(Evidence::Ocr(ocr)) => super::intake::ocr_evidence(&self.state, &ocr)?,
        };
        identity.validate().map_err(|e| invalid("evidence", e))?;
        let kept = identity.clone();
        self.state.update_visit(&session.id, move |v| v.evidence = Some(kept)).await?;
        let query = BasicFactsQuery {
            name: identity.facts.name.to_string(),
            birth_date: identity.facts.birth_date,
            // A document without sex (a driver's license, some OCR results) does not narrow.
            sex: Some(identity.facts.sex).filter(|s| *s != renkei_model::Sex::NotKnown),
            address: None,
        };
        let found = self.state.resident_record.search(&query).await.map_err(status::lookup)?;
        let candidates = self.disclose(&session, "evidence", &found).await?;
        Ok(Response::new(pb::SubmitEvidenceResponse {
            identity: Some(pb::IdentityEvidence {
                channel: match identity.source {
                    EvidenceSource::Card { .. } => "card",
                    EvidenceSource::Qr => "qr",
                    EvidenceSource::Ocr { .. } => "ocr",
                    EvidenceSource::Online => "online",
                    EvidenceSource::Manual => "manual",
                }
                .to_owned(),
                assurance: match identity.assurance {
                    AssuranceLevel::Low => pb::AssuranceLevel::Low,
                    AssuranceLevel::Substantial => pb::AssuranceLevel::Substantial,
                    AssuranceLevel::High => pb::AssuranceLevel::High,
                } as i32,
                facts: Some(basic_facts_to_proto(&identity.facts)),
                needs_confirmation: identity.needs_confirmation.iter().map(ToString::to_string).collect(),
            }),
            candidates,
            pre_entry,
        }))
    }

    async fn lookup_resident(
        &self,
        request: Request<pb::LookupResidentRequest>,
    ) -> Result<Response<pb::LookupResidentResponse>, Status> {
        use pb::lookup_resident_request::Key;
        let caller = guard::principal_of(&request)?;
        let r = request.into_inner();
        let session = self.state.session(&caller, &r.session_id).await?;
        let rr = &self.state.resident_record;
        let (how, found): (&str, Vec<Resident>) = match r.key {
            None => {
                return Err(invalid_one(
                    "key",
                    ValidationError::new(Rule::Other(
                        "one of atena_number, individual_number or basic_facts is required",
                    )),
                ));
            }
            Some(Key::AtenaNumber(n)) => {
                let number = convert::atena_required(&n).map_err(|e| invalid_one("atena_number", e))?;
                let found = rr.by_atena_number(&number).await.map_err(status::lookup)?;
                ("by atena_number", Vec::from_iter(found))
            }
            Some(Key::IndividualNumber(n)) => {
                // The number is parsed and sent on; it is never echoed, logged or stored.
                let number = IndividualNumber::parse(&n).map_err(|e| invalid_one("individual_number", e))?;
                let found = rr.by_individual_number(&number).await.map_err(status::lookup)?;
                ("by individual_number", Vec::from_iter(found))
            }
            Some(Key::BasicFacts(f)) => {
                let mut errors = ValidationErrors::new();
                let name = errors.check("name", MojiText::required(f.name.as_str()));
                let birth_date = errors.check("birth_date", date_from_proto(f.birth_date.as_ref()));
                let sex = errors.check("sex", sex_from_proto(f.sex));
                let (Some(name), Some(birth_date), Some(sex)) = (name, birth_date, sex) else {
                    return Err(invalid("basic_facts", errors));
                };
                let query = BasicFactsQuery {
                    name: name.to_string(),
                    birth_date,
                    sex,
                    address: Some(f.address).filter(|a| !a.trim().is_empty()),
                };
                ("by basic_facts", rr.search(&query).await.map_err(status::lookup)?)
            }
        };
        if found.is_empty() {
            return Err(Status::not_found(format!("no resident found {how}")));
        }
        let residents = self.disclose(&session, how, &found).await?;
        let mut kept_household = None;
        let household = match found.first().filter(|_| r.include_household) {
            Some(first) => match rr.household(&first.household_number).await.map_err(status::lookup)? {
                Some(h) => {
                    let members = self.disclose(&session, "household", &h.members).await?;
                    let number = h.household_number.to_string();
                    kept_household = Some(h);
                    Some(pb::Household { household_number: number, members })
                }
                None => None,
            },
            None => None,
        };
        // One resident found: the visit is about them from now on; later steps read them from
        // the session, not from the resident record again.
        if let [resident] = found.as_slice() {
            let resident = resident.clone();
            self.state
                .update_visit(&session.id, move |v| {
                    v.resident = Some(resident);
                    v.household = kept_household;
                })
                .await?;
        }
        Ok(Response::new(pb::LookupResidentResponse { residents, household }))
    }

    async fn plan_procedures(
        &self,
        request: Request<pb::PlanProceduresRequest>,
    ) -> Result<Response<pb::PlanProceduresResponse>, Status> {
        super::planning::plan_procedures(&self.state, &*guard::principal_of(&request)?, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn prefill_applications(
        &self,
        request: Request<pb::PrefillApplicationsRequest>,
    ) -> Result<Response<pb::PrefillApplicationsResponse>, Status> {
        super::planning::prefill_applications(
            &self.state,
            &*guard::principal_of(&request)?,
            request.into_inner(),
        )
        .await
        .map(Response::new)
    }

    async fn render_guide(
        &self,
        request: Request<pb::RenderGuideRequest>,
    ) -> Result<Response<pb::RenderedDocument>, Status> {
        super::planning::render_guide(&self.state, &*guard::principal_of(&request)?, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn render_form(
        &self,
        request: Request<pb::RenderFormRequest>,
    ) -> Result<Response<pb::RenderedDocument>, Status> {
        super::planning::render_form(&self.state, &*guard::principal_of(&request)?, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn render_receipt(
        &self,
        request: Request<pb::RenderReceiptRequest>,
    ) -> Result<Response<pb::RenderedDocument>, Status> {
        super::planning::render_receipt(&self.state, &*guard::principal_of(&request)?, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn submit_applications(
        &self,
        request: Request<pb::SubmitApplicationsRequest>,
    ) -> Result<Response<pb::SubmitApplicationsResponse>, Status> {
        let caller = guard::principal_of(&request)?;
        let r = request.into_inner();
        let session = self.state.session(&caller, &r.session_id).await?;
        short_id("idempotency_key", &r.idempotency_key, MAX_IDEMPOTENCY_KEY_LEN)
            .map_err(|e| invalid("", e.into()))?;
        if r.applications.is_empty() {
            return Err(invalid_one("applications", ValidationError::new(Rule::Required)));
        }
        let mappings = self.state.mappings.current();
        let visit = self.state.visit(&session.id).await?;
        let resident = visit.resident.as_ref().map(|r| &r.atena_number);
        let mut errors = ValidationErrors::new();
        let mut new_apps = Vec::with_capacity(r.applications.len());
        for (i, draft) in r.applications.iter().enumerate() {
            let at = format!("applications[{i}]");
            let app =
                match convert::draft_to_application(draft, visit.forms.get(&draft.procedure_id), resident) {
                    Ok(app) => app,
                    Err(e) => {
                        errors.extend_under(&at, e);
                        continue;
                    }
                };
            match submit::accept(&self.state, mappings.catalog(), &app) {
                Ok(new) => new_apps.push((app.applicant.to_string(), new)),
                Err(Unfit::Invalid(e)) => errors.extend_under(&at, e),
                Err(Unfit::NoDestination(why)) => {
                    return Err(Status::failed_precondition(format!("{at}.procedure_id: {why}")));
                }
            }
        }
        if !errors.is_empty() {
            return Err(invalid("", errors));
        }

        let hash = format!("{:x}", Sha256::digest(r.encode_to_vec()));
        let (rows, replayed) =
            submit::commit(&self.state, &session, false, &r.idempotency_key, hash, new_apps).await?;
        Ok(Response::new(pb::SubmitApplicationsResponse {
            applications: rows.into_iter().map(submit::submitted_to_proto).collect(),
            replayed,
        }))
    }

    type WatchSessionStream = EventStream;

    async fn watch_session(
        &self,
        request: Request<pb::WatchSessionRequest>,
    ) -> Result<Response<Self::WatchSessionStream>, Status> {
        let caller = guard::principal_of(&request)?;
        let session = self.state.session(&caller, &request.into_inner().session_id).await?;
        // Subscribe before reading the current state, so nothing falls between the two. The
        // watch is held by the stream's task: when it ends, so does the subscription.
        let mut live = self.state.events.subscribe(&session.id);
        self.state.events.bind_counter(&session.id, &session.counter_id);
        let id = session.id.clone();
        let (current, work) = self
            .state
            .db
            .read(move |c| {
                Ok((submissions::applications_of_session(c, &id)?, work_items::of_session(c, &id)?))
            })
            .await
            .map_err(status::storage)?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            for current in current {
                let row = current.application;
                // An application in the backyard work queue shows where it is there.
                if let Some(item) = work.iter().find(|w| w.application_id == row.id)
                    && (current.attempts == 0 || row.status == ApplicationStatus::Returned.as_str())
                {
                    let event = convert::session_event_to_proto(&super::work_queue::event(item));
                    if tx.send(Ok(event)).await.is_err() {
                        return;
                    }
                    continue;
                }
                let event = pb::SessionEvent {
                    at: Some(convert::now_timestamp()),
                    event: Some(pb::session_event::Event::Delivery(pb::DeliveryStatusChanged {
                        application_id: row.id,
                        procedure_id: row.procedure_id,
                        target_system: row.target_system,
                        status: convert::status_from_str(&row.status) as i32,
                        attempts: current.attempts as u32,
                        receipt: current.receipt.unwrap_or_default(),
                        last_error: current.last_error.unwrap_or_default(),
                    })),
                };
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
            }
            super::forward_live(
                &mut live.receiver,
                tx,
                |event| convert::session_event_to_proto(&event),
                "session events",
            )
            .await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
