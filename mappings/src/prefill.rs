//! Filling a procedure's form from what renkei already knows, every value with its provenance.
//!
//! Each field's `prefill` expression (in the catalog) reads `applicant`, `household`, `subjects`
//! (the resident record), `evidence` (what was shown at the counter), `answers` (the touch
//! panel) and `event` (the life event staff chose). A value's provenance is the first of these it
//! read that holds data, in that order of precedence: answers (the resident), evidence (its
//! channel), the resident record, and staff for a value that follows from the life event alone.

use std::collections::BTreeMap;

use crate::ProcedureDef;
use crate::expr::cel::{ExecutionError, Value};
use crate::expr::{context, display};
use renkei_model::{
    AtenaNumber, Date, FieldValue, Household, IdentityEvidence, LifeEvent, MojiText, Provenance, Resident,
};

use crate::planning::{describe, facts};

/// What a form is filled from.
#[derive(Debug, Clone)]
pub struct Sources<'a> {
    pub event: Option<LifeEvent>,
    /// The person applying, as the resident record holds them.
    pub applicant: &'a Resident,
    pub household: &'a Household,
    /// The members the procedure is for; the applicant when empty.
    pub subjects: &'a [AtenaNumber],
    pub evidence: Option<&'a IdentityEvidence>,
    /// The answers as [`crate::planning::read_answers`] returned them.
    pub answers: &'a Value,
    pub today: Date,
}

/// A filled form.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub fields: BTreeMap<String, FieldValue>,
    /// Required fields (for the event) with no value yet, in the form's order.
    pub missing: Vec<String>,
    pub subjects: Vec<AtenaNumber>,
}

impl Form {
    /// Fields filled by renkei rather than written by a person.
    pub fn prefilled(&self) -> usize {
        self.fields.values().filter(|f| f.provenance.is_prefilled()).count()
    }
}

/// A prefill expression that failed for a reason other than missing data: a mistake in the
/// catalog file, reported with the procedure and field.
#[derive(Debug, thiserror::Error)]
#[error("procedure {procedure}, field {field}: prefill failed: {message}")]
pub struct PrefillError {
    pub procedure: String,
    pub field: String,
    pub message: String,
}

/// Fill `def`'s form from `sources`.
pub fn prefill(def: &ProcedureDef, sources: &Sources<'_>) -> Result<Form, PrefillError> {
    let subjects: Vec<AtenaNumber> = if sources.subjects.is_empty() {
        vec![sources.applicant.atena_number.clone()]
    } else {
        sources.subjects.to_vec()
    };
    let today = sources.today;
    let subject_values: Vec<Value> = subjects
        .iter()
        .filter_map(|a| sources.household.members.iter().find(|m| &m.atena_number == a))
        .map(|m| facts::person(m, today, true))
        .collect();
    let mut ctx = context();
    ctx.add_variable_from_value(
        "applicant",
        facts::person(sources.applicant, today, subjects.contains(&sources.applicant.atena_number)),
    );
    ctx.add_variable_from_value("household", facts::household(sources.household, today, None));
    ctx.add_variable_from_value("subjects", Value::List(subject_values.into()));
    ctx.add_variable_from_value("evidence", facts::evidence(sources.evidence));
    ctx.add_variable_from_value("answers", sources.answers.clone());
    ctx.add_variable_from_value("event", sources.event.map(|e| Value::from(e.code())).unwrap_or(Value::Null));

    let has_answers = matches!(sources.answers, Value::Map(m) if !m.map.is_empty());
    let mut fields = BTreeMap::new();
    let mut missing = Vec::new();
    for field in &def.fields {
        let value = match &field.prefill {
            None => None,
            Some(expr) => match expr.eval(&ctx) {
                Ok(v) => Some((display(&v), expr.variables())),
                // Data that is not there (no evidence shown, no address, an unanswered question,
                // no subject) leaves the field to be entered.
                Err(
                    ExecutionError::NoSuchKey(_)
                    | ExecutionError::UndeclaredReference(_)
                    | ExecutionError::IndexOutOfBounds(_),
                ) => None,
                Err(e) => {
                    return Err(PrefillError {
                        procedure: def.id.to_string(),
                        field: field.name.clone(),
                        message: describe(&e),
                    });
                }
            },
        };
        match value.filter(|(text, _)| !text.trim().is_empty()) {
            Some((text, read)) => {
                let provenance = if read.contains("answers") && has_answers {
                    Provenance::Resident
                } else if let Some(e) = sources.evidence.filter(|_| read.contains("evidence")) {
                    facts::evidence_provenance(e)
                } else if ["applicant", "household", "subjects"].iter().any(|v| read.contains(*v)) {
                    Provenance::ResidentRecord
                } else {
                    Provenance::Staff
                };
                let value = MojiText::new(text).map_err(|e| PrefillError {
                    procedure: def.id.to_string(),
                    field: field.name.clone(),
                    message: e.rule.to_string(),
                })?;
                fields.insert(field.name.clone(), FieldValue { value, provenance });
            }
            None if field.is_required_for(sources.event) => missing.push(field.name.clone()),
            None => {}
        }
    }
    Ok(Form { fields, missing, subjects })
}
