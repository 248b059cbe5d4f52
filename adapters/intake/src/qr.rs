//! The pre-entry QR payload, format version 1 (docs/qr-pre-entry.md).
//!
//! ```text
//! text      = "RK:" Base45(envelope)
//! envelope  = version (1 byte, = 1) | key id length (1 byte, 1..=16) | key id (ASCII)
//!             | body: raw DEFLATE of the protobuf renkei.qr.v1.PreEntry
//!             | Ed25519 signature (64 bytes) over "renkei-qr-pre-entry" | everything before it
//! ```
//! A reader checks in this order and refuses with its own error at the first failure: size,
//! prefix and Base45, version, key id, signature, inflated size, protobuf, content, expiry. The
//! signature is checked before anything is inflated, so an unsigned payload costs nothing.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use prost::Message;
use renkei_model::{
    AssuranceLevel, BasicFacts, Date, EvidenceSource, IdentityEvidence, LifeEvent, MojiText, Relationship,
    Sex, ValidationError, ValidationErrors,
};
use serde::{Deserialize, Serialize};

use crate::base45;

// prost writes `pub` items; the module itself is private, so they stay inside the crate.
#[allow(unreachable_pub)]
mod wire {
    include!(concat!(env!("OUT_DIR"), "/renkei.qr.v1.rs"));
}

/// The text every payload starts with.
pub const PREFIX: &str = "RK:";
/// The one format version this build reads and writes.
pub const VERSION: u8 = 1;
/// The largest payload accepted, in characters: what a QR code of version 25 holds at error
/// correction level M in alphanumeric mode. Version 25 is 117 modules wide; at 4 printer dots
/// per module plus the quiet zone it is 500 dots, inside the 576 dots of an 80 mm receipt printer
/// at 203 dpi.
pub const MAX_PAYLOAD_CHARS: usize = 1_451;
/// The QR code version [`MAX_PAYLOAD_CHARS`] is derived from.
pub const MAX_QR_VERSION: i16 = 25;
/// The largest inflated body accepted (a household of ten with long answers is far below it).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
const SIGNATURE_DOMAIN: &[u8] = b"renkei-qr-pre-entry";
const MAX_KEY_ID: usize = 16;

/// One person in a pre-entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreEntryPerson {
    pub name: MojiText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_kana: Option<MojiText>,
    pub birth_date: Date,
    pub sex: Sex,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<Relationship>,
}

/// What the resident filled in at home. As JSON it is the input of `renkei qr make`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreEntry {
    pub life_event: LifeEvent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_date: Option<Date>,
    pub applicant: PreEntryPerson,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<MojiText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_address: Option<MojiText>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<PreEntryPerson>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub answers: BTreeMap<String, String>,
}

/// A pre-entry read from a payload whose signature and expiry were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPreEntry {
    pub entry: PreEntry,
    pub key_id: String,
    /// Seconds since the Unix epoch.
    pub issued_at: i64,
    pub expires_at: i64,
}

impl VerifiedPreEntry {
    /// The applicant as identity evidence: signed by the municipality's pre-entry service, so
    /// assurance is substantial (not yet checked against a document).
    pub fn identity(&self) -> IdentityEvidence {
        let a = &self.entry.applicant;
        IdentityEvidence {
            source: EvidenceSource::Qr,
            assurance: AssuranceLevel::Substantial,
            facts: BasicFacts {
                name: a.name.clone(),
                name_kana: a.name_kana.clone(),
                address: self.entry.address.clone(),
                birth_date: a.birth_date,
                sex: a.sex,
            },
            individual_number: None,
            needs_confirmation: Vec::new(),
        }
    }
}

/// Why a payload was refused. Each kind has its own variant and [`QrError::reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    #[error("payload is {chars} characters, more than the {max} one printable QR code holds")]
    Oversize { chars: usize, max: usize },
    #[error("payload inflates to more than {max} bytes")]
    OversizeBody { max: usize },
    #[error("not a renkei pre-entry payload (it must start with {PREFIX:?})")]
    NotPreEntry,
    #[error("malformed payload: {0}")]
    Malformed(String),
    #[error("format version {0} is not known to this build (it reads version {VERSION})")]
    UnknownVersion(u8),
    #[error("signed with key {0:?}, which is not configured")]
    UnknownKey(String),
    #[error("signature does not match: the payload was altered or not made by the pre-entry service")]
    Tampered,
    #[error("expired at {expired_at} (Unix seconds); the resident must make a new code")]
    Expired { expired_at: i64 },
    #[error("invalid content: {0}")]
    Invalid(ValidationErrors),
}

impl QrError {
    /// A stable reason for APIs: `QR_TAMPERED`, `QR_EXPIRED`, …
    pub fn reason(&self) -> &'static str {
        match self {
            QrError::Oversize { .. } | QrError::OversizeBody { .. } => "QR_OVERSIZE",
            QrError::NotPreEntry | QrError::Malformed(_) => "QR_MALFORMED",
            QrError::UnknownVersion(_) => "QR_UNKNOWN_VERSION",
            QrError::UnknownKey(_) => "QR_UNKNOWN_KEY",
            QrError::Tampered => "QR_TAMPERED",
            QrError::Expired { .. } => "QR_EXPIRED",
            QrError::Invalid(_) => "QR_INVALID",
        }
    }
}

/// A key that is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key {key_id:?}: {reason}")]
pub struct KeyError {
    pub key_id: String,
    pub reason: &'static str,
}

fn hex32(key_id: &str, hex: &str) -> Result<[u8; 32], KeyError> {
    let err = |reason| KeyError { key_id: key_id.to_owned(), reason };
    let hex = hex.trim();
    if hex.len() != 64 {
        return Err(err("must be 64 hex digits (32 bytes)"));
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16)
            .map_err(|_| err("must be 64 hex digits (32 bytes)"))?;
    }
    Ok(out)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_key_id(key_id: &str) -> Result<(), KeyError> {
    if key_id.is_empty() || key_id.len() > MAX_KEY_ID || !key_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(KeyError {
            key_id: key_id.to_owned(),
            reason: "key id must be 1 to 16 printable ASCII characters",
        });
    }
    Ok(())
}

/// The pre-entry service's signing key.
pub struct QrSigner {
    key_id: String,
    key: SigningKey,
}

impl std::fmt::Debug for QrSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QrSigner").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl QrSigner {
    /// From the 32-byte secret seed written as 64 hex digits.
    pub fn from_hex(key_id: &str, secret_hex: &str) -> Result<Self, KeyError> {
        check_key_id(key_id)?;
        Ok(Self { key_id: key_id.to_owned(), key: SigningKey::from_bytes(&hex32(key_id, secret_hex)?) })
    }

    /// A fresh key from the operating system's random source.
    pub fn generate(key_id: &str) -> Result<Self, KeyError> {
        check_key_id(key_id)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|_| KeyError { key_id: key_id.to_owned(), reason: "no random source available" })?;
        Ok(Self { key_id: key_id.to_owned(), key: SigningKey::from_bytes(&seed) })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The secret seed as 64 hex digits (to store in the key file).
    pub fn secret_hex(&self) -> String {
        to_hex(&self.key.to_bytes())
    }

    /// The public key as 64 hex digits (for `[intake].qr_keys`).
    pub fn public_hex(&self) -> String {
        to_hex(self.key.verifying_key().as_bytes())
    }

    /// The payload text for `entry`, valid from `issued_at` to `expires_at` (Unix seconds).
    /// Refused with [`QrError::Oversize`] when it would not fit one printable QR code.
    pub fn encode(&self, entry: &PreEntry, issued_at: i64, expires_at: i64) -> Result<String, QrError> {
        let body = to_wire(entry, issued_at, expires_at).encode_to_vec();
        let text = self.seal(&miniz_oxide::deflate::compress_to_vec(&body, 10));
        if text.len() > MAX_PAYLOAD_CHARS {
            return Err(QrError::Oversize { chars: text.len(), max: MAX_PAYLOAD_CHARS });
        }
        Ok(text)
    }

    /// Sign any bytes as the (compressed) body, with no size limit: for tests and fuzzing of
    /// what a reader does after the signature check.
    pub fn seal(&self, compressed: &[u8]) -> String {
        let mut envelope = Vec::with_capacity(2 + self.key_id.len() + compressed.len() + 64);
        envelope.push(VERSION);
        envelope.push(self.key_id.len() as u8);
        envelope.extend_from_slice(self.key_id.as_bytes());
        envelope.extend_from_slice(compressed);
        let signature = self.key.sign(&[SIGNATURE_DOMAIN, &envelope].concat());
        envelope.extend_from_slice(&signature.to_bytes());
        format!("{PREFIX}{}", base45::encode(&envelope))
    }
}

/// The keys payloads may be signed with.
#[derive(Debug, Clone, Default)]
pub struct QrVerifier {
    keys: BTreeMap<String, VerifyingKey>,
}

impl QrVerifier {
    /// From public keys (64 hex digits) by key id, as `[intake].qr_keys` holds them.
    pub fn from_hex_keys(keys: &BTreeMap<String, String>) -> Result<Self, KeyError> {
        let mut out = BTreeMap::new();
        for (id, hex) in keys {
            check_key_id(id)?;
            let key = VerifyingKey::from_bytes(&hex32(id, hex)?)
                .map_err(|_| KeyError { key_id: id.clone(), reason: "is not an Ed25519 public key" })?;
            out.insert(id.clone(), key);
        }
        Ok(Self { keys: out })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Check and read `text` at `now` (Unix seconds).
    pub fn decode(&self, text: &str, now: i64) -> Result<VerifiedPreEntry, QrError> {
        let text = text.trim();
        if text.len() > MAX_PAYLOAD_CHARS {
            return Err(QrError::Oversize { chars: text.len(), max: MAX_PAYLOAD_CHARS });
        }
        let body_text = text.strip_prefix(PREFIX).ok_or(QrError::NotPreEntry)?;
        let envelope = base45::decode(body_text).map_err(|(at, what)| {
            QrError::Malformed(format!("at character {}: {what}", at + PREFIX.len()))
        })?;
        let version = *envelope.first().ok_or_else(|| QrError::Malformed("empty envelope".into()))?;
        if version != VERSION {
            return Err(QrError::UnknownVersion(version));
        }
        let key_len = usize::from(*envelope.get(1).ok_or_else(|| QrError::Malformed("no key id".into()))?);
        if key_len == 0 || key_len > MAX_KEY_ID || envelope.len() < 2 + key_len + 64 {
            return Err(QrError::Malformed("envelope too short for its key id and signature".into()));
        }
        let key_id = std::str::from_utf8(&envelope[2..2 + key_len])
            .map_err(|_| QrError::Malformed("key id is not ASCII".into()))?
            .to_owned();
        let key = self.keys.get(&key_id).ok_or_else(|| QrError::UnknownKey(key_id.clone()))?;
        let (signed, signature) = envelope.split_at(envelope.len() - 64);
        let signature = Signature::from_slice(signature).map_err(|_| QrError::Tampered)?;
        key.verify(&[SIGNATURE_DOMAIN, signed].concat(), &signature).map_err(|_| QrError::Tampered)?;
        let compressed = &signed[2 + key_len..];
        let body =
            miniz_oxide::inflate::decompress_to_vec_with_limit(compressed, MAX_BODY_BYTES).map_err(|e| {
                match e.status {
                    miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
                        QrError::OversizeBody { max: MAX_BODY_BYTES }
                    }
                    _ => QrError::Malformed("body is not valid DEFLATE".into()),
                }
            })?;
        let wire = wire::PreEntry::decode(body.as_slice())
            .map_err(|e| QrError::Malformed(format!("body is not a PreEntry message ({e})")))?;
        let (entry, issued_at, expires_at) = from_wire(wire).map_err(QrError::Invalid)?;
        if now >= expires_at {
            return Err(QrError::Expired { expired_at: expires_at });
        }
        Ok(VerifiedPreEntry { entry, key_id, issued_at, expires_at })
    }
}

fn date_number(d: Date) -> u32 {
    d.year() as u32 * 10_000 + d.month() * 100 + d.day()
}

fn person_to_wire(p: &PreEntryPerson) -> wire::Person {
    wire::Person {
        name: p.name.to_string(),
        name_kana: p.name_kana.as_ref().map(ToString::to_string).unwrap_or_default(),
        birth_date: date_number(p.birth_date),
        sex: u32::from(p.sex.iso5218()),
        relationship: p.relationship.as_ref().map(ToString::to_string).unwrap_or_default(),
    }
}

fn life_event_number(e: LifeEvent) -> u32 {
    LifeEvent::ALL.iter().position(|x| *x == e).expect("every event is in ALL") as u32 + 1
}

fn to_wire(entry: &PreEntry, issued_at: i64, expires_at: i64) -> wire::PreEntry {
    wire::PreEntry {
        issued_at,
        expires_at,
        life_event: life_event_number(entry.life_event),
        event_date: entry.event_date.map(date_number).unwrap_or(0),
        applicant: Some(person_to_wire(&entry.applicant)),
        address: entry.address.as_ref().map(ToString::to_string).unwrap_or_default(),
        new_address: entry.new_address.as_ref().map(ToString::to_string).unwrap_or_default(),
        members: entry.members.iter().map(person_to_wire).collect(),
        answers: entry.answers.clone(),
    }
}

fn date_from_number(n: u32) -> Result<Date, ValidationError> {
    Date::parse_yyyymmdd(&format!("{n:08}"))
}

fn optional_moji(s: String) -> Result<Option<MojiText>, ValidationError> {
    if s.is_empty() { Ok(None) } else { MojiText::new(s).map(Some) }
}

fn person_from_wire(p: wire::Person, errors: &mut ValidationErrors, at: &str) -> Option<PreEntryPerson> {
    let mut inner = ValidationErrors::new();
    let name = inner.check("name", MojiText::required(p.name));
    let name_kana = inner.check("name_kana", optional_moji(p.name_kana));
    let birth_date = inner.check("birth_date", date_from_number(p.birth_date));
    let sex = inner.check(
        "sex",
        u8::try_from(p.sex)
            .map_err(|_| ValidationError::new(renkei_model::Rule::UnknownCode { table: "sex (ISO 5218)" }))
            .and_then(Sex::from_iso5218),
    );
    let relationship = if p.relationship.is_empty() {
        Some(None)
    } else {
        inner.check("relationship", p.relationship.parse::<Relationship>().map(Some))
    };
    let ok = inner.is_empty();
    errors.extend_under(at, inner);
    match (name, name_kana, birth_date, sex, relationship) {
        (Some(name), Some(name_kana), Some(birth_date), Some(sex), Some(relationship)) if ok => {
            Some(PreEntryPerson { name, name_kana, birth_date, sex, relationship })
        }
        _ => None,
    }
}

fn from_wire(w: wire::PreEntry) -> Result<(PreEntry, i64, i64), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let life_event = usize::try_from(w.life_event)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| LifeEvent::ALL.get(i).copied());
    if life_event.is_none() {
        errors
            .push(ValidationError::at("life_event", renkei_model::Rule::UnknownCode { table: "life event" }));
    }
    let event_date = match w.event_date {
        0 => Some(None),
        n => errors.check("event_date", date_from_number(n).map(Some)),
    };
    let applicant = match w.applicant {
        Some(p) => person_from_wire(p, &mut errors, "applicant"),
        None => {
            errors.push(ValidationError::at("applicant", renkei_model::Rule::Required));
            None
        }
    };
    let address = errors.check("address", optional_moji(w.address));
    let new_address = errors.check("new_address", optional_moji(w.new_address));
    let members: Vec<Option<PreEntryPerson>> = w
        .members
        .into_iter()
        .enumerate()
        .map(|(i, m)| person_from_wire(m, &mut errors, &format!("members[{i}]")))
        .collect();
    if w.expires_at <= w.issued_at {
        errors.push(ValidationError::at("expires_at", renkei_model::Rule::Other("is not after issued_at")));
    }
    match (life_event, event_date, applicant, address, new_address) {
        (Some(life_event), Some(event_date), Some(applicant), Some(address), Some(new_address))
            if errors.is_empty() =>
        {
            let entry = PreEntry {
                life_event,
                event_date,
                applicant,
                address,
                new_address,
                members: members.into_iter().flatten().collect(),
                answers: w.answers,
            };
            Ok((entry, w.issued_at, w.expires_at))
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

    fn signer() -> QrSigner {
        QrSigner::from_hex("2026a", SECRET).unwrap()
    }

    fn verifier() -> QrVerifier {
        QrVerifier::from_hex_keys(&[("2026a".to_owned(), signer().public_hex())].into()).unwrap()
    }

    pub(crate) fn person(name: &str, born: (i32, u32, u32), sex: Sex, rel: &str) -> PreEntryPerson {
        PreEntryPerson {
            name: MojiText::new(name).unwrap(),
            name_kana: None,
            birth_date: Date::from_ymd(born.0, born.1, born.2).unwrap(),
            sex,
            relationship: Some(rel.parse().unwrap()),
        }
    }

    fn entry() -> PreEntry {
        PreEntry {
            life_event: LifeEvent::MoveIn,
            event_date: Some(Date::from_ymd(2026, 11, 20).unwrap()),
            applicant: person("葛\u{E0100}西\u{3000}太郎", (1989, 1, 8), Sex::Male, "世帯主"),
            address: Some(MojiText::new("東京都千代田区霞が関一丁目1番2号").unwrap()),
            new_address: Some(MojiText::new("神奈川県横浜市中区桜町一丁目3番12号").unwrap()),
            members: vec![person("葛\u{E0100}西\u{3000}美咲", (1989, 1, 7), Sex::Female, "妻")],
            answers: [("school_age_children".to_owned(), "no".to_owned())].into(),
        }
    }

    #[test]
    fn round_trip_keeps_every_code_point() {
        let text = signer().encode(&entry(), 1_000, 2_000).unwrap();
        assert!(text.starts_with("RK:"));
        assert!(text.bytes().all(|b| b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(&b)));
        let read = verifier().decode(&text, 1_500).unwrap();
        assert_eq!(read.entry, entry());
        assert_eq!((read.issued_at, read.expires_at, read.key_id.as_str()), (1_000, 2_000, "2026a"));
        let identity = read.identity();
        assert_eq!(identity.facts.name.as_str(), "葛\u{E0100}西\u{3000}太郎");
        assert_eq!(identity.assurance, AssuranceLevel::Substantial);
    }

    #[test]
    fn every_refusal_has_its_own_error() {
        let text = signer().encode(&entry(), 1_000, 2_000).unwrap();
        let v = verifier();
        assert_eq!(v.decode(&text, 2_000).unwrap_err(), QrError::Expired { expired_at: 2_000 });

        // One byte of the signed body changed.
        let mut envelope = base45::decode(&text[3..]).unwrap();
        envelope[10] ^= 0x01;
        let tampered = format!("RK:{}", base45::encode(&envelope));
        assert_eq!(v.decode(&tampered, 1_500).unwrap_err(), QrError::Tampered);

        let mut v2 = base45::decode(&text[3..]).unwrap();
        v2[0] = 2;
        assert_eq!(
            v.decode(&format!("RK:{}", base45::encode(&v2)), 1_500).unwrap_err(),
            QrError::UnknownVersion(2)
        );

        let other = QrSigner::from_hex("other", SECRET).unwrap().encode(&entry(), 1_000, 2_000).unwrap();
        assert_eq!(v.decode(&other, 1_500).unwrap_err(), QrError::UnknownKey("other".into()));

        let huge = format!("RK:{}", "0".repeat(MAX_PAYLOAD_CHARS));
        assert!(matches!(v.decode(&huge, 1_500).unwrap_err(), QrError::Oversize { .. }));
        assert_eq!(v.decode("HC1:6BF", 1_500).unwrap_err(), QrError::NotPreEntry);
        assert_eq!(
            v.decode("RK:AB_", 1_500).unwrap_err().to_string(),
            "malformed payload: at character 5: is not a Base45 character"
        );
        let reasons: std::collections::BTreeSet<&str> = [
            QrError::Expired { expired_at: 0 }.reason(),
            QrError::Tampered.reason(),
            QrError::UnknownVersion(2).reason(),
            QrError::Oversize { chars: 0, max: 0 }.reason(),
        ]
        .into();
        assert_eq!(reasons.len(), 4);
    }

    #[test]
    fn a_signed_bomb_is_refused_by_size_not_inflated() {
        // A body that inflates far past the limit, correctly signed: refused as oversize.
        let zeros = vec![0u8; 200_000];
        let text = signer().seal(&miniz_oxide::deflate::compress_to_vec(&zeros, 10));
        assert_eq!(verifier().decode(&text, 1).unwrap_err(), QrError::OversizeBody { max: MAX_BODY_BYTES });
    }

    #[test]
    fn invalid_content_names_the_field() {
        let mut w = to_wire(&entry(), 1_000, 2_000);
        w.members[0].birth_date = 19891308;
        w.life_event = 42;
        let e = from_wire(w).unwrap_err();
        assert_eq!(
            e.to_string(),
            "life_event: is not a known life event code; members[0].birth_date: is not a valid date (no such day)"
        );
    }

    #[test]
    fn keys_are_checked() {
        assert!(QrSigner::from_hex("k", "00").is_err());
        assert!(QrSigner::from_hex("", SECRET).is_err());
        let generated = QrSigner::generate("k1").unwrap();
        assert_eq!(generated.public_hex().len(), 64);
        assert_eq!(
            QrSigner::from_hex("k1", &generated.secret_hex()).unwrap().public_hex(),
            generated.public_hex()
        );
    }
}
