//! Between the wire (renkei.v1 messages) and the canonical model. Conversions *into* the model
//! validate and report paths named after the request's fields.

use renkei_model::{
    Application, ApplicationStatus, AtenaNumber, BasicFacts, Date, FieldValue, LifeEvent, MojiText,
    Nationality, Provenance, Resident, ResidentStatus, Rule, Sex, ValidationError, ValidationErrors,
};
use renkei_proto::v1 as pb;

use crate::storage::PrefilledForm;

pub fn now_timestamp() -> prost_types::Timestamp {
    ms_to_timestamp(crate::storage::now_ms())
}

pub fn ms_to_timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: ms.div_euclid(1000), nanos: (ms.rem_euclid(1000) * 1_000_000) as i32 }
}

pub fn status_to_proto(status: ApplicationStatus) -> pb::ApplicationStatus {
    match status {
        ApplicationStatus::Submitted => pb::ApplicationStatus::Submitted,
        ApplicationStatus::Delivered => pb::ApplicationStatus::Delivered,
        ApplicationStatus::Rejected => pb::ApplicationStatus::Rejected,
        ApplicationStatus::DeadLettered => pb::ApplicationStatus::DeadLettered,
        ApplicationStatus::Completed => pb::ApplicationStatus::Completed,
        ApplicationStatus::Returned => pb::ApplicationStatus::Returned,
    }
}

/// The stored status text (see `ApplicationStatus::as_str`).
pub fn status_from_str(s: &str) -> pb::ApplicationStatus {
    [
        ApplicationStatus::Submitted,
        ApplicationStatus::Delivered,
        ApplicationStatus::Rejected,
        ApplicationStatus::DeadLettered,
        ApplicationStatus::Completed,
        ApplicationStatus::Returned,
    ]
    .into_iter()
    .find(|st| st.as_str() == s)
    .map(status_to_proto)
    .unwrap_or(pb::ApplicationStatus::Unspecified)
}

/// A session event as the counter app receives it.
pub fn session_event_to_proto(e: &renkei_delivery::events::SessionEvent) -> pb::SessionEvent {
    use pb::session_event::Event;
    use renkei_delivery::events::SessionChange;
    let event = match &e.change {
        SessionChange::Delivery {
            application_id,
            procedure_id,
            target_system,
            status,
            attempts,
            receipt,
            last_error,
        } => Event::Delivery(pb::DeliveryStatusChanged {
            application_id: application_id.clone(),
            procedure_id: procedure_id.clone(),
            target_system: target_system.clone(),
            status: status_to_proto(*status) as i32,
            attempts: *attempts,
            receipt: receipt.clone(),
            last_error: last_error.clone(),
        }),
        SessionChange::Card { reader, kind } => {
            Event::Card(pb::CardEvent { reader: reader.clone(), kind: (*kind).to_owned() })
        }
        SessionChange::Work { application_id, procedure_id, work_item_id, state, status, reason } => {
            Event::Work(pb::WorkItemChanged {
                application_id: application_id.clone(),
                procedure_id: procedure_id.clone(),
                work_item_id: work_item_id.clone(),
                state: state.clone(),
                status: status_to_proto(*status) as i32,
                reason: reason.clone(),
            })
        }
    };
    pb::SessionEvent { at: Some(ms_to_timestamp(e.at_ms)), event: Some(event) }
}

pub fn date_to_proto(date: Date) -> pb::CalendarDate {
    pb::CalendarDate {
        year: date.year(),
        month: date.month() as i32,
        day: date.day() as i32,
        wareki: date.to_wareki_string().unwrap_or_default(),
    }
}

/// A required date. The error's path is the date itself; callers put it under the field.
pub fn date_from_proto(date: Option<&pb::CalendarDate>) -> Result<Date, ValidationError> {
    let d = date.ok_or(ValidationError::new(Rule::Required))?;
    if d.year == 0 && d.month == 0 && d.day == 0 {
        return Err(ValidationError::new(Rule::Required));
    }
    let month = u32::try_from(d.month).map_err(|_| ValidationError::new(Rule::Date("no such month")))?;
    let day = u32::try_from(d.day).map_err(|_| ValidationError::new(Rule::Date("no such day")))?;
    Date::from_ymd(d.year, month, day)
}

pub fn sex_to_proto(sex: Sex) -> pb::Sex {
    match sex {
        Sex::Male => pb::Sex::Male,
        Sex::Female => pb::Sex::Female,
        Sex::NotApplicable => pb::Sex::NotApplicable,
        Sex::NotKnown => pb::Sex::Unspecified,
    }
}

/// `None` when unspecified.
pub fn sex_from_proto(value: i32) -> Result<Option<Sex>, ValidationError> {
    match pb::Sex::try_from(value) {
        Ok(pb::Sex::Unspecified) => Ok(None),
        Ok(pb::Sex::Male) => Ok(Some(Sex::Male)),
        Ok(pb::Sex::Female) => Ok(Some(Sex::Female)),
        Ok(pb::Sex::NotApplicable) => Ok(Some(Sex::NotApplicable)),
        Err(_) => Err(ValidationError::new(Rule::UnknownCode { table: "sex (ISO 5218)" })),
    }
}

/// `None` when unspecified.
pub fn life_event_from_proto(value: i32) -> Result<Option<LifeEvent>, ValidationError> {
    use pb::LifeEvent as P;
    let event = match P::try_from(value) {
        Ok(P::Unspecified) => return Ok(None),
        Ok(P::MoveIn) => LifeEvent::MoveIn,
        Ok(P::MoveInFromAbroad) => LifeEvent::MoveInFromAbroad,
        Ok(P::MoveOut) => LifeEvent::MoveOut,
        Ok(P::MoveOutAbroad) => LifeEvent::MoveOutAbroad,
        Ok(P::MoveWithin) => LifeEvent::MoveWithin,
        Ok(P::Birth) => LifeEvent::Birth,
        Ok(P::Death) => LifeEvent::Death,
        Ok(P::Marriage) => LifeEvent::Marriage,
        Ok(P::Divorce) => LifeEvent::Divorce,
        Ok(P::HouseholdChange) => LifeEvent::HouseholdChange,
        Err(_) => return Err(ValidationError::new(Rule::UnknownCode { table: "life event" })),
    };
    Ok(Some(event))
}

pub fn provenance_to_proto(p: Provenance) -> pb::Provenance {
    match p {
        Provenance::Card => pb::Provenance::Card,
        Provenance::Qr => pb::Provenance::Qr,
        Provenance::Ocr => pb::Provenance::Ocr,
        Provenance::Online => pb::Provenance::Online,
        Provenance::ResidentRecord => pb::Provenance::ResidentRecord,
        Provenance::Staff => pb::Provenance::Staff,
        Provenance::Resident => pb::Provenance::Resident,
    }
}

fn name_with_kana(n: &renkei_model::NameWithKana) -> pb::NameWithKana {
    pb::NameWithKana {
        name: n.name.to_string(),
        kana: n.kana.as_ref().map(|k| k.as_str().to_owned()).unwrap_or_default(),
    }
}

/// A resident for the counter app. The individual number is never included.
pub fn resident_to_proto(r: &Resident, today: Date) -> pb::Resident {
    let (nationality, residence_status) = match &r.nationality {
        Nationality::Japanese => (String::new(), String::new()),
        Nationality::Foreign { country, residence_status } => {
            (country.clone(), residence_status.clone().unwrap_or_default())
        }
    };
    let kana =
        |k: &Option<renkei_model::KanaText>| k.as_ref().map(|k| k.as_str().to_owned()).unwrap_or_default();
    pb::Resident {
        atena_number: r.atena_number.to_string(),
        household_number: r.household_number.to_string(),
        name: Some(pb::PersonName {
            family: r.name.family.to_string(),
            given: r.name.given.to_string(),
            family_kana: kana(&r.name.family_kana),
            given_kana: kana(&r.name.given_kana),
            alias: r.name.alias.as_ref().map(name_with_kana),
            former_surname: r.name.former_surname.as_ref().map(name_with_kana),
        }),
        birth_date: Some(date_to_proto(r.birth_date)),
        sex: sex_to_proto(r.sex) as i32,
        relationship: r.relationship.to_string(),
        address: r.address.as_ref().map(|a| pb::Address {
            prefecture: a.prefecture.to_string(),
            municipality: a.municipality.to_string(),
            local_government_code: a.local_government_code.to_string(),
            town: a.town.to_string(),
            banchi: a.banchi.to_string(),
            katagaki: a.katagaki.as_ref().map(|k| k.to_string()).unwrap_or_default(),
            postal_code: a.postal_code.as_ref().map(|p| p.to_string()).unwrap_or_default(),
            one_line: a.one_line(),
        }),
        nationality,
        residence_status,
        status: match r.status {
            ResidentStatus::Resident => pb::ResidentStatus::Resident,
            ResidentStatus::MovedOut => pb::ResidentStatus::MovedOut,
            ResidentStatus::Deceased => pb::ResidentStatus::Deceased,
            ResidentStatus::Removed => pb::ResidentStatus::Removed,
        } as i32,
        age: r.age_on(today),
    }
}

pub fn basic_facts_to_proto(f: &BasicFacts) -> pb::BasicFacts {
    pb::BasicFacts {
        name: f.name.to_string(),
        name_kana: f.name_kana.as_ref().map(|k| k.to_string()).unwrap_or_default(),
        address: f.address.as_ref().map(|a| a.to_string()).unwrap_or_default(),
        birth_date: Some(date_to_proto(f.birth_date)),
        sex: sex_to_proto(f.sex) as i32,
    }
}

/// The basic facts of a card or manual entry. Name, birth date and sex are required.
pub fn basic_facts_from_proto(f: Option<&pb::BasicFacts>) -> Result<BasicFacts, ValidationErrors> {
    let Some(f) = f else {
        return Err(ValidationError::new(Rule::Required).into());
    };
    let mut errors = ValidationErrors::new();
    let name = errors.check("name", MojiText::required(f.name.as_str()));
    let name_kana = errors.check("name_kana", optional_moji(&f.name_kana));
    let address = errors.check("address", optional_moji(&f.address));
    let birth_date = errors.check("birth_date", date_from_proto(f.birth_date.as_ref()));
    let sex = errors
        .check("sex", sex_from_proto(f.sex).and_then(|s| s.ok_or(ValidationError::new(Rule::Required))));
    match (name, name_kana, address, birth_date, sex) {
        (Some(name), Some(name_kana), Some(address), Some(birth_date), Some(sex)) if errors.is_empty() => {
            Ok(BasicFacts { name, name_kana, address, birth_date, sex })
        }
        _ => Err(errors),
    }
}

fn optional_moji(s: &str) -> Result<Option<MojiText>, ValidationError> {
    if s.is_empty() { Ok(None) } else { MojiText::new(s).map(Some) }
}

/// An application from what the counter app sends and what the visit holds: the draft names the
/// procedure and what staff changed or keyed in; the applicant, subjects, life event and every
/// other value come from the form the server prefilled (`prefilled`), or, for the applicant, the
/// visit's resident. The server decides provenance: a value equal to its prefill keeps the
/// prefill's source, a changed or keyed value is staff's; the provenance a client sends is not
/// read. An empty value clears a prefilled one.
pub fn draft_to_application(
    d: &pb::ApplicationDraft,
    prefilled: Option<&PrefilledForm>,
    visit_resident: Option<&AtenaNumber>,
) -> Result<Application, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let procedure = errors.check("procedure_id", d.procedure_id.parse());
    let applicant = if d.applicant_atena_number.is_empty() {
        let known = prefilled.map(|f| &f.applicant).or(visit_resident).cloned();
        errors.check("applicant_atena_number", known.ok_or(ValidationError::new(Rule::Required)))
    } else {
        errors.check("applicant_atena_number", atena_required(&d.applicant_atena_number))
    };
    let mut subjects = Vec::with_capacity(d.subject_atena_numbers.len());
    for (i, s) in d.subject_atena_numbers.iter().enumerate() {
        if let Some(s) = errors.check(&format!("subject_atena_numbers[{i}]"), AtenaNumber::parse(s)) {
            subjects.push(s);
        }
    }
    if d.subject_atena_numbers.is_empty()
        && let Some(form) = prefilled
    {
        subjects = form.subjects.clone();
    }
    let life_event = match errors.check("life_event", life_event_from_proto(d.life_event)) {
        Some(None) => Some(prefilled.and_then(|f| f.life_event)),
        other => other,
    };
    let mut fields = prefilled.map(|f| f.fields.clone()).unwrap_or_default();
    for (name, value) in &d.fields {
        // The name is the client's: an error shows a short prefix of it.
        let at = format!("fields.{}", renkei_proto::limits::echo(name));
        if let Err(e) = renkei_model::validate_field_name(name) {
            errors.push(e.under(&at));
            continue;
        }
        if value.value.is_empty() {
            fields.remove(name);
            continue;
        }
        let Some(text) = errors.check(&format!("{at}.value"), MojiText::new(value.value.as_str())) else {
            continue;
        };
        let provenance = match prefilled.and_then(|f| f.fields.get(name)) {
            Some(before) if before.value == text => before.provenance,
            _ => Provenance::Staff,
        };
        fields.insert(name.clone(), FieldValue { value: text, provenance });
    }
    match (procedure, applicant, life_event) {
        (Some(procedure), Some(applicant), Some(life_event)) if errors.is_empty() => {
            Ok(Application { procedure, applicant, subjects, life_event, fields })
        }
        _ => Err(errors),
    }
}

pub fn atena_required(s: &str) -> Result<AtenaNumber, ValidationError> {
    if s.is_empty() { Err(ValidationError::new(Rule::Required)) } else { AtenaNumber::parse(s) }
}
