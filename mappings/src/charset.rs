//! Character sets of core systems, and moji shrink (縮退) of text that a legacy set cannot carry.
//!
//! The canonical model keeps every code point (IVS, MJ+ private use). A target in Shift_JIS or
//! JIS X 0208 carries only JIS X 0208 characters, so each character it cannot carry is replaced
//! by a JIS X 0208 character the MJ shrink map (MJ縮退マップ, through the `jntajis` crate) or the
//! National Tax Agency's JIS shrink map gives for it; a variation selector whose base character
//! the target carries is dropped. Every replacement is reported ([`Degeneration`]); a character
//! with no replacement is an error unless the item names a replacement character (〓, the
//! traditional "geta" mark for a character that cannot be printed).

use std::borrow::Cow;
use std::sync::OnceLock;

use encoding_rs::{DecoderResult, EncoderResult, SHIFT_JIS};
use jntajis::codec::mj_shrink::{MJShrinkSchemes, mj_shrink_candidates};
use renkei_model::is_variation_selector;
use serde::{Deserialize, Serialize};

/// How a system's records are encoded: for mappings, and for the file transport's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum Charset {
    /// UTF-8: carries every code point, selectors and private use included.
    #[serde(rename = "utf-8")]
    Utf8,
    /// Shift_JIS restricted to JIS X 0201 and JIS X 0208 (no vendor extensions: a character only
    /// Windows-31J has, such as 﨑 U+FA11, is shrunk like any other).
    #[serde(rename = "shift_jis")]
    ShiftJis,
    /// Two-byte JIS X 0208 codes (row and cell + 0x20), as legacy mainframe layouts hold
    /// double-byte items; single-byte items are ASCII.
    #[serde(rename = "jis_x0208")]
    JisX0208,
}

impl Charset {
    pub fn as_str(self) -> &'static str {
        match self {
            Charset::Utf8 => "utf-8",
            Charset::ShiftJis => "shift_jis",
            Charset::JisX0208 => "jis_x0208",
        }
    }

    /// A whole record's bytes as text, for display (undecodable bytes become U+FFFD).
    pub fn decode_lossy(self, bytes: &[u8]) -> String {
        match self {
            Charset::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            _ => encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes).0.into_owned(),
        }
    }

    /// Whether every Unicode text fits this set unchanged.
    pub fn is_universal(self) -> bool {
        self == Charset::Utf8
    }

    /// How messages name the set.
    pub fn name(self) -> &'static str {
        match self {
            Charset::Utf8 => "UTF-8",
            Charset::ShiftJis => "Shift_JIS",
            Charset::JisX0208 => "JIS X 0208",
        }
    }

    /// Append `value` encoded exactly, or say which character has no code (`out` is then left
    /// as it was) — never a replacement character or a `&#…;` reference. For values already
    /// fitted by [`shrink`] use [`encode`]; this is for text written as it stands (record files,
    /// XML). Shift_JIS here is Windows-31J (encoding_rs's): JIS X 0208 with the NEC and IBM
    /// extensions, what municipal systems mean by Shift_JIS in practice, minus the three
    /// characters it would silently change (¥ ‾ −). JIS X 0208 takes two bytes per character
    /// (ASCII as its full-width form).
    pub fn encode_into(self, value: &str, out: &mut Vec<u8>) -> Result<(), NoCode> {
        match self {
            Charset::Utf8 => {
                out.extend_from_slice(value.as_bytes());
                Ok(())
            }
            Charset::ShiftJis => encode_windows_31j(value, out),
            Charset::JisX0208 => {
                let start = out.len();
                for (i, c) in value.chars().enumerate() {
                    let cp = to_fullwidth(c) as u32;
                    match if cp < 0x10000 { sjis_table()[cp as usize] } else { 0 } {
                        b if b >= 0x100 => {
                            let [lead, trail] = b.to_be_bytes();
                            let (b1, b2) = sjis_to_jis(lead, trail);
                            out.extend_from_slice(&[b1, b2]);
                        }
                        _ => {
                            out.truncate(start);
                            return Err(NoCode { ch: c, position: i + 1 });
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Decode `bytes` exactly, or say at which byte they stop being text in this set.
    pub fn decode(self, bytes: &[u8]) -> Result<Cow<'_, str>, usize> {
        match self {
            Charset::Utf8 => std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|e| e.valid_up_to()),
            _ if bytes.is_ascii() && self == Charset::ShiftJis => {
                std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|e| e.valid_up_to())
            }
            Charset::ShiftJis => decode_windows_31j(bytes).map(Cow::Owned),
            Charset::JisX0208 => {
                let mut sjis = Vec::with_capacity(bytes.len());
                for (i, pair) in bytes.chunks(2).enumerate() {
                    let [b1, b2] = pair else { return Err(i * 2) };
                    let (lead, trail) = jis_to_sjis(*b1, *b2).ok_or(i * 2)?;
                    sjis.extend_from_slice(&[lead, trail]);
                }
                decode_windows_31j(&sjis).map(Cow::Owned)
            }
        }
    }

    /// How bytes that failed [`Charset::decode`] at `offset` are described in an error.
    pub fn describe_malformed(self, offset: usize) -> String {
        format!("byte {} of the field is not valid {}", offset + 1, self.name())
    }
}

/// Characters the Shift_JIS encoder maps to a byte sequence that decodes to a *different*
/// character (U+00A5 YEN SIGN → 0x5C → `\`, U+203E OVERLINE → 0x7E → `~`, U+2212 MINUS SIGN →
/// 0x817C → U+FF0D). Writing them would change the data silently, so they are refused like
/// unmappable ones. `shift_jis_round_trips_except_the_listed_characters` checks the list against
/// every code point.
const SHIFT_JIS_LOSSY: [char; 3] = ['\u{a5}', '\u{203e}', '\u{2212}'];

/// A character [`Charset::encode_into`] cannot write, and where it is in the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoCode {
    pub ch: char,
    /// 1-based position of the character in the value.
    pub position: usize,
}

impl NoCode {
    /// `character 4 of the value, U+E0100, has no Shift_JIS code` (never the value itself).
    pub fn describe(&self, charset: Charset) -> String {
        format!(
            "character {} of the value, U+{:04X}, has no {} code",
            self.position,
            u32::from(self.ch),
            charset.name()
        )
    }
}

fn char_position(value: &str, byte_index: usize) -> usize {
    value[..byte_index].chars().count() + 1
}

fn encode_windows_31j(value: &str, out: &mut Vec<u8>) -> Result<(), NoCode> {
    if value.is_ascii() {
        out.extend_from_slice(value.as_bytes());
        return Ok(());
    }
    if let Some(i) = value.find(SHIFT_JIS_LOSSY) {
        return Err(NoCode {
            ch: value[i..].chars().next().unwrap_or('\0'),
            position: char_position(value, i),
        });
    }
    let start = out.len();
    let mut encoder = SHIFT_JIS.new_encoder();
    let needed =
        encoder.max_buffer_length_from_utf8_without_replacement(value.len()).unwrap_or(value.len() * 2);
    out.resize(start + needed, 0);
    let (result, read, written) =
        encoder.encode_from_utf8_without_replacement(value, &mut out[start..], true);
    match result {
        EncoderResult::InputEmpty => {
            out.truncate(start + written);
            Ok(())
        }
        EncoderResult::Unmappable(ch) => {
            out.truncate(start);
            let at = read - ch.len_utf8();
            Err(NoCode { ch, position: char_position(value, at) })
        }
        EncoderResult::OutputFull => {
            // Cannot happen with the maximum length asked for above; fail closed.
            out.truncate(start);
            Err(NoCode { ch: '\0', position: 0 })
        }
    }
}

fn decode_windows_31j(bytes: &[u8]) -> Result<String, usize> {
    let mut decoder = SHIFT_JIS.new_decoder_without_bom_handling();
    // Half-width katakana take one byte in Shift_JIS and three in UTF-8.
    let capacity = decoder.max_utf8_buffer_length_without_replacement(bytes.len()).unwrap_or(bytes.len() * 3);
    let mut text = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut text, true);
    match result {
        DecoderResult::InputEmpty => Ok(text),
        DecoderResult::Malformed(bad, extra) => Err(read - usize::from(bad) - usize::from(extra)),
        DecoderResult::OutputFull => Err(read),
    }
}

/// One replacement made to fit a value into a target's character set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Degeneration {
    /// The character as the canonical record has it (with its selector, if any).
    pub from: String,
    /// What was written instead.
    pub to: String,
    pub how: Shrink,
}

/// How a character was made to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shrink {
    /// The variation selector was dropped; the base character is written.
    SelectorDropped,
    /// Replaced by the MJ shrink map's or the JIS shrink map's candidate.
    ShrinkMap,
    /// No candidate: the item's replacement character was written.
    Replaced,
}

impl std::fmt::Display for Shrink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Shrink::SelectorDropped => "variation selector dropped",
            Shrink::ShrinkMap => "MJ shrink map",
            Shrink::Replaced => "no shrink candidate; replacement character",
        })
    }
}

/// A character that cannot be written in the target set and has no replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmappable {
    /// The code point(s), as `U+XXXX` (never the surrounding text).
    pub code_points: String,
}

/// The Shift_JIS bytes of every Basic Multilingual Plane code point that JIS X 0201 or JIS X 0208
/// has (0: none; single bytes are stored as `0x00XX`), worked out once from encoding_rs. Every
/// such character is in the BMP, so encoding or testing a character is one table read.
fn sjis_table() -> &'static [u16] {
    static TABLE: OnceLock<Box<[u16]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![0u16; 0x10000];
        for cp in 0x20u32..0x7F {
            table[cp as usize] = cp as u16;
        }
        for cp in 0xFF61u32..=0xFF9F {
            table[cp as usize] = (cp - 0xFF61 + 0xA1) as u16; // half-width katakana, JIS X 0201
        }
        for cp in 0x80u32..0x10000 {
            let Some(c) = char::from_u32(cp) else { continue };
            if table[cp as usize] != 0 {
                continue;
            }
            let mut buf = [0u8; 4];
            let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(c.encode_utf8(&mut buf));
            if !unmappable
                && bytes.len() == 2
                && is_jis_x0208_lead(bytes[0])
                && !(bytes[0] == 0xEA && bytes[1] > 0xA4)
            {
                table[cp as usize] = u16::from_be_bytes([bytes[0], bytes[1]]);
            }
        }
        table.into_boxed_slice()
    })
}

/// Whether `c` can be written in Shift_JIS as JIS X 0201 or JIS X 0208 defines it.
pub fn fits_jis(c: char) -> bool {
    let cp = c as u32;
    cp < 0x10000 && sjis_table()[cp as usize] != 0
}

/// Lead bytes of JIS X 0208 rows 1–8 and 16–84 (Windows-31J adds NEC row 13 at 0x87 and IBM
/// extensions at 0xED–0xEE and 0xFA–0xFC, which JIS X 0208 does not have; row 84 ends at 0xEAA4).
fn is_jis_x0208_lead(b: u8) -> bool {
    matches!(b, 0x81..=0x84 | 0x88..=0x9F | 0xE0..=0xEA)
}

/// Shrink `text` so every character fits `charset`, appending the replacements made to
/// `report`. `None` when the text fits as it is (always, for UTF-8 targets).
pub fn shrink(
    text: &str,
    charset: Charset,
    replacement: Option<&str>,
    report: &mut Vec<Degeneration>,
) -> Result<Option<String>, Unmappable> {
    if charset.is_universal() || text.chars().all(fits_jis) {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let selector = chars.next_if(|n| is_variation_selector(*n));
        if selector.is_none() && fits_jis(c) {
            out.push(c);
            continue;
        }
        let mut from = String::from(c);
        from.extend(selector);
        if let Some(found) = mj_candidate(&from) {
            out.push_str(&found);
            report.push(Degeneration { from, to: found, how: Shrink::ShrinkMap });
        } else if selector.is_some() && fits_jis(c) {
            out.push(c);
            report.push(Degeneration { from, to: c.to_string(), how: Shrink::SelectorDropped });
        } else if let Some(found) = selector.and_then(|_| mj_candidate(&c.to_string())) {
            out.push_str(&found);
            report.push(Degeneration { from, to: found, how: Shrink::ShrinkMap });
        } else if let Some(found) = jnta_candidate(c) {
            out.push_str(&found);
            report.push(Degeneration { from, to: found, how: Shrink::ShrinkMap });
        } else if let Some(r) = replacement {
            out.push_str(r);
            report.push(Degeneration { from, to: r.to_owned(), how: Shrink::Replaced });
        } else {
            let code_points =
                from.chars().map(|c| format!("U+{:04X}", c as u32)).collect::<Vec<_>>().join(" ");
            return Err(Unmappable { code_points });
        }
    }
    Ok(Some(out))
}

/// The first MJ shrink candidate of one character (with its selector) that fits JIS X 0208.
fn mj_candidate(ch: &str) -> Option<String> {
    mj_shrink_candidates(ch, MJShrinkSchemes::ALL).find(|cand| cand != ch && cand.chars().all(fits_jis))
}

/// The NTA JIS shrink map's replacement (JIS X 0213 → JIS X 0208), if it has one that fits.
fn jnta_candidate(c: char) -> Option<String> {
    let mut buf = [0u8; 4];
    let out = jntajis::jnta_shrink_translit(c.encode_utf8(&mut buf), Some("")).ok()?;
    (!out.is_empty() && out.chars().all(fits_jis) && out != c.to_string()).then_some(out)
}

/// Encode text already fitted to `charset` (see [`shrink`]).
pub fn encode(text: &str, charset: Charset, out: &mut Vec<u8>) {
    match charset {
        Charset::Utf8 => out.extend_from_slice(text.as_bytes()),
        Charset::ShiftJis => {
            let table = sjis_table();
            for c in text.chars() {
                let cp = c as u32;
                match if cp < 0x10000 { table[cp as usize] } else { 0 } {
                    0 => out.extend_from_slice(&[0x81, 0xAC]), // 〓: shrink has run, so never reached
                    b if b < 0x100 => out.push(b as u8),
                    b => out.extend_from_slice(&b.to_be_bytes()),
                }
            }
        }
        Charset::JisX0208 => {
            let table = sjis_table();
            for c in text.chars() {
                let cp = to_fullwidth(c) as u32;
                match if cp < 0x10000 { table[cp as usize] } else { 0 } {
                    b if b >= 0x100 => {
                        let [lead, trail] = b.to_be_bytes();
                        let (b1, b2) = sjis_to_jis(lead, trail);
                        out.extend_from_slice(&[b1, b2]);
                    }
                    _ => out.extend_from_slice(&[0x22, 0x2E]), // 〓
                }
            }
        }
    }
}

/// Bytes `text` takes in `charset` (text already fitted).
pub fn encoded_len(text: &str, charset: Charset) -> usize {
    match charset {
        Charset::Utf8 => text.len(),
        Charset::JisX0208 => text.chars().count() * 2,
        Charset::ShiftJis => text
            .chars()
            .map(|c| if c.is_ascii() || ('\u{FF61}'..='\u{FF9F}').contains(&c) { 1 } else { 2 })
            .sum(),
    }
}

/// Decode bytes of an item in `charset`.
pub fn decode(bytes: &[u8], charset: Charset) -> Result<String, ()> {
    charset.decode(bytes).map(Cow::into_owned).map_err(|_| ())
}

/// ASCII to its full-width form (space to U+3000); every other character unchanged.
pub fn to_fullwidth(c: char) -> char {
    match c {
        ' ' => '\u{3000}',
        '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
        _ => c,
    }
}

fn sjis_to_jis(lead: u8, trail: u8) -> (u8, u8) {
    let pair = if lead <= 0x9F { lead - 0x81 } else { lead - 0xC1 };
    let (row, cell) = if trail >= 0x9F {
        (pair * 2 + 2, trail - 0x9E)
    } else if trail >= 0x80 {
        (pair * 2 + 1, trail - 0x40)
    } else {
        (pair * 2 + 1, trail - 0x3F)
    };
    (row + 0x20, cell + 0x20)
}

fn jis_to_sjis(b1: u8, b2: u8) -> Option<(u8, u8)> {
    if !(0x21..=0x7E).contains(&b1) || !(0x21..=0x7E).contains(&b2) {
        return None;
    }
    let (row, cell) = (b1 - 0x20, b2 - 0x20); // 1..=94 each
    let pair = (row - 1) / 2;
    let lead = if pair <= 30 { 0x81 + pair } else { 0xC1 + pair };
    let trail = if row % 2 == 1 {
        let t = cell + 0x3F;
        if t >= 0x7F { t + 1 } else { t }
    } else {
        cell + 0x9E
    };
    Some((lead, trail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jis_x0208_membership() {
        for c in ['高', '崎', '葛', 'ア', 'ｱ', 'A', '〓', '　'] {
            assert!(fits_jis(c), "{c}");
        }
        // 髙 and 﨑 are Windows-31J extensions; 𠮷 is outside every JIS set Shift_JIS encodes.
        for c in ['髙', '﨑', '𠮷', '\u{F0101}', '\u{E0100}'] {
            assert!(!fits_jis(c), "{c}");
        }
    }

    #[test]
    fn shrink_reports_every_replacement() {
        let mut report = Vec::new();
        let out = shrink("髙橋", Charset::ShiftJis, None, &mut report).unwrap().unwrap();
        assert_eq!(out, "高橋");
        assert_eq!(report, [Degeneration { from: "髙".into(), to: "高".into(), how: Shrink::ShrinkMap }]);

        report.clear();
        let out = shrink("葛\u{E0100}西", Charset::ShiftJis, None, &mut report).unwrap().unwrap();
        assert_eq!(out, "葛西");
        assert_eq!(report[0].how, Shrink::SelectorDropped);

        report.clear();
        assert_eq!(shrink("山﨑", Charset::ShiftJis, None, &mut report).unwrap().unwrap(), "山崎");

        report.clear();
        let err = shrink("\u{F0101}本", Charset::ShiftJis, None, &mut report).unwrap_err();
        assert_eq!(err.code_points, "U+F0101");
        let out = shrink("\u{F0101}本", Charset::ShiftJis, Some("〓"), &mut report).unwrap().unwrap();
        assert_eq!(out, "〓本");
        assert_eq!(report[0].how, Shrink::Replaced);

        report.clear();
        assert_eq!(shrink("葛\u{E0100}西", Charset::Utf8, None, &mut report).unwrap(), None);
        assert_eq!(shrink("山崎", Charset::ShiftJis, None, &mut report).unwrap(), None);
        assert!(report.is_empty());
    }

    #[test]
    fn shift_jis_round_trips_except_the_listed_characters() {
        let mut lossy = Vec::new();
        let mut buf = Vec::new();
        for ch in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let s = ch.to_string();
            buf.clear();
            let (bytes, _, unmappable) = SHIFT_JIS.encode(&s);
            if unmappable {
                assert!(Charset::ShiftJis.encode_into(&s, &mut buf).is_err(), "U+{:04X}", u32::from(ch));
                continue;
            }
            let (back, _, malformed) = SHIFT_JIS.decode(&bytes);
            if malformed || back != s {
                lossy.push(ch);
            }
            let strict = Charset::ShiftJis.encode_into(&s, &mut buf);
            assert_eq!(strict.is_ok(), !lossy.contains(&ch), "U+{:04X}", u32::from(ch));
        }
        assert_eq!(lossy, SHIFT_JIS_LOSSY);
    }

    #[test]
    fn unmappable_characters_are_named_by_position_and_code_point() {
        let mut out = b"kept".to_vec();
        // 葛 followed by a variation selector (an IVS): Shift_JIS has no selectors.
        let e = Charset::ShiftJis.encode_into("山田葛\u{E0100}子", &mut out).unwrap_err();
        assert_eq!(e, NoCode { ch: '\u{E0100}', position: 4 });
        assert_eq!(out, b"kept", "nothing is appended on failure");
        assert_eq!(e.describe(Charset::ShiftJis), "character 4 of the value, U+E0100, has no Shift_JIS code");
        assert!(Charset::Utf8.encode_into("葛\u{E0100}", &mut out).is_ok());
        let e = Charset::JisX0208.encode_into("A髙", &mut out).unwrap_err();
        assert_eq!(e, NoCode { ch: '髙', position: 2 });
    }

    #[test]
    fn malformed_bytes_are_located() {
        assert_eq!(Charset::ShiftJis.decode(b"\x8e\x52\x93\x63").unwrap(), "山田");
        // Half-width katakana grow from one byte to three.
        assert_eq!(Charset::ShiftJis.decode(b"\xd4\xcf\xc0\xde").unwrap(), "ﾔﾏﾀﾞ");
        // 0x82 needs a trail byte; 0x20 is not one.
        assert_eq!(Charset::ShiftJis.decode(b"\x8e\x52\x82 ").unwrap_err(), 2);
        assert_eq!(Charset::Utf8.decode(b"ab\xe5\xb1").unwrap_err(), 2);
        assert_eq!(Charset::JisX0208.decode(b"\x3b\x33\x3b").unwrap_err(), 2);
    }

    #[test]
    fn jis_x0208_bytes_round_trip() {
        let mut out = Vec::new();
        encode("山崎　Ａ", Charset::JisX0208, &mut out);
        assert_eq!(&out[..2], &[0x3B, 0x33]); // 山 is row 27 cell 19
        assert_eq!(decode(&out, Charset::JisX0208).unwrap(), "山崎　Ａ");
        let mut exact = Vec::new();
        Charset::JisX0208.encode_into("山崎 A", &mut exact).unwrap();
        assert_eq!(exact, out);
        for (lead, trail) in [(0x81u8, 0x40u8), (0x88, 0x9F), (0x9F, 0xFC), (0xE0, 0x40), (0xEA, 0xA4)] {
            let (b1, b2) = sjis_to_jis(lead, trail);
            assert_eq!(jis_to_sjis(b1, b2), Some((lead, trail)), "{lead:X} {trail:X}");
        }
    }
}
