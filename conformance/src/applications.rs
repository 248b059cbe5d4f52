//! Applications as staff key them in, for tests of the adapters and the delivery path.

use renkei_model::{Application, AtenaNumber, FieldValue, LifeEvent, MojiText, Provenance};

/// An application for `procedure` by `applicant` about `subjects`, with `fields` as typed by
/// staff. Panics on an invalid procedure id or field text (test data).
pub fn keyed_in(
    procedure: &str,
    applicant: AtenaNumber,
    subjects: Vec<AtenaNumber>,
    life_event: Option<LifeEvent>,
    fields: &[(&str, &str)],
) -> Application {
    Application {
        procedure: procedure.parse().expect("a procedure id"),
        applicant,
        subjects,
        life_event,
        fields: fields
            .iter()
            .map(|(name, value)| {
                let value = MojiText::new(*value).expect("field text");
                ((*name).to_owned(), FieldValue { value, provenance: Provenance::Staff })
            })
            .collect(),
    }
}
