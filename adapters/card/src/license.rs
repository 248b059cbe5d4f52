//! The driver's license (運転免許証), after the 警察庁 specification (運転免許証及び運転免許証作成
//! システム等仕様書) as public readers implement it (TRETJapanNFCReader, JDCardReaderCore):
//! - MF / EF 2F01, common data, readable without a PIN: tag `45` (specification version, three
//!   JIS X 0201 characters; issue and expiry dates, four BCD bytes each, `YYYYMMDD`) and tag `46`
//!   (card maker and cryptography identifiers).
//! - PIN1 (VERIFY P2 `81`), 4 digits, 3 tries.
//! - DF1 (AID `A0 00 00 02 31 01` + ten `00`) / EF 0001, 880 bytes after PIN1: a sequence of
//!   TLVs, `11` JIS X 0208 edition, `12` name, `13` reading (呼び名), `16` birth date (era digit +
//!   YYMMDD), `17` address, then issue data and license categories; text in JIS X 0208.

use renkei_model::{Date, Wareki};

use crate::apdu::{CardChannel, Command};
use crate::error::CardError;
use crate::file::{read_range, select_application, select_ef};
use crate::jis::JisText;
use crate::pin::Pin;
use crate::tlv::{self, Tag, TlvError, TlvRule};

pub const DF1_AID: [u8; 16] = [0xA0, 0x00, 0x00, 0x02, 0x31, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const EF_COMMON: [u8; 2] = [0x2F, 0x01];
const EF_DETAILS: [u8; 2] = [0x00, 0x01];
const PIN1_REFERENCE: u8 = 0x81;
/// Size of EF 2F01 and of DF1/EF 0001, from the specification.
pub const COMMON_DATA_LEN: usize = 0x11;
pub const DETAILS_LEN: usize = 880;

pub const TAG_COMMON: Tag = Tag(0x45);
pub const TAG_MAKER: Tag = Tag(0x46);
pub const TAG_EDITION: Tag = Tag(0x11);
pub const TAG_NAME: Tag = Tag(0x12);
pub const TAG_READING: Tag = Tag(0x13);
pub const TAG_BIRTH_DATE: Tag = Tag(0x16);
pub const TAG_ADDRESS: Tag = Tag(0x17);

const FILE_COMMON: &str = "MF/2F01 (license common data)";
const FILE_DETAILS: &str = "DF1/0001 (license details)";

/// EF 2F01.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonData {
    /// Specification version, e.g. `008`.
    pub spec_version: String,
    pub issued_on: Date,
    pub expires_on: Date,
}

/// What DF1/EF 0001 says about the holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseDetails {
    pub name: JisText,
    pub reading: JisText,
    pub address: JisText,
    pub birth_date: Date,
}

/// Select DF1; `false` when the card has no such application.
pub fn select_df1<C: CardChannel + ?Sized>(ch: &mut C) -> Result<bool, CardError> {
    select_application(ch, &DF1_AID)
}

fn select_mf<C: CardChannel + ?Sized>(ch: &mut C) -> Result<(), CardError> {
    let command = Command::select_mf();
    ch.transmit(&command)?.ok(&command).map(drop)
}

/// Read EF 2F01 (no PIN needed).
pub fn read_common_data<C: CardChannel + ?Sized>(ch: &mut C) -> Result<CommonData, CardError> {
    select_mf(ch)?;
    select_ef(ch, EF_COMMON)?;
    let bytes = read_range(ch, 0, COMMON_DATA_LEN)?;
    decode_common_data(&bytes)
}

/// Tries left on PIN1, asked without spending one.
pub fn pin1_tries_left<C: CardChannel + ?Sized>(ch: &mut C) -> Result<u8, CardError> {
    select_mf(ch)?;
    crate::pin_status(ch, PIN1_REFERENCE)
}

/// Verify PIN1 (see [`crate::mynumber::verify_pin`] for the last-try rule).
pub fn verify_pin1<C: CardChannel + ?Sized>(
    ch: &mut C,
    pin: &Pin,
    tries_left: u8,
    staff_confirmed_last_try: bool,
) -> Result<(), CardError> {
    select_mf(ch)?;
    crate::verify(ch, PIN1_REFERENCE, pin, tries_left, staff_confirmed_last_try)
}

/// Read DF1/EF 0001 (PIN1 must have been verified).
pub fn read_details<C: CardChannel + ?Sized>(ch: &mut C) -> Result<LicenseDetails, CardError> {
    if !select_application(ch, &DF1_AID)? {
        return Err(CardError::UnknownCard);
    }
    select_ef(ch, EF_DETAILS)?;
    let bytes = read_range(ch, 0, DETAILS_LEN)?;
    decode_details(&bytes)
}

fn bcd_date(file: &'static str, field: &'static str, bytes: &[u8]) -> Result<Date, CardError> {
    let bad = |reason: String| CardError::BadField { file, field, reason };
    let mut digits = String::with_capacity(8);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0F] {
            if nibble > 9 {
                return Err(bad("is not BCD digits".into()));
            }
            digits.push(char::from(b'0' + nibble));
        }
    }
    Date::parse_yyyymmdd(&digits).map_err(|e| bad(e.rule.to_string()))
}

/// Decode EF 2F01 strictly.
pub fn decode_common_data(bytes: &[u8]) -> Result<CommonData, CardError> {
    let malformed = |error: TlvError| CardError::MalformedTlv { file: FILE_COMMON, error };
    let tlvs = tlv::parse_all(bytes).map_err(malformed)?;
    let [common, _maker] =
        tlv::expect_in_order(&tlvs, [TAG_COMMON, TAG_MAKER], bytes.len()).map_err(malformed)?;
    if common.len() != 11 {
        return Err(CardError::BadField {
            file: FILE_COMMON,
            field: "common data",
            reason: format!("is {} bytes, the specification says 11", common.len()),
        });
    }
    let spec_version = std::str::from_utf8(&common[..3])
        .ok()
        .filter(|v| v.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or_else(|| CardError::BadField {
            file: FILE_COMMON,
            field: "specification version",
            reason: "is not three JIS X 0201 characters".into(),
        })?
        .to_owned();
    Ok(CommonData {
        spec_version,
        issued_on: bcd_date(FILE_COMMON, "issue date", &common[3..7])?,
        expires_on: bcd_date(FILE_COMMON, "expiry date", &common[7..11])?,
    })
}

/// Decode DF1/EF 0001 strictly: TLVs with distinct tags, then only padding (all `FF` or all
/// `00`) to the end of the file. The file's one-byte tags run 11..33 and are all primitive, even
/// those whose bit 6 would mark a constructed BER tag.
pub fn decode_details(bytes: &[u8]) -> Result<LicenseDetails, CardError> {
    let malformed = |error: TlvError| CardError::MalformedTlv { file: FILE_DETAILS, error };
    let mut pos = 0;
    let mut fields: Vec<tlv::Tlv<'_>> = Vec::new();
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.iter().all(|b| *b == 0xFF) || rest.iter().all(|b| *b == 0x00) {
            break;
        }
        let (field, used) = tlv::parse_one(rest, pos).map_err(malformed)?;
        if fields.iter().any(|f| f.tag == field.tag) {
            return Err(malformed(TlvError { offset: pos, rule: TlvRule::Duplicate(field.tag) }));
        }
        fields.push(field);
        pos += used;
    }
    let get = |tag: Tag| -> Result<&[u8], CardError> {
        fields
            .iter()
            .find(|f| f.tag == tag)
            .map(|f| f.value)
            .ok_or_else(|| malformed(TlvError { offset: pos, rule: TlvRule::Missing(tag) }))
    };
    get(TAG_EDITION)?;
    let text = |tag: Tag, field: &'static str| -> Result<JisText, CardError> {
        JisText::decode(get(tag)?).map_err(|reason| CardError::BadField { file: FILE_DETAILS, field, reason })
    };
    let name = text(TAG_NAME, "name")?;
    if name.is_empty() {
        return Err(CardError::BadField { file: FILE_DETAILS, field: "name", reason: "is empty".into() });
    }
    let reading = text(TAG_READING, "reading")?;
    let address = text(TAG_ADDRESS, "address")?;
    let birth = get(TAG_BIRTH_DATE)?;
    let bad_birth = |reason: String| CardError::BadField { file: FILE_DETAILS, field: "birth date", reason };
    let birth = std::str::from_utf8(birth).map_err(|_| bad_birth("is not era-coded digits".into()))?;
    let birth_date = Wareki::parse_code_form(birth)
        .and_then(Wareki::to_date)
        .map_err(|e| bad_birth(e.rule.to_string()))?;
    Ok(LicenseDetails { name, reading, address, birth_date })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlv::encode;

    fn jis(s: &str) -> Vec<u8> {
        encoding_rs::EUC_JP.encode(s).0.iter().map(|b| b & 0x7F).collect()
    }

    fn details(birth: &[u8], extra: &[u8]) -> Vec<u8> {
        let mut bytes = [
            encode(TAG_EDITION, &[0x03]),
            encode(TAG_NAME, &[jis("山"), vec![0xFF, 0xF1], jis("　健二")].concat()),
            encode(TAG_READING, &jis("ヤマザキ　ケンジ")),
            encode(Tag(0x14), &[]),
            encode(TAG_BIRTH_DATE, birth),
            encode(TAG_ADDRESS, &jis("神奈川県横浜市中区桜町一丁目３番１２号")),
            extra.to_vec(),
        ]
        .concat();
        bytes.resize(DETAILS_LEN, 0xFF);
        bytes
    }

    #[test]
    fn decodes_details_with_a_gaiji_marker_and_an_era_date() {
        let d = decode_details(&details(b"3520615", &[])).unwrap();
        assert_eq!(d.name.to_string(), "山(外字1)　健二");
        assert_eq!(d.reading.to_plain(), "ヤマザキ　ケンジ");
        assert_eq!(d.birth_date, Date::from_ymd(1977, 6, 15).unwrap());
        assert!(d.address.to_plain().starts_with("神奈川県横浜市"));
    }

    #[test]
    fn details_are_strict() {
        let e = decode_details(&details(b"4310501", &[])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "file DF1/0001 (license details), birth date: is not within the era 平成 (after the era ended)"
        );
        let e = decode_details(&details(b"3520615", &encode(TAG_NAME, &jis("別")))).unwrap_err();
        assert!(
            matches!(&e, CardError::MalformedTlv { error, .. } if error.rule == TlvRule::Duplicate(TAG_NAME)),
            "{e}"
        );
        let mut garbage = details(b"3520615", &[]);
        let n = garbage.len();
        garbage[n - 1] = 0x00; // padding must be uniform
        assert!(matches!(decode_details(&garbage).unwrap_err(), CardError::MalformedTlv { .. }));
    }

    #[test]
    fn common_data() {
        let mut v = b"008".to_vec();
        v.extend_from_slice(&[0x20, 0x24, 0x03, 0x01, 0x20, 0x29, 0x04, 0x15]);
        let bytes = [encode(TAG_COMMON, &v), encode(TAG_MAKER, &[0x01, 0x02])].concat();
        assert_eq!(bytes.len(), COMMON_DATA_LEN);
        let c = decode_common_data(&bytes).unwrap();
        assert_eq!(
            (c.spec_version.as_str(), c.issued_on.to_string(), c.expires_on.to_string()),
            ("008", "2024-03-01".into(), "2029-04-15".into())
        );
        let mut bad = bytes.clone();
        bad[6] = 0x1A;
        assert_eq!(
            decode_common_data(&bad).unwrap_err().to_string(),
            "file MF/2F01 (license common data), issue date: is not BCD digits"
        );
    }
}
