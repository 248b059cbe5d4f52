//! The canonical model of renkei: every input channel maps into these types and every core
//! system's adapter maps out of them.
//!
//! Values are checked when they are made, and a broken rule is reported with the path of the
//! field and the rule ([`ValidationError`]): `applicant.address.banchi: is required`.
//!
//! ```
//! use renkei_model::{Date, IndividualNumber, MojiText};
//!
//! let born = Date::parse_any("平成元年1月8日").unwrap();
//! assert_eq!(born.to_string(), "1989-01-08");
//! assert_eq!(Date::from_ymd(1989, 1, 7).unwrap().to_wareki_string().unwrap(), "昭和64年1月7日");
//!
//! let name = MojiText::new("葛\u{E0100}城").unwrap();
//! assert!(name.has_variation_selectors()); // never dropped
//!
//! let err = "123456789017".parse::<IndividualNumber>().unwrap_err();
//! assert_eq!(err.to_string(), "(value): check digit does not match"); // no digits in the message
//! ```

mod application;
mod codes;
mod date;
mod error;
mod evidence;
mod ids;
mod moji;
mod procedure;
mod resident;
#[cfg(feature = "test-support")]
pub mod testing;

pub use application::{Application, ApplicationStatus, FieldValue, Provenance, validate_field_name};
pub use codes::{Kin, LifeEvent, Relationship, ResidentStatus, Sex};
pub use date::{Date, Era, Wareki};
pub use error::{FieldPath, Rule, ValidationError, ValidationErrors};
pub use evidence::{AssuranceLevel, BasicFacts, CardKind, EvidenceSource, IdentityEvidence};
pub use ids::{
    AtenaNumber, HouseholdNumber, IndividualNumber, IntegratedAtenaNumber, LocalGovernmentCode, PostalCode,
};
pub use moji::{MojiText, is_private_use, is_variation_selector};
pub use procedure::{Acceptance, ProcedureId, Processing, pattern};
pub use resident::{Address, Household, KanaText, NameWithKana, Nationality, PersonName, Resident};
