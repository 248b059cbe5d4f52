//! An external OCR engine's reading of a document, as JSON:
//!
//! ```json
//! {
//!   "engine": "any-ocr 3.2",
//!   "document_type": "drivers_license",
//!   "fields": {
//!     "name":       { "value": "葛西　太郎",       "confidence": 0.98 },
//!     "name_kana":  { "value": "カサイ　タロウ",   "confidence": 0.95 },
//!     "birth_date": { "value": "平成元年1月8日",   "confidence": 0.81 },
//!     "address":    { "value": "神奈川県横浜市…",  "confidence": 0.97 },
//!     "sex":        { "value": "男",               "confidence": 0.99 }
//!   }
//! }
//! ```
//! `document_type` is one of [`DOCUMENT_TYPES`]. `name` and `birth_date` are required; fields
//! the engine read but this intake does not use (a license number) are ignored. Dates may be
//! Gregorian (`1989-01-08`, `19890108`) or wareki (`平成元年1月8日`, `H1.1.8`). A field read with a
//! confidence under the configured minimum is taken but listed in `needs_confirmation`
//! (`facts.birth_date`), and so is a missing sex: nothing uncertain is trusted silently.

use std::collections::BTreeMap;

use renkei_model::{
    AssuranceLevel, BasicFacts, Date, EvidenceSource, FieldPath, IdentityEvidence, MojiText, Rule, Sex,
    ValidationError, ValidationErrors,
};
use serde::Deserialize;

/// Document types an OCR result may be for.
pub const DOCUMENT_TYPES: [&str; 7] = [
    "drivers_license",
    "residence_card",
    "special_permanent_resident_certificate",
    "moving_out_certificate",
    "my_number_card",
    "health_insurance_card",
    "passport",
];

/// The largest OCR document accepted, in bytes.
pub const MAX_JSON_BYTES: usize = 256 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OcrDocument {
    #[serde(default)]
    #[allow(dead_code)] // Part of the format (for audit and support); not used to read the facts.
    engine: Option<String>,
    document_type: String,
    fields: BTreeMap<String, OcrField>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OcrField {
    value: String,
    confidence: f64,
}

/// Why an OCR result was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcrError {
    /// Not JSON of the expected shape; the message has the line and column.
    #[error("OCR result is not valid: {0}")]
    Format(String),
    #[error("OCR result is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("{0}")]
    Invalid(ValidationErrors),
}

/// Turns OCR results into identity evidence.
#[derive(Debug, Clone, Copy)]
pub struct OcrIntake {
    min_confidence: f64,
}

impl OcrIntake {
    /// Fields read with a confidence under `min_confidence` (0..=1) are flagged for staff.
    pub fn new(min_confidence: f64) -> Self {
        Self { min_confidence: min_confidence.clamp(0.0, 1.0) }
    }

    pub fn read(&self, json: &str) -> Result<IdentityEvidence, OcrError> {
        if json.len() > MAX_JSON_BYTES {
            return Err(OcrError::TooLarge { max: MAX_JSON_BYTES });
        }
        let doc: OcrDocument = serde_json::from_str(json).map_err(|e| OcrError::Format(e.to_string()))?;
        let mut errors = ValidationErrors::new();
        if !DOCUMENT_TYPES.contains(&doc.document_type.as_str()) {
            errors
                .push(ValidationError::at("document_type", Rule::UnknownCode { table: "OCR document type" }));
        }
        let mut flagged = Vec::new();
        let mut take = |name: &'static str, required: bool| -> Option<&str> {
            let at = format!("fields.{name}");
            match doc.fields.get(name) {
                None if required => {
                    errors.push(ValidationError::at(&at, Rule::Required));
                    None
                }
                None => None,
                Some(f) if !(0.0..=1.0).contains(&f.confidence) => {
                    errors.push(ValidationError::at(
                        &format!("{at}.confidence"),
                        Rule::Other("must be between 0 and 1"),
                    ));
                    None
                }
                Some(f) => {
                    if f.confidence < self.min_confidence {
                        flagged.push(FieldPath::field(name).under("facts"));
                    }
                    Some(f.value.as_str())
                }
            }
        };
        let name = take("name", true).map(str::to_owned);
        let kana = take("name_kana", false).map(str::to_owned);
        let birth = take("birth_date", true).map(str::to_owned);
        let address = take("address", false).map(str::to_owned);
        let sex = take("sex", false).map(str::to_owned);
        let name = name.and_then(|n| errors.check("fields.name.value", MojiText::required(n)));
        let kana = match kana {
            Some(k) => errors.check("fields.name_kana.value", MojiText::new(k).map(Some)),
            None => Some(None),
        };
        let address = match address {
            Some(a) => errors.check("fields.address.value", MojiText::new(a).map(Some)),
            None => Some(None),
        };
        let birth_date = birth.and_then(|b| errors.check("fields.birth_date.value", Date::parse_any(&b)));
        let sex = match sex {
            Some(s) => errors.check("fields.sex.value", parse_sex(&s)),
            None => {
                flagged.push(FieldPath::field("sex").under("facts"));
                Some(Sex::NotKnown)
            }
        };
        match (name, kana, address, birth_date, sex) {
            (Some(name), Some(name_kana), Some(address), Some(birth_date), Some(sex))
                if errors.is_empty() =>
            {
                Ok(IdentityEvidence {
                    source: EvidenceSource::Ocr { document: doc.document_type },
                    // A document was presented at the counter; what the engine was unsure of
                    // lowers the assurance until staff confirm it.
                    assurance: if flagged.is_empty() {
                        AssuranceLevel::Substantial
                    } else {
                        AssuranceLevel::Low
                    },
                    facts: BasicFacts { name, name_kana, address, birth_date, sex },
                    individual_number: None,
                    needs_confirmation: flagged,
                })
            }
            _ => Err(OcrError::Invalid(errors)),
        }
    }
}

/// 男/女, ISO 5218 digits, or English words, as OCR engines print them.
fn parse_sex(s: &str) -> Result<Sex, ValidationError> {
    match s.trim() {
        "男" | "男性" | "1" | "M" | "male" => Ok(Sex::Male),
        "女" | "女性" | "2" | "F" | "female" => Ok(Sex::Female),
        "9" => Ok(Sex::NotApplicable),
        _ => Err(ValidationError::new(Rule::UnknownCode { table: "sex" })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(birth_confidence: f64) -> String {
        format!(
            r#"{{"engine":"t","document_type":"drivers_license","fields":{{
                "name":{{"value":"{name}","confidence":0.99}},
                "birth_date":{{"value":"平成元年1月8日","confidence":{birth_confidence}}},
                "sex":{{"value":"男","confidence":0.99}},
                "license_number":{{"value":"123456789012","confidence":0.99}}}}}}"#,
            name = "葛\u{E0100}西\u{3000}太郎"
        )
    }

    #[test]
    fn confident_fields_are_trusted_and_uncertain_ones_flagged() {
        let ocr = OcrIntake::new(0.9);
        let e = ocr.read(&doc(0.97)).unwrap();
        assert_eq!(e.facts.name.as_str(), "葛\u{E0100}西\u{3000}太郎");
        assert_eq!(e.facts.birth_date, Date::from_ymd(1989, 1, 8).unwrap());
        assert!(e.is_confirmed());
        assert_eq!(e.assurance, AssuranceLevel::Substantial);
        assert_eq!(e.source, EvidenceSource::Ocr { document: "drivers_license".into() });

        let e = ocr.read(&doc(0.62)).unwrap();
        let flagged: Vec<&str> = e.needs_confirmation.iter().map(FieldPath::as_str).collect();
        assert_eq!(flagged, ["facts.birth_date"]);
        assert_eq!(e.assurance, AssuranceLevel::Low);
    }

    #[test]
    fn bad_results_name_the_field_or_the_line() {
        let ocr = OcrIntake::new(0.9);
        let e = ocr
            .read(r#"{"document_type":"tax_return","fields":{"name":{"value":"a","confidence":2}}}"#)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "document_type: is not a known OCR document type code; fields.name.confidence: must be between 0 and 1; \
             fields.birth_date: is required"
        );
        let e = ocr.read("{\n \"document_type\": 3 }").unwrap_err();
        assert!(e.to_string().contains("line 2 column"), "{e}");
        let e = ocr
            .read(r#"{"document_type":"passport","fields":{"name":{"value":"A","confidence":1},"birth_date":{"value":"平成31年5月1日","confidence":1}}}"#)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "fields.birth_date.value: is not within the era 平成 (after the era ended)"
        );
        let no_sex = ocr
            .read(r#"{"document_type":"passport","fields":{"name":{"value":"A","confidence":1},"birth_date":{"value":"2000-01-01","confidence":1}}}"#)
            .unwrap();
        assert_eq!(no_sex.facts.sex, Sex::NotKnown);
        assert_eq!(no_sex.needs_confirmation, [FieldPath::field("facts.sex")]);
    }
}
