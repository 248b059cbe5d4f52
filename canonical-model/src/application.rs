//! Applications (申請): a procedure filled in for a resident, every field with where its value
//! came from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codes::LifeEvent;
use crate::error::{Rule, ValidationError, ValidationErrors};
use crate::ids::AtenaNumber;
use crate::moji::MojiText;
use crate::procedure::ProcedureId;

/// Where a field's value came from. Anything but `Staff` and `Resident` was not written by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    Card,
    Qr,
    Ocr,
    Online,
    ResidentRecord,
    /// Typed by staff.
    Staff,
    /// Entered by the resident on the touch panel.
    Resident,
}

impl Provenance {
    /// Filled in by renkei rather than written or typed by a person.
    pub fn is_prefilled(self) -> bool {
        !matches!(self, Provenance::Staff | Provenance::Resident)
    }
}

/// One field of an application form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldValue {
    pub value: MojiText,
    pub provenance: Provenance,
}

/// Where an application is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    /// Committed to the outbox; not yet delivered.
    Submitted,
    /// Accepted by the target core system.
    Delivered,
    /// The core system refused it (its reason is kept with the delivery).
    Rejected,
    /// Delivery gave up after its retries; waiting in the dead-letter queue for an operator.
    DeadLettered,
    /// Processed by the backyard center or the department that took it from the work queue.
    Completed,
    /// Sent back to the counter by the backyard center, with a reason.
    Returned,
}

impl ApplicationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::Submitted => "submitted",
            ApplicationStatus::Delivered => "delivered",
            ApplicationStatus::Rejected => "rejected",
            ApplicationStatus::DeadLettered => "dead_lettered",
            ApplicationStatus::Completed => "completed",
            ApplicationStatus::Returned => "returned",
        }
    }
}

/// A form field's name: lowercase ASCII words joined by `_`, optionally nested with `.`
/// (`new_address.banchi`).
pub fn validate_field_name(name: &str) -> Result<(), ValidationError> {
    let ok = !name.is_empty()
        && name.split('.').all(|part| {
            part.starts_with(|c: char| c.is_ascii_lowercase())
                && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(Rule::Other(
            "field names are lowercase ASCII words joined by '_', nested with '.'",
        )))
    }
}

/// A filled-in application for one procedure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub procedure: ProcedureId,
    /// The person applying (申請者 / 届出人).
    pub applicant: AtenaNumber,
    /// The people the application is about (異動者, 加入者 …); may include the applicant.
    #[serde(default)]
    pub subjects: Vec<AtenaNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub life_event: Option<LifeEvent>,
    pub fields: BTreeMap<String, FieldValue>,
}

impl Application {
    /// Checks field names and that every field in `required` is present and non-empty.
    pub fn validate(&self, required: &[&str]) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        for name in self.fields.keys() {
            if let Err(e) = validate_field_name(name) {
                errors.push(e.under(name).under("fields"));
            }
        }
        for name in required {
            let present = self.fields.get(*name).is_some_and(|f| !f.value.as_str().trim().is_empty());
            if !present {
                errors.push(ValidationError::at(name, Rule::Required).under("fields"));
            }
        }
        errors.into_result()
    }

    /// How many fields were filled by renkei rather than written by hand.
    pub fn prefilled_count(&self) -> usize {
        self.fields.values().filter(|f| f.provenance.is_prefilled()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(v: &str, provenance: Provenance) -> FieldValue {
        FieldValue { value: MojiText::new(v).unwrap(), provenance }
    }

    #[test]
    fn required_fields_and_names_are_checked_with_paths() {
        let mut fields = BTreeMap::new();
        fields.insert("event_date".to_owned(), field("2026-04-01", Provenance::Staff));
        fields.insert("new_address.banchi".to_owned(), field(" ", Provenance::Qr));
        fields.insert("Bad-Name".to_owned(), field("x", Provenance::Staff));
        let app = Application {
            procedure: "jumin.idou".parse().unwrap(),
            applicant: AtenaNumber::from_serial(1, 10).unwrap(),
            subjects: vec![],
            life_event: Some(LifeEvent::MoveIn),
            fields,
        };
        let errors = app.validate(&["event_date", "new_address.banchi", "previous_address"]).unwrap_err();
        let paths: Vec<_> = errors.iter().map(|e| e.path.as_str().to_owned()).collect();
        assert_eq!(paths, ["fields.Bad-Name", "fields.new_address.banchi", "fields.previous_address"]);
        assert_eq!(app.prefilled_count(), 1);
    }
}
