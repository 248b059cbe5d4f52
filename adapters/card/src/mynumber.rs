//! The My Number card's input-assistance application (券面事項入力補助AP).
//!
//! Files (jpki/myna `libmyna/text_ap.go`; OpenSC `src/libopensc/jpki.h` for the AIDs):
//! - EF 0011: the 4-digit PIN. VERIFY without data asks the tries left without spending one.
//! - EF 0002: the basic four facts, one private constructed TLV `FF 20` holding `DF 21` (a header
//!   of offsets), `DF 22` name, `DF 23` address, `DF 24` birth date (`YYYYMMDD`), `DF 25` sex
//!   (ISO 5218 digit). Text is UTF-8, so IVS selectors arrive as written.
//! - EF 0001: the individual number, `D0` (private tag 16) with 12 ASCII digits.

use renkei_model::{Date, IndividualNumber, MojiText, Sex};

use crate::apdu::CardChannel;
use crate::error::CardError;
use crate::file::{read_tlv_file, select_application, select_ef};
use crate::pin::Pin;
use crate::tlv::{self, Tag, TlvError};

/// AID of the input-assistance application.
pub const AID: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
const EF_INDIVIDUAL_NUMBER: [u8; 2] = [0x00, 0x01];
const EF_BASIC_FACTS: [u8; 2] = [0x00, 0x02];
const EF_PIN: [u8; 2] = [0x00, 0x11];
/// VERIFY's P2 for a PIN selected as the current EF.
const PIN_REFERENCE: u8 = 0x80;

pub const TAG_BASIC_FACTS: Tag = Tag(0xFF20);
pub const TAG_HEADER: Tag = Tag(0xDF21);
pub const TAG_NAME: Tag = Tag(0xDF22);
pub const TAG_ADDRESS: Tag = Tag(0xDF23);
pub const TAG_BIRTH_DATE: Tag = Tag(0xDF24);
pub const TAG_SEX: Tag = Tag(0xDF25);
pub const TAG_INDIVIDUAL_NUMBER: Tag = Tag(0xD0);

/// The largest basic-facts file accepted: the name and address items of the card are bounded
/// well below this, so a larger declared length is corruption.
const MAX_BASIC_FACTS: usize = 2048;
const MAX_INDIVIDUAL_NUMBER: usize = 32;

const FILE_BASIC_FACTS: &str = "0002 (basic four facts)";
const FILE_INDIVIDUAL_NUMBER: &str = "0001 (individual number)";

/// The basic four facts as the chip holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyNumberFacts {
    pub name: MojiText,
    pub address: MojiText,
    pub birth_date: Date,
    pub sex: Sex,
}

/// Select the application; `false` when the card has no such application.
pub fn select<C: CardChannel + ?Sized>(ch: &mut C) -> Result<bool, CardError> {
    select_application(ch, &AID)
}

/// Tries left on the PIN, asked without spending one. 0 means blocked.
pub fn pin_tries_left<C: CardChannel + ?Sized>(ch: &mut C) -> Result<u8, CardError> {
    select_ef(ch, EF_PIN)?;
    crate::pin_status(ch, PIN_REFERENCE)
}

/// Verify the PIN, given the tries left that [`pin_tries_left`] reported. With one try left the
/// PIN is only sent when `staff_confirmed_last_try` says so.
pub fn verify_pin<C: CardChannel + ?Sized>(
    ch: &mut C,
    pin: &Pin,
    tries_left: u8,
    staff_confirmed_last_try: bool,
) -> Result<(), CardError> {
    select_ef(ch, EF_PIN)?;
    crate::verify(ch, PIN_REFERENCE, pin, tries_left, staff_confirmed_last_try)
}

/// Read and decode file 0002 (the PIN must have been verified).
pub fn read_basic_facts<C: CardChannel + ?Sized>(ch: &mut C) -> Result<MyNumberFacts, CardError> {
    select_ef(ch, EF_BASIC_FACTS)?;
    let bytes = read_tlv_file(ch, FILE_BASIC_FACTS, MAX_BASIC_FACTS)?;
    decode_basic_facts(&bytes)
}

/// Read file 0001. Callers decide whether the caller's role permits it; the number is never
/// logged, and errors about it never contain digits.
pub fn read_individual_number<C: CardChannel + ?Sized>(ch: &mut C) -> Result<IndividualNumber, CardError> {
    select_ef(ch, EF_INDIVIDUAL_NUMBER)?;
    let bytes = read_tlv_file(ch, FILE_INDIVIDUAL_NUMBER, MAX_INDIVIDUAL_NUMBER)?;
    decode_individual_number(&bytes)
}

/// Decode the bytes of file 0002 strictly (the TLV tree, then each field).
pub fn decode_basic_facts(bytes: &[u8]) -> Result<MyNumberFacts, CardError> {
    let malformed = |error: TlvError| CardError::MalformedTlv { file: FILE_BASIC_FACTS, error };
    let outer = tlv::parse_single(bytes, TAG_BASIC_FACTS).map_err(malformed)?;
    let children = outer.children().map_err(malformed)?;
    let [_header, name, address, birth, sex] = tlv::expect_in_order(
        &children,
        [TAG_HEADER, TAG_NAME, TAG_ADDRESS, TAG_BIRTH_DATE, TAG_SEX],
        bytes.len(),
    )
    .map_err(malformed)?;
    let bad =
        |field: &'static str, reason: String| CardError::BadField { file: FILE_BASIC_FACTS, field, reason };
    let text = |field: &'static str, value: &[u8]| -> Result<MojiText, CardError> {
        let s = std::str::from_utf8(value).map_err(|e| bad(field, format!("is not UTF-8 ({e})")))?;
        MojiText::new(s).map_err(|e| bad(field, e.rule.to_string()))
    };
    let name = text("name", name)?;
    if name.as_str().trim().is_empty() {
        return Err(bad("name", "is empty".into()));
    }
    let address = text("address", address)?;
    let birth = std::str::from_utf8(birth).map_err(|_| bad("birth date", "is not ASCII digits".into()))?;
    let birth_date = Date::parse_yyyymmdd(birth).map_err(|e| bad("birth date", e.rule.to_string()))?;
    let sex = match sex {
        [d] if d.is_ascii_digit() => {
            Sex::from_iso5218(d - b'0').map_err(|e| bad("sex", e.rule.to_string()))?
        }
        _ => return Err(bad("sex", "must be one ISO 5218 digit".into())),
    };
    Ok(MyNumberFacts { name, address, birth_date, sex })
}

/// Decode the bytes of file 0001.
pub fn decode_individual_number(bytes: &[u8]) -> Result<IndividualNumber, CardError> {
    let malformed = |error: TlvError| CardError::MalformedTlv { file: FILE_INDIVIDUAL_NUMBER, error };
    let tlv = tlv::parse_single(bytes, TAG_INDIVIDUAL_NUMBER).map_err(malformed)?;
    let digits = tlv.primitive().map_err(malformed)?;
    let text = std::str::from_utf8(digits).unwrap_or("");
    IndividualNumber::parse(text).map_err(|e| CardError::BadField {
        file: FILE_INDIVIDUAL_NUMBER,
        field: "individual number",
        reason: e.rule.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlv::{TlvRule, encode};

    fn file(name: &str, address: &str, birth: &[u8], sex: &[u8]) -> Vec<u8> {
        let inner = [
            encode(TAG_HEADER, &[0x00; 17]),
            encode(TAG_NAME, name.as_bytes()),
            encode(TAG_ADDRESS, address.as_bytes()),
            encode(TAG_BIRTH_DATE, birth),
            encode(TAG_SEX, sex),
        ]
        .concat();
        encode(TAG_BASIC_FACTS, &inner)
    }

    #[test]
    fn decodes_an_ivs_name_exactly() {
        let f = decode_basic_facts(&file(
            "葛\u{E0100}西\u{3000}太郎",
            "神奈川県横浜市中区桜町一丁目3番12号",
            b"19890108",
            b"1",
        ))
        .unwrap();
        assert_eq!(f.name.as_str(), "葛\u{E0100}西\u{3000}太郎");
        assert_eq!(f.birth_date, Date::from_ymd(1989, 1, 8).unwrap());
        assert_eq!(f.sex, Sex::Male);
    }

    #[test]
    fn each_broken_field_is_named() {
        let e = decode_basic_facts(&file("名", "住所", b"19891308", b"1")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "file 0002 (basic four facts), birth date: is not a valid date (no such day)"
        );
        let e = decode_basic_facts(&file("名", "住所", b"19890108", b"3")).unwrap_err();
        assert!(matches!(e, CardError::BadField { field: "sex", .. }), "{e}");
        let e = decode_basic_facts(&file("\u{E0100}名", "住所", b"19890108", b"1")).unwrap_err();
        assert!(matches!(e, CardError::BadField { field: "name", .. }), "{e}");
        let mut bytes = file("名", "住所", b"19890108", b"1");
        let name_at = bytes.windows(2).position(|w| w == [0xDF, 0x22]).unwrap();
        bytes[name_at + 3] = 0xFF; // not UTF-8
        let e = decode_basic_facts(&bytes).unwrap_err();
        assert!(e.to_string().starts_with("file 0002 (basic four facts), name: is not UTF-8"), "{e}");
    }

    #[test]
    fn structure_is_strict() {
        let good = file("名", "住所", b"19890108", b"1");
        let mut trailing = good.clone();
        trailing.push(0x00);
        let e = decode_basic_facts(&trailing).unwrap_err();
        assert_eq!(e.reason(), "MALFORMED_CARD_DATA");
        assert!(
            matches!(&e, CardError::MalformedTlv { error, .. } if error.rule == TlvRule::TrailingBytes { count: 1 })
        );
        // Address and name swapped: the order is part of the format.
        let inner = [
            encode(TAG_HEADER, &[0; 3]),
            encode(TAG_ADDRESS, "住所".as_bytes()),
            encode(TAG_NAME, "名".as_bytes()),
            encode(TAG_BIRTH_DATE, b"19890108"),
            encode(TAG_SEX, b"1"),
        ]
        .concat();
        let e = decode_basic_facts(&encode(TAG_BASIC_FACTS, &inner)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "file 0002 (basic four facts): malformed data at byte 9: expected tag DF22, found DF23"
        );
    }

    #[test]
    fn individual_number_errors_carry_no_digits() {
        let valid = IndividualNumber::from_first_eleven("12345678901").unwrap();
        let n = decode_individual_number(&encode(TAG_INDIVIDUAL_NUMBER, valid.expose().as_bytes())).unwrap();
        assert_eq!(n, valid);
        let last = valid.expose().as_bytes()[11];
        let wrong = format!("12345678901{}", if last == b'9' { 0 } else { last - b'0' + 1 });
        let e = decode_individual_number(&encode(TAG_INDIVIDUAL_NUMBER, wrong.as_bytes())).unwrap_err();
        assert!(!e.to_string().contains("12345678901"), "{e}");
        assert_eq!(
            e.to_string(),
            "file 0001 (individual number), individual number: check digit does not match"
        );
    }
}
