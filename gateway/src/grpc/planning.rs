//! PlanProcedures, PrefillApplications and the printed documents (guide, form, receipt): the
//! handlers' work, over planning and prefill (`renkei_mappings::{planning, prefill}`) and renkei-documents.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use renkei_documents::{FilledForm, Font, FormLine, Guide, GuideItem, Receipt, Rendered};
use renkei_mappings::{MappingSet, ProcedureDef};
use renkei_model::{
    Acceptance, AssuranceLevel, AtenaNumber, CardKind, Date, EvidenceSource, Household, IdentityEvidence,
    LifeEvent, MojiText, Provenance, Resident, Rule, ValidationError, ValidationErrors,
};
use renkei_proto::v1 as pb;
use tonic::Status;

use renkei_auth::Principal;

use super::GatewayState;
use super::convert::{self, basic_facts_from_proto, life_event_from_proto, provenance_to_proto};
use super::status::{self, invalid, invalid_one};
use crate::config::DocumentsConfig;
use crate::storage::{AuditEntry, PrefilledForm, SessionRow, Visit};
use renkei_mappings::planning::{self, Plan, PlanError};
use renkei_mappings::prefill::{self, Sources};

/// The documents' settings and font, read once on first use (the font file is large, and a
/// gateway that never prints should not need it).
pub struct Documents {
    config: DocumentsConfig,
    font: OnceLock<Result<Font, String>>,
}

impl std::fmt::Debug for Documents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Documents").field("font", &self.config.font).finish()
    }
}

impl Documents {
    pub fn new(config: DocumentsConfig) -> Documents {
        Documents { config, font: OnceLock::new() }
    }

    fn font(&self) -> Result<&Font, Status> {
        self.font
            .get_or_init(|| Font::load(&self.config.font).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Status::failed_precondition(format!("documents cannot be made: {e}")))
    }
}

/// The resident `atena` and their household as the resident record holds them. A resident
/// whose household the record does not return is a household of one.
async fn resident_and_household(
    state: &GatewayState,
    atena: &AtenaNumber,
    field: &str,
) -> Result<(Resident, Household), Status> {
    let rr = &state.resident_record;
    let resident = rr
        .by_atena_number(atena)
        .await
        .map_err(status::lookup)?
        .ok_or_else(|| Status::not_found(format!("{field}: no resident has this 宛名番号")))?;
    let household = household_of(state, &resident).await?;
    Ok((resident, household))
}

/// The resident a visit step is about, and their household: taken from the session when the
/// visit holds them (a member of the household looked up counts), read from the resident record
/// once otherwise and kept. `atena` empty means the resident the visit looked up. The visit is
/// returned as it was read, for what else the step takes from it.
async fn visit_resident(
    state: &GatewayState,
    session: &SessionRow,
    atena: &str,
    field: &str,
) -> Result<(Resident, Household, Visit), Status> {
    let visit = state.visit(&session.id).await?;
    let wanted = if atena.is_empty() {
        match &visit.resident {
            Some(r) => r.atena_number.clone(),
            None => {
                return Err(invalid_one(
                    field,
                    ValidationError::new(Rule::Other(
                        "is required until LookupResident has found the visit's resident",
                    )),
                ));
            }
        }
    } else {
        convert::atena_required(atena).map_err(|e| invalid_one(field, e))?
    };
    if let Some(household) = &visit.household
        && let Some(member) = household.members.iter().find(|m| m.atena_number == wanted)
    {
        return Ok((member.clone(), household.clone(), visit));
    }
    if let Some(resident) =
        visit.resident.as_ref().filter(|r| r.atena_number == wanted && visit.household.is_none())
    {
        // Looked up without the household: read it once, now.
        let household = household_of(state, resident).await?;
        let kept = household.clone();
        state.update_visit(&session.id, move |v| v.household = Some(kept)).await?;
        return Ok((resident.clone(), household, visit));
    }
    let (resident, household) = resident_and_household(state, &wanted, field).await?;
    let (r, h) = (resident.clone(), household.clone());
    state
        .update_visit(&session.id, move |v| {
            v.resident = Some(r);
            v.household = Some(h);
        })
        .await?;
    Ok((resident, household, visit))
}

/// `resident`'s household as the resident record holds it; a household of one when the record
/// does not list them in it.
async fn household_of(state: &GatewayState, resident: &Resident) -> Result<Household, Status> {
    match state.resident_record.household(&resident.household_number).await.map_err(status::lookup)? {
        Some(h) if h.members.iter().any(|m| m.atena_number == resident.atena_number) => Ok(h),
        _ => Ok(Household {
            household_number: resident.household_number.clone(),
            members: vec![resident.clone()],
        }),
    }
}

fn plan_error(e: PlanError) -> Status {
    match e {
        PlanError::Answers(errors) => invalid("", errors),
        PlanError::SubjectNotInHousehold => Status::failed_precondition(
            "atena_number: the resident record does not list this resident in their household",
        ),
        rule @ PlanError::Rule { .. } => Status::failed_precondition(rule.to_string()),
    }
}

fn required_event(value: i32) -> Result<LifeEvent, Status> {
    life_event_from_proto(value)
        .and_then(|e| e.ok_or(ValidationError::new(Rule::Required)))
        .map_err(|e| invalid_one("life_event", e))
}

async fn audit(
    state: &GatewayState,
    session: &SessionRow,
    action: &str,
    subject: &AtenaNumber,
    detail: String,
) -> Result<(), Status> {
    state
        .audit(vec![AuditEntry::new(
            &session.id,
            &session.staff_id,
            action,
            Some(subject.as_str()),
            Some(detail),
        )])
        .await
}

/// Where the resident goes for `def`.
fn window(def: &ProcedureDef) -> String {
    match (&def.window, def.acceptance) {
        (Some(w), _) => w.clone(),
        (None, Acceptance::OneStop) => "市民課 総合窓口".to_owned(),
        (None, Acceptance::Department) => def.department.clone(),
    }
}

/// The pattern in words, for the guide.
fn handling(def: &ProcedureDef) -> &'static str {
    match def.pattern() {
        1 => "総合窓口で受付・事務センターで処理（パターン1）",
        2 => "総合窓口で受付・担当課で処理（パターン2）",
        3 => "担当課の窓口で受付・事務センターで処理（パターン3）",
        _ => "担当課の窓口で受付・処理（パターン4）",
    }
}

fn planned_to_proto(p: &planning::Planned<'_>) -> pb::PlannedProcedure {
    pb::PlannedProcedure {
        procedure_id: p.def.id.to_string(),
        name: p.def.name.clone(),
        department: p.def.department.clone(),
        pattern: u32::from(p.def.pattern()),
        reason: p.reason(),
        documents_to_bring: p.def.documents.clone(),
        subject_atena_numbers: p.subjects.iter().map(ToString::to_string).collect(),
        window: window(p.def),
        seido: p.def.seido.clone().unwrap_or_default(),
    }
}

/// A planning request read and planned: its session, event and resident, and the plan.
struct Planned<'s> {
    session: SessionRow,
    event: LifeEvent,
    atena: AtenaNumber,
    resident: Resident,
    plan: Plan<'s>,
}

/// Read the fields every planning request shares and plan for them.
async fn planned<'s>(
    state: &GatewayState,
    caller: &Principal,
    // The mapping set in force when the request arrived; the plan borrows from it.
    mappings: &'s MappingSet,
    session_id: &str,
    life_event: i32,
    atena_number: &str,
    answers: BTreeMap<String, String>,
) -> Result<Planned<'s>, Status> {
    let session = state.session(caller, session_id).await?;
    let event = required_event(life_event)?;
    let (resident, household, _) = visit_resident(state, &session, atena_number, "atena_number").await?;
    let atena = resident.atena_number.clone();
    let plan =
        planning::plan(mappings, event, &atena, &household, &answers, Date::today()).map_err(plan_error)?;
    Ok(Planned { session, event, atena, resident, plan })
}

pub(super) async fn plan_procedures(
    state: &GatewayState,
    caller: &Principal,
    r: pb::PlanProceduresRequest,
) -> Result<pb::PlanProceduresResponse, Status> {
    let mappings = state.mappings.current();
    let Planned { session, event, atena, plan, .. } =
        planned(state, caller, &mappings, &r.session_id, r.life_event, &r.atena_number, r.answers).await?;
    audit(
        state,
        &session,
        "plan_procedures",
        &atena,
        format!("{} → {} procedures", event.code(), plan.procedures.len()),
    )
    .await?;
    Ok(pb::PlanProceduresResponse {
        procedures: plan.procedures.iter().map(planned_to_proto).collect(),
        questions: plan
            .questions
            .iter()
            .map(|q| pb::Question { id: q.id.clone(), text: q.text.clone(), choices: q.offered() })
            .collect(),
    })
}

/// Evidence the counter app got back from SubmitEvidence, read again for its channel and facts.
fn evidence_from_proto(e: &pb::IdentityEvidence) -> Result<IdentityEvidence, ValidationErrors> {
    let source = match e.channel.as_str() {
        // The kind of card does not change where a value came from.
        "card" => EvidenceSource::Card { card: CardKind::MyNumberCard },
        "qr" => EvidenceSource::Qr,
        "ocr" => EvidenceSource::Ocr { document: String::new() },
        "online" => EvidenceSource::Online,
        "manual" => EvidenceSource::Manual,
        _ => {
            return Err(
                ValidationError::at("channel", Rule::UnknownCode { table: "evidence channel" }).into()
            );
        }
    };
    let facts = basic_facts_from_proto(e.facts.as_ref())
        .map_err(|errors| ValidationErrors(errors.0.into_iter().map(|err| err.under("facts")).collect()))?;
    Ok(IdentityEvidence {
        source,
        assurance: AssuranceLevel::Low,
        facts,
        individual_number: None,
        needs_confirmation: Vec::new(),
    })
}

fn form_layout(def: &ProcedureDef, event: Option<LifeEvent>) -> Vec<pb::FormField> {
    def.fields
        .iter()
        .filter(|f| !f.online_only)
        .map(|f| pb::FormField {
            name: f.name.clone(),
            label: f.label.clone(),
            required: f.is_required_for(event),
            choices: f.choices.clone(),
        })
        .collect()
}

pub(super) async fn prefill_applications(
    state: &GatewayState,
    caller: &Principal,
    r: pb::PrefillApplicationsRequest,
) -> Result<pb::PrefillApplicationsResponse, Status> {
    let session = state.session(caller, &r.session_id).await?;
    let mut errors = ValidationErrors::new();
    // Empty: the visit's resident (checked below, with the resident).
    let applicant = if r.applicant_atena_number.is_empty() {
        Some(None)
    } else {
        errors.check("applicant_atena_number", convert::atena_required(&r.applicant_atena_number)).map(Some)
    };
    let event = errors.check("life_event", life_event_from_proto(r.life_event));
    let subject = if r.subject_atena_number.is_empty() {
        None
    } else {
        errors.check("subject_atena_number", AtenaNumber::parse(&r.subject_atena_number))
    };
    let evidence = match &r.evidence {
        None => None,
        Some(e) => match evidence_from_proto(e) {
            Ok(e) => Some(e),
            Err(e) => {
                errors.extend_under("evidence", e);
                None
            }
        },
    };
    if r.procedure_ids.is_empty() {
        errors.push(ValidationError::at("procedure_ids", Rule::Required));
    }
    let mappings = state.mappings.current();
    let catalog = mappings.catalog();
    let mut defs = Vec::with_capacity(r.procedure_ids.len());
    for (i, id) in r.procedure_ids.iter().enumerate() {
        let def = id.parse().ok().and_then(|id| catalog.get(&id));
        match def {
            Some(def) => defs.push(def),
            None => errors.push(ValidationError::at(
                &format!("procedure_ids[{i}]"),
                Rule::UnknownCode { table: "procedure" },
            )),
        }
    }
    let answers: BTreeMap<String, String> = r.answers.into_iter().collect();
    let answered = match planning::read_answers(&mappings, &answers) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.0.extend(e.0);
            None
        }
    };
    let (Some(applicant), Some(event), Some(answered)) = (applicant, event, answered) else {
        return Err(invalid("", errors));
    };
    if !errors.is_empty() {
        return Err(invalid("", errors));
    }

    let requested = applicant.map(|a| a.to_string()).unwrap_or_default();
    let (resident, household, visit) =
        visit_resident(state, &session, &requested, "applicant_atena_number").await?;
    let applicant = resident.atena_number.clone();
    // The evidence the server judged in SubmitEvidence, unless the request brings its own (read
    // as low assurance: the client's word for it).
    let evidence = evidence.or(visit.evidence);
    let today = Date::today();
    // The plan decides whom each form is for; without an event, each form is for the applicant.
    let subjects: BTreeMap<String, Vec<AtenaNumber>> = match event {
        None => BTreeMap::new(),
        Some(event) => {
            let subject = subject.unwrap_or_else(|| applicant.clone());
            let plan = planning::plan(&mappings, event, &subject, &household, &answers, today)
                .map_err(plan_error)?;
            plan.procedures.iter().map(|p| (p.def.id.to_string(), p.subjects.clone())).collect()
        }
    };
    let mut forms = Vec::with_capacity(defs.len());
    let mut kept = Vec::with_capacity(defs.len());
    for def in defs {
        let sources = Sources {
            event,
            applicant: &resident,
            household: &household,
            subjects: subjects.get(def.id.as_str()).map(Vec::as_slice).unwrap_or(&[]),
            evidence: evidence.as_ref(),
            answers: &answered,
            today,
        };
        let form = prefill::prefill(def, &sources).map_err(|e| Status::failed_precondition(e.to_string()))?;
        kept.push((
            def.id.to_string(),
            PrefilledForm {
                applicant: applicant.clone(),
                life_event: event,
                subjects: form.subjects.clone(),
                fields: form.fields.clone(),
            },
        ));
        forms.push(pb::ApplicationForm {
            procedure_id: def.id.to_string(),
            fields: form
                .fields
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        pb::FieldValue {
                            value: v.value.to_string(),
                            provenance: provenance_to_proto(v.provenance) as i32,
                        },
                    )
                })
                .collect(),
            missing_fields: form.missing.clone(),
            name: def.name.clone(),
            layout: form_layout(def, event),
            subject_atena_numbers: form.subjects.iter().map(ToString::to_string).collect(),
        });
    }
    audit(state, &session, "prefill_applications", &applicant, format!("{} forms", forms.len())).await?;
    state
        .update_visit(&session.id, move |v| {
            for (id, form) in kept {
                v.forms.insert(id, form);
            }
        })
        .await?;
    Ok(pb::PrefillApplicationsResponse { forms })
}

/// What the reception 2D code carries: the visit's receipt reference, which the next window's
/// staff look up under their own login (it opens nothing by itself), and the procedures to take
/// there.
fn receipt_payload(receipt_ref: &str, procedures: &[String]) -> String {
    format!("RENKEI1|R={receipt_ref}|P={}", procedures.join(","))
}

fn today_printed() -> String {
    let today = Date::today();
    today.to_wareki_string().unwrap_or_else(|_| today.to_string())
}

fn rendered(r: Rendered, file_name: String) -> pb::RenderedDocument {
    pb::RenderedDocument {
        pdf: r.pdf,
        file_name,
        missing_glyphs: r.missing_glyphs.iter().map(|c| format!("U+{:04X}", *c as u32)).collect(),
        plain_variation_sequences: r
            .plain_variants
            .iter()
            .map(|v| v.chars().map(|c| format!("U+{:04X}", c as u32)).collect::<Vec<_>>().join(" "))
            .collect(),
    }
}

fn render_failed(e: renkei_documents::DocumentError) -> Status {
    Status::internal(format!("rendering failed: {e}"))
}

pub(super) async fn render_guide(
    state: &GatewayState,
    caller: &Principal,
    r: pb::RenderGuideRequest,
) -> Result<pb::RenderedDocument, Status> {
    let font = state.documents.font()?.clone();
    let mappings = state.mappings.current();
    let Planned { session, event, atena, resident, plan } =
        planned(state, caller, &mappings, &r.session_id, r.life_event, &r.atena_number, r.answers).await?;
    let ids: Vec<String> = plan.procedures.iter().map(|p| p.def.id.to_string()).collect();
    let guide = Guide {
        municipality: state.documents.config.municipality.clone(),
        resident_name: resident.name.full().into_string(),
        event: event.label().to_owned(),
        date: today_printed(),
        items: plan
            .procedures
            .iter()
            .map(|p| GuideItem {
                name: p.def.name.clone(),
                window: window(p.def),
                handling: handling(p.def).to_owned(),
                reason: p.reason(),
                summary: p.def.summary.clone().unwrap_or_default(),
                documents: p.def.documents.clone(),
            })
            .collect(),
        receipt: Some(receipt_payload(&session.receipt_ref, &ids)),
    };
    audit(state, &session, "render_guide", &atena, format!("{} procedures", ids.len())).await?;
    let out = tokio::task::spawn_blocking(move || renkei_documents::render_guide(&font, &guide))
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(render_failed)?;
    Ok(rendered(out, "tetsuzuki-annai.pdf".to_owned()))
}

fn provenance_label(p: Provenance) -> &'static str {
    match p {
        Provenance::Card => "カード",
        Provenance::Qr => "二次元コード",
        Provenance::Ocr => "読取り",
        Provenance::Online => "オンライン",
        Provenance::ResidentRecord => "住民記録",
        Provenance::Staff => "職員",
        Provenance::Resident => "本人",
    }
}

pub(super) async fn render_form(
    state: &GatewayState,
    caller: &Principal,
    r: pb::RenderFormRequest,
) -> Result<pb::RenderedDocument, Status> {
    let session = state.session(caller, &r.session_id).await?;
    let draft =
        r.application.ok_or_else(|| invalid_one("application", ValidationError::new(Rule::Required)))?;
    let visit = state.visit(&session.id).await?;
    let app = convert::draft_to_application(
        &draft,
        visit.forms.get(&draft.procedure_id),
        visit.resident.as_ref().map(|r| &r.atena_number),
    )
    .map_err(|e| invalid("application", e))?;
    let mappings = state.mappings.current();
    let def = mappings.catalog().get(&app.procedure).ok_or_else(|| {
        invalid_one(
            "application.procedure_id",
            ValidationError::new(Rule::UnknownCode { table: "procedure" }),
        )
    })?;
    let font = state.documents.font()?.clone();
    let form = FilledForm {
        title: def.name.clone(),
        department: def.department.clone(),
        date: today_printed(),
        lines: def
            .fields
            .iter()
            .map(|f| {
                let value = app.fields.get(&f.name);
                FormLine {
                    label: f.label.clone(),
                    value: value.map(|v| v.value.to_string()).unwrap_or_default(),
                    required: f.is_required_for(app.life_event),
                    source: value.map(|v| provenance_label(v.provenance).to_owned()).unwrap_or_default(),
                }
            })
            .collect(),
        receipt: Some(receipt_payload(&session.receipt_ref, &[def.id.to_string()])),
    };
    audit(state, &session, "render_form", &app.applicant, def.id.to_string()).await?;
    let out = tokio::task::spawn_blocking(move || renkei_documents::render_form(&font, &form))
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(render_failed)?;
    Ok(rendered(out, format!("{}.pdf", def.id)))
}

pub(super) async fn render_receipt(
    state: &GatewayState,
    caller: &Principal,
    r: pb::RenderReceiptRequest,
) -> Result<pb::RenderedDocument, Status> {
    let session = state.session(caller, &r.session_id).await?;
    let number = MojiText::required(r.number.as_str()).map_err(|e| invalid_one("number", e))?;
    let mappings = state.mappings.current();
    let catalog = mappings.catalog();
    let mut names = Vec::with_capacity(r.procedure_ids.len());
    for (i, id) in r.procedure_ids.iter().enumerate() {
        match id.parse().ok().and_then(|id| catalog.get(&id)) {
            Some(def) => names.push(def.name.clone()),
            None => {
                return Err(invalid_one(
                    &format!("procedure_ids[{i}]"),
                    ValidationError::new(Rule::UnknownCode { table: "procedure" }),
                ));
            }
        }
    }
    let font = state.documents.font()?.clone();
    let receipt = Receipt {
        number: number.to_string(),
        issued_at: today_printed(),
        procedures: names,
        payload: receipt_payload(&session.receipt_ref, &r.procedure_ids),
    };
    let out = tokio::task::spawn_blocking(move || renkei_documents::render_receipt(&font, &receipt))
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(render_failed)?;
    Ok(rendered(out, "uketsuke.pdf".to_owned()))
}
