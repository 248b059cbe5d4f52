//! Intake channels other than cards, each into the same [`renkei_model::IdentityEvidence`]:
//!
//! - [`qr`]: the pre-entry QR payload a resident makes at home — versioned, compact (protobuf,
//!   DEFLATE, Base45 for the QR alphanumeric mode), signed with Ed25519 and expiring
//!   (docs/qr-pre-entry.md). [`QrSigner::encode`] makes one, [`QrVerifier::decode`] checks and
//!   reads one; [`image`] draws it as SVG or PNG and reads it back from a PNG.
//! - [`ocr`]: an external OCR engine's JSON result; fields under the configured confidence are
//!   flagged for staff confirmation.
//!
//! And one into [`renkei_model::Application`]s:
//!
//! - [`online`]: application XML of an online application service, streamed and read through
//!   an XML mapping of the mapping engine ([`OnlineIntake`]).

mod base45;
pub mod image;
pub mod ocr;
pub mod online;
pub mod qr;

pub use ocr::{OcrError, OcrIntake};
pub use online::{OnlineBatch, OnlineIntake, OnlineLimits, Refusal, RefusalKind};
pub use qr::{KeyError, PreEntry, PreEntryPerson, QrError, QrSigner, QrVerifier, VerifiedPreEntry};

/// For fuzzing and tools: Base45 as the payload uses it.
pub mod text {
    pub use crate::base45::{decode, encode};
}
