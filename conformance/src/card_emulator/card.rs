//! The cards themselves: files, PINs with their tries counters, and the ISO 7816-4 commands a
//! reader sends (SELECT, VERIFY, READ BINARY). Written from the card specifications' public
//! descriptions, independently of renkei's reader, so the reader is tested against something
//! it did not write.

use renkei_model::{Date, Resident};

/// Status words the cards answer.
mod sw {
    pub(super) const OK: u16 = 0x9000;
    pub(super) const END_OF_FILE: u16 = 0x6282;
    pub(super) const WRONG_LENGTH: u16 = 0x6700;
    pub(super) const SECURITY_NOT_SATISFIED: u16 = 0x6982;
    pub(super) const BLOCKED: u16 = 0x6983;
    pub(super) const NO_CURRENT_EF: u16 = 0x6986;
    pub(super) const NOT_FOUND: u16 = 0x6A82;
    pub(super) const WRONG_P1P2: u16 = 0x6B00;
    pub(super) const INS_NOT_SUPPORTED: u16 = 0x6D00;
    pub(super) const CLA_NOT_SUPPORTED: u16 = 0x6E00;
    pub(super) const INCORRECT_P1P2: u16 = 0x6A86;
}

/// AID of the My Number card's input-assistance application.
pub const INPUT_ASSIST_AID: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
/// AID of the driver's license DF1.
pub const LICENSE_DF1_AID: [u8; 16] = [0xA0, 0x00, 0x00, 0x02, 0x31, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// Tries a fresh PIN has on both cards.
pub const MAX_TRIES: u8 = 3;
/// Size of the license's DF1/EF 0001.
pub const LICENSE_DETAILS_LEN: usize = 880;

/// A PIN and its tries counter. The counter lives on the card: it survives removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinFile {
    pin: [u8; 4],
    pub tries_left: u8,
}

impl PinFile {
    /// `pin` must be four ASCII digits.
    pub fn new(pin: &str) -> Self {
        let bytes: [u8; 4] = pin.as_bytes().try_into().expect("a PIN of four ASCII digits");
        assert!(bytes.iter().all(u8::is_ascii_digit), "a PIN of four ASCII digits");
        PinFile { pin: bytes, tries_left: MAX_TRIES }
    }

    /// VERIFY: without data, the tries left; with data, a check that spends a try when wrong.
    fn verify(&mut self, data: &[u8], verified: &mut bool) -> u16 {
        if self.tries_left == 0 {
            return sw::BLOCKED;
        }
        if data.is_empty() {
            return if *verified { sw::OK } else { 0x63C0 | u16::from(self.tries_left) };
        }
        if data == self.pin {
            self.tries_left = MAX_TRIES;
            *verified = true;
            sw::OK
        } else {
            self.tries_left -= 1;
            *verified = false;
            0x63C0 | u16::from(self.tries_left)
        }
    }
}

/// The My Number card, input-assistance application only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyNumberCard {
    pub pin: PinFile,
    /// EF 0001.
    pub individual_number_file: Vec<u8>,
    /// EF 0002. Tests may overwrite it to present a corrupt chip.
    pub basic_facts_file: Vec<u8>,
}

/// The driver's license, with the files a reader of the holder's facts uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriversLicense {
    pub pin1: PinFile,
    /// MF/EF 2F01.
    pub common_data_file: Vec<u8>,
    /// DF1/EF 0001, 880 bytes.
    pub details_file: Vec<u8>,
}

/// Minimal BER-TLV (tags given as their bytes; lengths in the shortest form).
fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = tag.to_vec();
    match value.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n <= 0xFF => out.extend_from_slice(&[0x81, n as u8]),
        n => out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(value);
    out
}

impl MyNumberCard {
    /// The card as it would be issued to `resident`, with `pin` as the input-assistance PIN.
    /// Name and address are written exactly as the record holds them (UTF-8, selectors kept).
    pub fn for_resident(resident: &Resident, pin: &str) -> Self {
        let name = resident.name.full();
        let address = resident.address.as_ref().map(|a| a.one_line()).unwrap_or_default();
        let fields = [
            tlv(&[0xDF, 0x22], name.as_str().as_bytes()),
            tlv(&[0xDF, 0x23], address.as_bytes()),
            tlv(&[0xDF, 0x24], resident.birth_date.to_yyyymmdd().as_bytes()),
            tlv(&[0xDF, 0x25], &[b'0' + resident.sex.iso5218()]),
        ];
        // The header item holds the offsets of the four items that follow it (two bytes each)
        // after a one-byte version; a reader need not interpret it.
        let header_len = 2 + 1 + 1 + 8;
        let mut header = vec![0x01];
        let mut at = 4 + header_len; // outer tag and a long-form length, then the header item
        for f in &fields {
            header.extend_from_slice(&(at as u16).to_be_bytes());
            at += f.len();
        }
        let inner = [tlv(&[0xDF, 0x21], &header), fields.concat()].concat();
        let individual_number =
            resident.individual_number.as_ref().map(|n| n.expose().to_owned()).unwrap_or_default();
        MyNumberCard {
            pin: PinFile::new(pin),
            individual_number_file: tlv(&[0xD0], individual_number.as_bytes()),
            basic_facts_file: tlv(&[0xFF, 0x20], &inner),
        }
    }
}

/// `text` in JIS X 0208 as the license stores it (EUC-JP less 0x8080); a character the set lacks
/// becomes the next 外字 code (FF F1, FF F2, …), as the issuer would draw it as an image.
pub fn license_text(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut gaiji = 0u8;
    let chars = text.chars();
    for c in chars {
        // JIS X 0208 has no one-byte forms: the issuer writes ASCII in full width.
        let c = match c {
            ' ' => '\u{3000}',
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            _ => c,
        };
        // A variation selector has no JIS X 0208 form; the base character carries the reading.
        if matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}') {
            continue;
        }
        let mut buf = [0u8; 4];
        let (euc, _, unmappable) = encoding_rs::EUC_JP.encode(c.encode_utf8(&mut buf));
        // JIS X 0208 proper is rows 1-8 and 16-84; the encoder also knows the NEC and IBM
        // extension rows, which the license cannot carry.
        let row = euc.first().map(|b| b & 0x7F).unwrap_or(0);
        let jis_x_0208 = matches!(row, 0x21..=0x28 | 0x30..=0x74);
        if !unmappable && euc.len() == 2 && jis_x_0208 && euc[1] >= 0xA1 {
            out.extend_from_slice(&[euc[0] & 0x7F, euc[1] & 0x7F]);
        } else {
            gaiji = (gaiji % 7) + 1;
            out.extend_from_slice(&[0xFF, 0xF0 + gaiji]);
        }
    }
    out
}

/// Era code + YYMMDD in ASCII digits.
fn era_date(date: Date) -> Vec<u8> {
    date.to_wareki().map(|w| w.to_code_form().into_bytes()).unwrap_or_else(|_| b"0000000".to_vec())
}

fn bcd(date: Date) -> [u8; 4] {
    let s = date.to_yyyymmdd();
    let d: Vec<u8> = s.bytes().map(|b| b - b'0').collect();
    [d[0] << 4 | d[1], d[2] << 4 | d[3], d[4] << 4 | d[5], d[6] << 4 | d[7]]
}

impl DriversLicense {
    /// A license for `resident` with `pin1`, issued on `issued_on` for five years.
    pub fn for_resident(resident: &Resident, pin1: &str, issued_on: Date) -> Self {
        let expires = Date::from_ymd(issued_on.year() + 5, issued_on.month(), issued_on.day().min(28))
            .expect("a valid date");
        let mut common = b"008".to_vec();
        common.extend_from_slice(&bcd(issued_on));
        common.extend_from_slice(&bcd(expires));
        let common_data_file = [tlv(&[0x45], &common), tlv(&[0x46], &[0x01, 0x01])].concat();

        let reading = resident.name.full_kana().unwrap_or_default();
        let address = resident.address.as_ref().map(|a| a.one_line()).unwrap_or_default();
        let mut details = [
            tlv(&[0x11], &[0x03]),
            tlv(&[0x12], &license_text(resident.name.full().as_str())),
            tlv(&[0x13], &license_text(&reading)),
            tlv(&[0x14], &[]),
            tlv(&[0x15], &[]),
            tlv(&[0x16], &era_date(resident.birth_date)),
            tlv(&[0x17], &license_text(&address)),
            tlv(&[0x18], &era_date(issued_on)),
            tlv(&[0x19], b"00000"),
            tlv(&[0x1A], &license_text("優良")),
            tlv(&[0x1B], &era_date(expires)),
            tlv(&[0x20], &license_text("神奈川県公安委員会")),
            tlv(&[0x21], b"123456789012"),
        ]
        .concat();
        details.resize(LICENSE_DETAILS_LEN, 0xFF);
        DriversLicense { pin1: PinFile::new(pin1), common_data_file, details_file: details }
    }
}

/// Which card is in the emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardImage {
    MyNumber(MyNumberCard),
    DriversLicense(DriversLicense),
}

/// Where the card's file pointer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Df {
    #[default]
    Mf,
    InputAssist,
    LicenseDf1,
}

/// A card and its session state (reset by power-on and reset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatedCard {
    pub image: CardImage,
    df: Df,
    ef: Option<[u8; 2]>,
    verified: bool,
}

/// The answer-to-reset: T=1, no historical bytes (the reader identifies the card by selecting
/// applications, not by ATR).
pub const ATR: [u8; 5] = [0x3B, 0x80, 0x80, 0x01, 0x01];

impl EmulatedCard {
    pub fn new(image: CardImage) -> Self {
        EmulatedCard { image, df: Df::Mf, ef: None, verified: false }
    }

    /// Power-on or reset: the file pointer goes back to the MF and PINs are no longer verified.
    pub fn reset(&mut self) {
        self.df = Df::Mf;
        self.ef = None;
        self.verified = false;
    }

    /// Tries left on the card's PIN (input-assistance PIN or license PIN1).
    pub fn tries_left(&self) -> u8 {
        match &self.image {
            CardImage::MyNumber(c) => c.pin.tries_left,
            CardImage::DriversLicense(l) => l.pin1.tries_left,
        }
    }

    /// Answer one command APDU with response data and status word.
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let (data, sw) = self.answer(apdu);
        let mut out = data;
        out.extend_from_slice(&sw.to_be_bytes());
        out
    }

    fn answer(&mut self, apdu: &[u8]) -> (Vec<u8>, u16) {
        let Some(command) = ParsedApdu::parse(apdu) else {
            return (Vec::new(), sw::WRONG_LENGTH);
        };
        if command.cla != 0x00 {
            return (Vec::new(), sw::CLA_NOT_SUPPORTED);
        }
        match command.ins {
            0xA4 => (Vec::new(), self.select(&command)),
            0x20 => (Vec::new(), self.verify(&command)),
            0xB0 => self.read_binary(&command),
            _ => (Vec::new(), sw::INS_NOT_SUPPORTED),
        }
    }

    fn select(&mut self, c: &ParsedApdu<'_>) -> u16 {
        match (c.p1, &self.image) {
            (0x00, _) => {
                self.df = Df::Mf;
                self.ef = None;
                sw::OK
            }
            (0x04, CardImage::MyNumber(_)) if c.data == INPUT_ASSIST_AID => {
                self.df = Df::InputAssist;
                self.ef = None;
                sw::OK
            }
            (0x04, CardImage::DriversLicense(_)) if c.data == LICENSE_DF1_AID => {
                self.df = Df::LicenseDf1;
                self.ef = None;
                sw::OK
            }
            (0x04, _) => sw::NOT_FOUND,
            (0x02, _) => {
                let Ok(fid) = <[u8; 2]>::try_from(c.data) else {
                    return sw::WRONG_LENGTH;
                };
                let exists = match (self.df, fid) {
                    (Df::InputAssist, [0x00, 0x01 | 0x02 | 0x11]) => true,
                    (Df::Mf, [0x2F, 0x01]) => matches!(self.image, CardImage::DriversLicense(_)),
                    (Df::LicenseDf1, [0x00, 0x01]) => true,
                    _ => false,
                };
                if exists {
                    self.ef = Some(fid);
                    sw::OK
                } else {
                    sw::NOT_FOUND
                }
            }
            _ => sw::INCORRECT_P1P2,
        }
    }

    fn verify(&mut self, c: &ParsedApdu<'_>) -> u16 {
        let (df, ef) = (self.df, self.ef);
        match &mut self.image {
            CardImage::MyNumber(card) => {
                if df != Df::InputAssist || ef != Some([0x00, 0x11]) || c.p2 != 0x80 {
                    return sw::NO_CURRENT_EF;
                }
                card.pin.verify(c.data, &mut self.verified)
            }
            CardImage::DriversLicense(license) => {
                if c.p2 != 0x81 {
                    return sw::NOT_FOUND;
                }
                license.pin1.verify(c.data, &mut self.verified)
            }
        }
    }

    fn read_binary(&mut self, c: &ParsedApdu<'_>) -> (Vec<u8>, u16) {
        if c.p1 & 0x80 != 0 {
            return (Vec::new(), sw::INCORRECT_P1P2);
        }
        let offset = usize::from(c.p1) << 8 | usize::from(c.p2);
        let le = match c.le {
            Some(0) => 256,
            Some(n) => usize::from(n),
            None => return (Vec::new(), sw::WRONG_LENGTH),
        };
        let (file, needs_pin): (&[u8], bool) = match (&self.image, self.df, self.ef) {
            (CardImage::MyNumber(card), Df::InputAssist, Some([0x00, 0x01])) => {
                (&card.individual_number_file, true)
            }
            (CardImage::MyNumber(card), Df::InputAssist, Some([0x00, 0x02])) => {
                (&card.basic_facts_file, true)
            }
            (CardImage::DriversLicense(l), Df::Mf, Some([0x2F, 0x01])) => (&l.common_data_file, false),
            (CardImage::DriversLicense(l), Df::LicenseDf1, Some([0x00, 0x01])) => (&l.details_file, true),
            (_, _, None) => return (Vec::new(), sw::NO_CURRENT_EF),
            _ => return (Vec::new(), sw::SECURITY_NOT_SATISFIED),
        };
        if needs_pin && !self.verified {
            return (Vec::new(), sw::SECURITY_NOT_SATISFIED);
        }
        if offset >= file.len() {
            return (Vec::new(), sw::WRONG_P1P2);
        }
        let end = (offset + le).min(file.len());
        let status = if end - offset < le { sw::END_OF_FILE } else { sw::OK };
        (file[offset..end].to_vec(), status)
    }
}

/// A command APDU split into its parts (short form).
#[derive(Debug)]
struct ParsedApdu<'a> {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: &'a [u8],
    le: Option<u8>,
}

impl<'a> ParsedApdu<'a> {
    fn parse(apdu: &'a [u8]) -> Option<Self> {
        let (&[cla, ins, p1, p2], body) = apdu.split_first_chunk::<4>()?;
        let (data, le) = match body {
            [] => (&[][..], None),
            [le] => (&[][..], Some(*le)),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                match rest.len() {
                    n if n == lc => (rest, None),
                    n if n == lc + 1 => (&rest[..lc], Some(rest[lc])),
                    _ => return None,
                }
            }
        };
        Some(ParsedApdu { cla, ins, p1, p2, data, le })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::{HardCase, Population};

    #[test]
    fn pin_counts_down_blocks_and_resets_on_success() {
        let p = Population::generate(30, 1);
        let r = p.hard_case(HardCase::IvsName).unwrap();
        let mut card = EmulatedCard::new(CardImage::MyNumber(MyNumberCard::for_resident(r, "1234")));
        assert_eq!(
            card.process(&[0, 0xA4, 4, 0x0C, 10, 0xD3, 0x92, 0x10, 0, 0x31, 0, 1, 1, 4, 8]),
            [0x90, 0]
        );
        assert_eq!(card.process(&[0, 0xA4, 2, 0x0C, 2, 0, 0x11]), [0x90, 0]);
        assert_eq!(card.process(&[0, 0x20, 0, 0x80]), [0x63, 0xC3]);
        assert_eq!(card.process(&[0, 0x20, 0, 0x80, 4, b'0', b'0', b'0', b'0']), [0x63, 0xC2]);
        assert_eq!(card.process(&[0, 0x20, 0, 0x80, 4, b'1', b'2', b'3', b'4']), [0x90, 0]);
        assert_eq!(card.tries_left(), 3);
        for expected in [0xC2, 0xC1, 0xC0] {
            assert_eq!(card.process(&[0, 0x20, 0, 0x80, 4, b'9', b'9', b'9', b'9']), [0x63, expected]);
        }
        assert_eq!(card.process(&[0, 0x20, 0, 0x80, 4, b'1', b'2', b'3', b'4']), [0x69, 0x83]);
        assert_eq!(card.process(&[0, 0x20, 0, 0x80]), [0x69, 0x83]);
    }

    #[test]
    fn files_need_the_pin_and_end_with_6282() {
        let p = Population::generate(30, 1);
        let r = p.hard_case(HardCase::IvsName).unwrap();
        let mut card = EmulatedCard::new(CardImage::MyNumber(MyNumberCard::for_resident(r, "1234")));
        card.process(&[0, 0xA4, 4, 0x0C, 10, 0xD3, 0x92, 0x10, 0, 0x31, 0, 1, 1, 4, 8]);
        card.process(&[0, 0xA4, 2, 0x0C, 2, 0, 0x02]);
        assert_eq!(card.process(&[0, 0xB0, 0, 0, 7]), [0x69, 0x82]);
        card.process(&[0, 0xA4, 2, 0x0C, 2, 0, 0x11]);
        card.process(&[0, 0x20, 0, 0x80, 4, b'1', b'2', b'3', b'4']);
        card.process(&[0, 0xA4, 2, 0x0C, 2, 0, 0x02]);
        let head = card.process(&[0, 0xB0, 0, 0, 7]);
        assert_eq!(&head[..2], [0xFF, 0x20]);
        assert_eq!(&head[head.len() - 2..], [0x90, 0x00]);
        let all = card.process(&[0, 0xB0, 0, 0, 0]);
        assert_eq!(&all[all.len() - 2..], [0x62, 0x82]);
        let text = String::from_utf8_lossy(&all);
        assert!(text.contains("葛\u{E0100}西\u{3000}太郎"), "{text}");
    }

    #[test]
    fn license_text_marks_characters_outside_jis_x_0208() {
        // 﨑 (U+FA11) is not in JIS X 0208; 山 and 崎 are.
        let bytes = license_text("山﨑");
        assert_eq!(bytes, [0x3B, 0x33, 0xFF, 0xF1]);
        assert_eq!(license_text("葛\u{E0100}"), license_text("葛"));
    }
}
