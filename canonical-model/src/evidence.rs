//! What a resident presents at the counter, whatever the device: an IC card, a QR code from a
//! pre-entry, an OCR'd document, an online application or staff's typing. Every channel produces
//! one [`IdentityEvidence`], so everything after intake is the same pipeline.

use serde::{Deserialize, Serialize};

use crate::codes::Sex;
use crate::date::Date;
use crate::error::{FieldPath, Rule, ValidationError, ValidationErrors};
use crate::ids::IndividualNumber;
use crate::moji::MojiText;

/// Which card a chip was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    /// マイナンバーカード (input-assistance application).
    MyNumberCard,
    /// 運転免許証
    DriversLicense,
    /// 在留カード
    ResidenceCard,
}

/// The channel evidence came through.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum EvidenceSource {
    Card {
        card: CardKind,
    },
    /// A pre-entry QR code made by the resident before the visit.
    Qr,
    /// An external OCR engine's reading of a document (`document` names its type).
    Ocr {
        document: String,
    },
    /// An online application (e.g. from the national online application service).
    Online,
    /// Typed by staff.
    Manual,
}

/// How far the identity is assured, after the levels of the national identity-proofing guideline
/// (DS-500: 身元確認保証レベル): low is self-declared, substantial is a document checked by a
/// person or a signed pre-entry, high is an IC chip read with its PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssuranceLevel {
    Low,
    Substantial,
    High,
}

/// The basic four facts (基本4情報) as a document states them: name and address as single lines,
/// because that is how the card and most documents carry them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BasicFacts {
    pub name: MojiText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_kana: Option<MojiText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<MojiText>,
    pub birth_date: Date,
    pub sex: Sex,
}

/// Identity as presented, before it is matched to the resident record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityEvidence {
    pub source: EvidenceSource,
    pub assurance: AssuranceLevel,
    pub facts: BasicFacts,
    /// Read from the card's file 0001 only when the caller's role permits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub individual_number: Option<IndividualNumber>,
    /// Fields staff must confirm before they are trusted (e.g. OCR readings under the confidence
    /// threshold), as paths into `facts` (`facts.birth_date`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs_confirmation: Vec<FieldPath>,
}

impl IdentityEvidence {
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if self.facts.name.as_str().trim().is_empty() {
            errors.push(ValidationError::at("name", Rule::Required).under("facts"));
        }
        if self.facts.birth_date > Date::today() {
            errors.push(ValidationError::at("birth_date", Rule::Other("is in the future")).under("facts"));
        }
        errors.into_result()
    }

    /// Whether staff still have fields to confirm.
    pub fn is_confirmed(&self) -> bool {
        self.needs_confirmation.is_empty()
    }
}
