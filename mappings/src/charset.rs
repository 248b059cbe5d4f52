//! Character sets of core systems, and moji shrink (縮退) of text that a legacy set cannot carry.
//!
//! The canonical model keeps every code point (IVS, MJ+ private use). A target in a legacy set
//! carries only what that set has: `shift_jis` and `jis_x0208` carry JIS X 0208, `cp932` carries
//! Windows-31J (JIS X 0208 and the NEC and IBM extensions). Each character the target cannot
//! carry is replaced by one the MJ shrink map (MJ縮退マップ, through the `jntajis` crate) or the
//! National Tax Agency's JIS shrink map gives for it; a variation selector whose base character
//! the target carries is dropped; a character that another decoder of the same charset would
//! read back as a different one is written as the charset's own counterpart (see
//! [`Charset::ShiftJis`]). Every replacement is reported ([`Degeneration`]); a character with no
//! replacement is an error unless the item names a replacement character (〓, the traditional
//! "geta" mark for a character that cannot be printed).

use std::borrow::Cow;
use std::sync::OnceLock;

use encoding_rs::{DecoderResult, EncoderResult, SHIFT_JIS};
use jntajis::codec::mj_shrink::{MJShrinkSchemes, mj_shrink_candidates};
use renkei_model::is_variation_selector;
use serde::{Deserialize, Serialize};

/// How a system's records are encoded: for mappings, and for the file transport's records.
///
/// In every legacy set here the single bytes 0x00–0x7F are ASCII, as every municipal system
/// reads them, although JIS X 0201 Roman (the single-byte half of strict Shift_JIS) has ¥ at
/// 0x5C and ‾ at 0x7E: U+00A5 and U+203E therefore have no single byte and are never written as
/// 0x5C or 0x7E; shrinking writes their full-width forms ￥ U+FFE5 and ￣ U+FFE3 and reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum Charset {
    /// UTF-8: carries every code point, selectors and private use included.
    #[serde(rename = "utf-8")]
    Utf8,
    /// Shift_JIS as the JIS standard maps it: ASCII, JIS X 0201 katakana and JIS X 0208 with
    /// the code points of JIS X 0208:1997 Annex 1 (the Unicode consortium's JIS0208.TXT). Six
    /// cells are read differently by Windows-31J ([`JIS_CP932_PAIRS`]: 0x8160 is 〜 U+301C here,
    /// ～ U+FF5E there); writing Windows-31J's form of one of them would be read back as another
    /// character, so it is refused, or shrunk to the JIS form and reported. Nothing outside
    /// JIS X 0208 (no NEC or IBM extension, such as 﨑 U+FA11) is written.
    #[serde(rename = "shift_jis")]
    ShiftJis,
    /// Windows-31J (code page 932), what many municipal systems mean by "Shift_JIS": JIS X 0208
    /// with Microsoft's code points for the six cells (0x8160 is ～ U+FF5E) and the NEC and IBM
    /// extensions (髙 U+9AD9, ① U+2460). JIS's forms of the six (〜 U+301C …) are refused, or
    /// shrunk to the Windows-31J form and reported.
    #[serde(rename = "cp932", alias = "windows-31j")]
    Cp932,
    /// Two-byte JIS X 0208 codes (row and cell + 0x20), as legacy mainframe layouts hold
    /// double-byte items; single-byte items are ASCII. The code points of the six cells are
    /// Windows-31J's, as the conversion tables of the PCs these files are made on have them.
    #[serde(rename = "jis_x0208")]
    JisX0208,
}

impl Charset {
    pub fn as_str(self) -> &'static str {
        match self {
            Charset::Utf8 => "utf-8",
            Charset::ShiftJis => "shift_jis",
            Charset::Cp932 => "cp932",
            Charset::JisX0208 => "jis_x0208",
        }
    }

    /// A whole record's bytes as text, for display (undecodable bytes become U+FFFD).
    pub fn decode_lossy(self, bytes: &[u8]) -> String {
        match self {
            Charset::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Charset::ShiftJis => decode_strict(bytes, true).unwrap_or_default(),
            _ => SHIFT_JIS.decode_without_bom_handling(bytes).0.into_owned(),
        }
    }

    /// Whether every Unicode text fits this set unchanged.
    pub fn is_universal(self) -> bool {
        self == Charset::Utf8
    }

    /// How messages (and XML declarations) name the set.
    pub fn name(self) -> &'static str {
        match self {
            Charset::Utf8 => "UTF-8",
            Charset::ShiftJis => "Shift_JIS",
            Charset::Cp932 => "Windows-31J",
            Charset::JisX0208 => "JIS X 0208",
        }
    }

    /// Append `value` encoded exactly, or say which character has no code (`out` is then left
    /// as it was) — never a replacement character or a `&#…;` reference. For values already
    /// fitted by [`shrink`] use [`encode`]; this is for text written as it stands (record files,
    /// XML). A character whose bytes would be read back as another one (U+00A5, U+203E, and the
    /// other charset's form of the six cells that JIS and Windows-31J map differently) has no
    /// code. JIS X 0208 takes two bytes per character (ASCII as its full-width form).
    pub fn encode_into(self, value: &str, out: &mut Vec<u8>) -> Result<(), NoCode> {
        match self {
            Charset::Utf8 => {
                out.extend_from_slice(value.as_bytes());
                Ok(())
            }
            Charset::Cp932 => encode_windows_31j(value, out),
            Charset::ShiftJis => {
                if value.is_ascii() {
                    out.extend_from_slice(value.as_bytes());
                    return Ok(());
                }
                let start = out.len();
                for (i, c) in value.chars().enumerate() {
                    match if c.is_ascii() { c as u16 } else { code(c, self) } {
                        0 if !c.is_ascii() => {
                            out.truncate(start);
                            return Err(NoCode { ch: c, position: i + 1 });
                        }
                        b if b < 0x100 => out.push(b as u8),
                        b => out.extend_from_slice(&b.to_be_bytes()),
                    }
                }
                Ok(())
            }
            Charset::JisX0208 => {
                let start = out.len();
                for (i, c) in value.chars().enumerate() {
                    match code(c, self) {
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
            Charset::ShiftJis | Charset::Cp932 if bytes.is_ascii() => {
                std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|e| e.valid_up_to())
            }
            Charset::ShiftJis => decode_strict(bytes, false).map(Cow::Owned),
            Charset::Cp932 => decode_windows_31j(bytes).map(Cow::Owned),
            Charset::JisX0208 => {
                let mut sjis = Vec::with_capacity(bytes.len());
                for (i, pair) in bytes.chunks(2).enumerate() {
                    let [b1, b2] = pair else { return Err(i * 2) };
                    match jis_to_sjis(*b1, *b2) {
                        Some((lead, trail)) if is_jis_x0208_code(lead, trail) => {
                            sjis.extend_from_slice(&[lead, trail])
                        }
                        _ => return Err(i * 2),
                    }
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

/// The JIS X 0208 cells whose code point JIS and Windows-31J disagree on: (Shift_JIS code, the
/// code point of JIS X 0208:1997 Annex 1 and JIS0208.TXT, Windows-31J's). Written from the
/// standard; `the_six_cells_are_the_only_difference` checks that every other cell decodes alike.
/// 1-32 (0x815F) is not among them although JIS0208.TXT gives it U+005C REVERSE SOLIDUS: with
/// 0x5C read as ASCII, U+005C already has a byte, so both charsets read 0x815F as its
/// full-width form U+FF3C (as Windows-31J and the common strict Shift_JIS decoders do), which
/// keeps one code per character.
pub(crate) const JIS_CP932_PAIRS: [(u16, char, char); 6] = [
    (0x8160, '\u{301C}', '\u{FF5E}'), // 1-33 WAVE DASH / FULLWIDTH TILDE
    (0x8161, '\u{2016}', '\u{2225}'), // 1-34 DOUBLE VERTICAL LINE / PARALLEL TO
    (0x817C, '\u{2212}', '\u{FF0D}'), // 1-61 MINUS SIGN / FULLWIDTH HYPHEN-MINUS
    (0x8191, '\u{00A2}', '\u{FFE0}'), // 1-81 CENT SIGN / FULLWIDTH CENT SIGN
    (0x8192, '\u{00A3}', '\u{FFE1}'), // 1-82 POUND SIGN / FULLWIDTH POUND SIGN
    (0x81CA, '\u{00AC}', '\u{FFE2}'), // 2-44 NOT SIGN / FULLWIDTH NOT SIGN
];

/// JIS X 0201 Roman's 0x5C YEN SIGN and 0x7E OVERLINE, which have no single byte because
/// 0x00–0x7F is read as ASCII, and the JIS X 0208 characters written for them instead
/// (1-79 ￥ and 1-17 ￣, in every charset here).
const ROMAN_PAIRS: [(char, char); 2] = [('\u{00A5}', '\u{FFE5}'), ('\u{203E}', '\u{FFE3}')];

/// What `c` is written as in `charset` because its bytes would be read back as another
/// character: the charset's own form of the same cell (`None`: `c` is written as it is, or not
/// at all).
pub(crate) fn counterpart(c: char, charset: Charset) -> Option<char> {
    if charset == Charset::Utf8 {
        return None;
    }
    if let Some(&(_, to)) = ROMAN_PAIRS.iter().find(|(from, _)| *from == c) {
        return Some(to);
    }
    JIS_CP932_PAIRS.iter().find_map(|&(_, jis, cp932)| match charset {
        Charset::ShiftJis => (c == cp932).then_some(jis),
        _ => (c == jis).then_some(cp932),
    })
}

/// Characters the Windows-31J encoder maps to a byte sequence that decodes to a *different*
/// character (U+00A5 YEN SIGN → 0x5C → `\`, U+203E OVERLINE → 0x7E → `~`, U+2212 MINUS SIGN →
/// 0x817C → U+FF0D). Writing them would change the data silently, so they are refused like
/// unmappable ones. `cp932_round_trips_except_the_listed_characters` checks the list against
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

/// Strict Shift_JIS: ASCII, JIS X 0201 katakana, and the assigned cells of JIS X 0208 with the
/// JIS code points; anything else (the NEC and IBM extensions, user-defined 0xF040–0xF9FC, 0x80,
/// 0xA0, 0xFD–0xFF) is malformed. `lossy` writes U+FFFD for it instead of stopping.
fn decode_strict(bytes: &[u8], lossy: bool) -> Result<String, usize> {
    let cells = jis_cells();
    let mut text = String::with_capacity(bytes.len() * 3 / 2);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            0x00..=0x7F => text.push(char::from(b)),
            0xA1..=0xDF => text.push(char::from_u32(0xFF61 + u32::from(b - 0xA1)).unwrap_or('\u{FFFD}')),
            _ => {
                let found = bytes
                    .get(i + 1)
                    .filter(|&&t| is_jis_x0208_code(b, t))
                    .and_then(|&t| cells[cell_index(b, t)]);
                match found {
                    Some(c) => {
                        text.push(c);
                        i += 1;
                    }
                    None if lossy => text.push('\u{FFFD}'),
                    None => return Err(i),
                }
            }
        }
        i += 1;
    }
    Ok(text)
}

/// The character of every JIS X 0208 cell (row − 1) × 94 + (cell − 1) as the JIS standard maps
/// it: Windows-31J's for all but the six cells of [`JIS_CP932_PAIRS`], which JIS maps otherwise.
fn jis_cells() -> &'static [Option<char>] {
    static CELLS: OnceLock<Box<[Option<char>]>> = OnceLock::new();
    CELLS.get_or_init(|| {
        let mut cells = vec![None; 94 * 94];
        for lead in (0x81u8..=0x9F).chain(0xE0..=0xEA) {
            for trail in (0x40u8..=0x7E).chain(0x80..=0xFC) {
                if !is_jis_x0208_code(lead, trail) {
                    continue;
                }
                let bytes = [lead, trail];
                let decoded = SHIFT_JIS.decode_without_bom_handling_and_without_replacement(&bytes);
                let mut chars = decoded.as_deref().unwrap_or_default().chars();
                if let (Some(c), None) = (chars.next(), chars.next()) {
                    cells[cell_index(lead, trail)] = Some(c);
                }
            }
        }
        for (code, jis, _) in JIS_CP932_PAIRS {
            let [lead, trail] = code.to_be_bytes();
            cells[cell_index(lead, trail)] = Some(jis);
        }
        cells.into_boxed_slice()
    })
}

fn cell_index(lead: u8, trail: u8) -> usize {
    let (b1, b2) = sjis_to_jis(lead, trail);
    usize::from(b1 - 0x21) * 94 + usize::from(b2 - 0x21)
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
    /// Another decoder of the charset would read the character's bytes as a different one
    /// (Windows-31J's ～ U+FF5E in strict Shift_JIS, JIS's 〜 U+301C in Windows-31J, ¥ U+00A5 in
    /// either): the charset's own form of the same JIS X 0208 cell was written.
    Counterpart,
}

impl std::fmt::Display for Shrink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Shrink::SelectorDropped => "variation selector dropped",
            Shrink::ShrinkMap => "MJ shrink map",
            Shrink::Replaced => "no shrink candidate; replacement character",
            Shrink::Counterpart => "read differently by other decoders; the charset's own form",
        })
    }
}

/// A character that cannot be written in the target set and has no replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unmappable {
    /// The code point(s), as `U+XXXX` (never the surrounding text).
    pub code_points: String,
}

/// The Windows-31J bytes of every Basic Multilingual Plane code point that Windows-31J carries
/// and reads back as the same code point (0: none; single bytes are stored as `0x00XX`), worked
/// out once from encoding_rs, whose Shift_JIS is Windows-31J. Every such character is in the
/// BMP, so encoding or testing a character is one table read.
fn cp932_table() -> &'static [u16] {
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
            let s = c.encode_utf8(&mut buf);
            let (bytes, _, unmappable) = SHIFT_JIS.encode(s);
            if unmappable || bytes.len() != 2 {
                continue;
            }
            // ¥ ‾ − are encoded, but read back as \ ~ －.
            let back = SHIFT_JIS.decode_without_bom_handling_and_without_replacement(&bytes);
            if back.as_deref() == Some(&*s) {
                table[cp as usize] = u16::from_be_bytes([bytes[0], bytes[1]]);
            }
        }
        table.into_boxed_slice()
    })
}

/// The code of `c` in `charset` (0: none; a single byte is `0x00XX`): Shift_JIS bytes for
/// `shift_jis`, `cp932` and `jis_x0208` (whose two-byte JIS code is worked out from them, ASCII
/// taken as its full-width form).
fn code(c: char, charset: Charset) -> u16 {
    let lookup = |c: char| {
        let cp = c as u32;
        if cp < 0x10000 { cp932_table()[cp as usize] } else { 0 }
    };
    match charset {
        Charset::Utf8 => 0,
        Charset::Cp932 => lookup(c),
        Charset::ShiftJis => {
            if let Some(&(code, ..)) = JIS_CP932_PAIRS.iter().find(|(_, jis, _)| *jis == c) {
                return code;
            }
            if JIS_CP932_PAIRS.iter().any(|(_, _, cp932)| *cp932 == c) {
                return 0;
            }
            match lookup(c) {
                b if b < 0x100 => b,
                b if is_jis_x0208_code((b >> 8) as u8, b as u8) => b,
                _ => 0,
            }
        }
        Charset::JisX0208 => match lookup(to_fullwidth(c)) {
            b if b >= 0x100 && is_jis_x0208_code((b >> 8) as u8, b as u8) => b,
            _ => 0,
        },
    }
}

/// Whether `c` can be written in `charset` as it is: for `shift_jis` and `jis_x0208` a JIS X
/// 0201 or JIS X 0208 character (ASCII as its full-width form, for `jis_x0208`), for `cp932` a
/// Windows-31J one; a character another decoder of the charset reads back differently never
/// fits.
pub(crate) fn fits(c: char, charset: Charset) -> bool {
    charset.is_universal() || code(c, charset) != 0
}

/// Shift_JIS codes of the assigned cells of JIS X 0208: rows 1–8 and 16–84 (Windows-31J adds
/// NEC row 13 at 0x87 and IBM extensions at 0xED–0xEE and 0xFA–0xFC, which JIS X 0208 does not
/// have; row 84 ends at 0xEAA4), and a valid trail byte. Unassigned cells within the rows are
/// left to the decoder, which has no character for them.
fn is_jis_x0208_code(lead: u8, trail: u8) -> bool {
    matches!(lead, 0x81..=0x84 | 0x88..=0x9F | 0xE0..=0xEA)
        && matches!(trail, 0x40..=0x7E | 0x80..=0xFC)
        && !(lead == 0x88 && trail < 0x9F) // row 15
        && !(lead == 0xEA && trail > 0xA4)
}

/// Shrink `text` so every character fits `charset`, appending the replacements made to
/// `report`. `None` when the text fits as it is (always, for UTF-8 targets).
pub(crate) fn shrink(
    text: &str,
    charset: Charset,
    replacement: Option<&str>,
    report: &mut Vec<Degeneration>,
) -> Result<Option<String>, Unmappable> {
    let fit = |c: char| fits(c, charset);
    if charset.is_universal() || text.chars().all(fit) {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let selector = chars.next_if(|n| is_variation_selector(*n));
        if selector.is_none() && fit(c) {
            out.push(c);
            continue;
        }
        let mut from = String::from(c);
        from.extend(selector);
        if let Some(found) = counterpart(c, charset).filter(|&k| fit(k)) {
            out.push(found);
            report.push(Degeneration { from, to: found.to_string(), how: Shrink::Counterpart });
        } else if let Some(found) = mj_candidate(&from, charset) {
            out.push_str(&found);
            report.push(Degeneration { from, to: found, how: Shrink::ShrinkMap });
        } else if selector.is_some() && fit(c) {
            out.push(c);
            report.push(Degeneration { from, to: c.to_string(), how: Shrink::SelectorDropped });
        } else if let Some(found) = selector.and_then(|_| mj_candidate(&c.to_string(), charset)) {
            out.push_str(&found);
            report.push(Degeneration { from, to: found, how: Shrink::ShrinkMap });
        } else if let Some(found) = jnta_candidate(c, charset) {
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

/// The first MJ shrink candidate of one character (with its selector) that fits `charset`.
fn mj_candidate(ch: &str, charset: Charset) -> Option<String> {
    mj_shrink_candidates(ch, MJShrinkSchemes::ALL)
        .find(|cand| cand != ch && cand.chars().all(|c| fits(c, charset)))
}

/// The NTA JIS shrink map's replacement (JIS X 0213 → JIS X 0208), if it has one that fits.
fn jnta_candidate(c: char, charset: Charset) -> Option<String> {
    let mut buf = [0u8; 4];
    let out = jntajis::jnta_shrink_translit(c.encode_utf8(&mut buf), Some("")).ok()?;
    (!out.is_empty() && out.chars().all(|c| fits(c, charset)) && out != c.to_string()).then_some(out)
}

/// Encode text already fitted to `charset` (see [`shrink`]).
pub(crate) fn encode(text: &str, charset: Charset, out: &mut Vec<u8>) {
    match charset {
        Charset::Utf8 => out.extend_from_slice(text.as_bytes()),
        Charset::ShiftJis | Charset::Cp932 => {
            for c in text.chars() {
                match code(c, charset) {
                    0 => out.extend_from_slice(&[0x81, 0xAC]), // 〓: shrink has run, so never reached
                    b if b < 0x100 => out.push(b as u8),
                    b => out.extend_from_slice(&b.to_be_bytes()),
                }
            }
        }
        Charset::JisX0208 => {
            for c in text.chars() {
                match code(c, charset) {
                    0 => out.extend_from_slice(&[0x22, 0x2E]), // 〓
                    b => {
                        let [lead, trail] = b.to_be_bytes();
                        let (b1, b2) = sjis_to_jis(lead, trail);
                        out.extend_from_slice(&[b1, b2]);
                    }
                }
            }
        }
    }
}

/// Bytes `text` takes in `charset` (text already fitted).
pub(crate) fn encoded_len(text: &str, charset: Charset) -> usize {
    match charset {
        Charset::Utf8 => text.len(),
        Charset::JisX0208 => text.chars().count() * 2,
        Charset::ShiftJis | Charset::Cp932 => text
            .chars()
            .map(|c| if c.is_ascii() || ('\u{FF61}'..='\u{FF9F}').contains(&c) { 1 } else { 2 })
            .sum(),
    }
}

/// Decode bytes of an item in `charset`.
pub(crate) fn decode(bytes: &[u8], charset: Charset) -> Result<String, ()> {
    charset.decode(bytes).map(Cow::into_owned).map_err(|_| ())
}

/// ASCII to its full-width form (space to U+3000); every other character unchanged.
pub(crate) fn to_fullwidth(c: char) -> char {
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
    use proptest::prelude::*;

    use super::*;

    const LEGACY: [Charset; 2] = [Charset::ShiftJis, Charset::Cp932];

    /// The assigned cells of JIS X 0208:1997 (6879 characters), as the standard's code table
    /// lays them out: written from the table, not from a decoder.
    fn assigned_cells() -> Vec<(u8, u8)> {
        let row = |r: u8| -> Vec<std::ops::RangeInclusive<u8>> {
            match r {
                1 | 16..=46 | 48..=83 => vec![1..=94],
                2 => vec![1..=14, 26..=33, 42..=48, 60..=74, 82..=89, 94..=94],
                3 => vec![16..=25, 33..=58, 65..=90],
                4 => vec![1..=83],
                5 => vec![1..=86],
                6 => vec![1..=24, 33..=56],
                7 => vec![1..=33, 49..=81],
                8 => vec![1..=32],
                47 => vec![1..=51],
                84 => vec![1..=6],
                _ => vec![],
            }
        };
        (1..=94u8).flat_map(|r| row(r).into_iter().flatten().map(move |c| (r, c))).collect()
    }

    /// Shift_JIS bytes of row `r` cell `c` by the arithmetic of JIS X 0208:1997 Annex 1.
    fn sjis_of(r: u8, c: u8) -> [u8; 2] {
        let (r, c) = (u16::from(r), u16::from(c));
        let s1 = if r <= 62 { (r + 0x101) / 2 } else { (r + 0x181) / 2 };
        let s2 = if r % 2 == 0 {
            c + 0x9E
        } else if c <= 63 {
            c + 0x3F
        } else {
            c + 0x40
        };
        [s1 as u8, s2 as u8]
    }

    fn one_char(text: &str) -> char {
        let mut chars = text.chars();
        let c = chars.next().expect("a character");
        assert_eq!(chars.next(), None, "{text:?} is one character");
        c
    }

    #[test]
    fn jis_x0208_has_6879_assigned_cells() {
        assert_eq!(assigned_cells().len(), 6879);
        assert_eq!(sjis_of(1, 1), [0x81, 0x40]);
        assert_eq!(sjis_of(1, 64), [0x81, 0x80]);
        assert_eq!(sjis_of(2, 1), [0x81, 0x9F]);
        assert_eq!(sjis_of(63, 1), [0xE0, 0x40]);
        assert_eq!(sjis_of(84, 6), [0xEA, 0xA4]);
    }

    #[test]
    fn every_jis_x0208_character_round_trips_in_both_charsets() {
        for charset in LEGACY {
            for (r, c) in assigned_cells() {
                let bytes = sjis_of(r, c);
                let ch = one_char(&charset.decode(&bytes).unwrap_or_else(|at| panic!("{r}-{c}: byte {at}")));
                assert!(fits(ch, charset), "{charset:?} {r}-{c}");
                let mut out = Vec::new();
                charset.encode_into(&ch.to_string(), &mut out).unwrap();
                assert_eq!(out, bytes, "{charset:?} {r}-{c}");
                out.clear();
                encode(&ch.to_string(), charset, &mut out);
                assert_eq!(out, bytes, "{charset:?} {r}-{c}");
                assert_eq!(shrink(&ch.to_string(), charset, None, &mut Vec::new()), Ok(None));
            }
        }
    }

    #[test]
    fn the_six_cells_are_the_only_difference() {
        for (r, c) in assigned_cells() {
            let bytes = sjis_of(r, c);
            let (jis, cp932) =
                (Charset::ShiftJis.decode(&bytes).unwrap(), Charset::Cp932.decode(&bytes).unwrap());
            let code = u16::from_be_bytes(bytes);
            match JIS_CP932_PAIRS.iter().find(|p| p.0 == code) {
                Some(&(_, j, w)) => assert_eq!((one_char(&jis), one_char(&cp932)), (j, w), "{r}-{c}"),
                None => assert_eq!(jis, cp932, "{r}-{c}"),
            }
        }
    }

    #[test]
    fn strict_shift_jis_refuses_what_jis_x0208_does_not_assign() {
        let assigned: std::collections::HashSet<_> = assigned_cells().into_iter().collect();
        for r in 1..=94u8 {
            for c in 1..=94u8 {
                if !assigned.contains(&(r, c)) {
                    assert_eq!(Charset::ShiftJis.decode(&sjis_of(r, c)), Err(0), "{r}-{c}");
                }
            }
        }
        // NEC row 13 (①), an NEC-selected IBM extension (髙 at 0xEEE0) and IBM's (髙 at 0xFBFC),
        // and the user-defined area: Windows-31J only.
        for bytes in [[0x87, 0x40], [0xEE, 0xE0], [0xFB, 0xFC], [0xF0, 0x40]] {
            assert_eq!(Charset::ShiftJis.decode(&bytes), Err(0), "{bytes:X?}");
        }
        assert_eq!(Charset::Cp932.decode(&[0x87, 0x40]).unwrap(), "①");
        assert_eq!(Charset::Cp932.decode(&[0xFB, 0xFC]).unwrap(), "髙");
        for b in [0x80u8, 0xA0, 0xFD, 0xFE, 0xFF] {
            assert_eq!(Charset::ShiftJis.decode(&[b, 0x40]), Err(0), "{b:X}");
        }
        assert_eq!(Charset::ShiftJis.decode_lossy(b"A\x87\x40B"), "A\u{FFFD}@B");
    }

    /// The bytes of a string of JIS X 0208 characters, ASCII and half-width katakana.
    fn jis_text() -> impl Strategy<Value = Vec<u8>> {
        let cells = assigned_cells();
        let unit = prop_oneof![
            4 => proptest::sample::select(cells).prop_map(|(r, c)| sjis_of(r, c).to_vec()),
            1 => (0x20u8..0x7F).prop_map(|b| vec![b]),
            1 => (0xA1u8..=0xDF).prop_map(|b| vec![b]),
        ];
        proptest::collection::vec(unit, 0..24).prop_map(|units| units.concat())
    }

    proptest! {
        #[test]
        fn jis_x0208_text_round_trips(bytes in jis_text()) {
            for charset in LEGACY {
                let text = charset.decode(&bytes).expect("JIS X 0208 text decodes").into_owned();
                let mut out = Vec::new();
                charset.encode_into(&text, &mut out).expect("every JIS X 0208 character has a code");
                prop_assert_eq!(&out, &bytes);
                prop_assert_eq!(encoded_len(&text, charset), bytes.len());
                out.clear();
                encode(&text, charset, &mut out);
                prop_assert_eq!(&out, &bytes);
                prop_assert_eq!(shrink(&text, charset, None, &mut Vec::new()), Ok(None));
            }
        }
    }

    #[test]
    fn each_pair_reads_and_writes_as_its_charset_maps_it() {
        for (code, jis, cp932) in JIS_CP932_PAIRS {
            let bytes = code.to_be_bytes();
            assert_eq!(Charset::ShiftJis.decode(&bytes).unwrap(), jis.to_string());
            assert_eq!(Charset::Cp932.decode(&bytes).unwrap(), cp932.to_string());
            let mut out = Vec::new();
            Charset::ShiftJis.encode_into(&jis.to_string(), &mut out).unwrap();
            assert_eq!(out, bytes, "U+{:04X}", u32::from(jis));
            out.clear();
            Charset::Cp932.encode_into(&cp932.to_string(), &mut out).unwrap();
            assert_eq!(out, bytes, "U+{:04X}", u32::from(cp932));

            // The other charset's form has no code: its bytes would be read as another character.
            let e = Charset::ShiftJis.encode_into(&format!("1{cp932}"), &mut out).unwrap_err();
            assert_eq!(e, NoCode { ch: cp932, position: 2 });
            assert_eq!(
                e.describe(Charset::ShiftJis),
                format!("character 2 of the value, U+{:04X}, has no Shift_JIS code", u32::from(cp932))
            );
            let e = Charset::Cp932.encode_into(&jis.to_string(), &mut out).unwrap_err();
            assert_eq!(e, NoCode { ch: jis, position: 1 });
            assert!(!fits(cp932, Charset::ShiftJis) && !fits(jis, Charset::Cp932));

            // Shrinking writes the charset's own form of the cell, and says so.
            for (charset, from, to) in [(Charset::ShiftJis, cp932, jis), (Charset::Cp932, jis, cp932)] {
                let mut report = Vec::new();
                let out = shrink(&format!("A{from}"), charset, None, &mut report).unwrap();
                assert_eq!(out.as_deref(), Some(&*format!("A{to}")));
                assert_eq!(
                    report,
                    [Degeneration { from: from.to_string(), to: to.to_string(), how: Shrink::Counterpart }]
                );
            }
        }
        // jis_x0208 reads the cells as Windows-31J does, and shrinks JIS's form like cp932.
        let mut out = Vec::new();
        encode("～", Charset::JisX0208, &mut out);
        assert_eq!(out, [0x21, 0x41]);
        assert_eq!(Charset::JisX0208.decode(&out).unwrap(), "～");
        let mut report = Vec::new();
        assert_eq!(shrink("〜", Charset::JisX0208, None, &mut report).unwrap().as_deref(), Some("～"));
        assert_eq!(report[0].how, Shrink::Counterpart);
    }

    #[test]
    fn yen_overline_and_minus_are_never_changed_silently() {
        for charset in LEGACY {
            // 0x5C and 0x7E are ASCII, read and written.
            assert_eq!(charset.decode(b"\\~").unwrap(), "\\~");
            let mut out = Vec::new();
            charset.encode_into("\\~", &mut out).unwrap();
            assert_eq!(out, b"\\~");
            for (c, full) in [('\u{A5}', '\u{FFE5}'), ('\u{203E}', '\u{FFE3}')] {
                assert_eq!(charset.encode_into(&c.to_string(), &mut out), Err(NoCode { ch: c, position: 1 }));
                assert!(!fits(c, charset));
                let mut report = Vec::new();
                assert_eq!(
                    shrink(&c.to_string(), charset, None, &mut report).unwrap(),
                    Some(full.to_string())
                );
                assert_eq!(report[0].how, Shrink::Counterpart, "U+{:04X}", u32::from(c));
            }
        }
        // − U+2212 is JIS's 1-61: strict Shift_JIS writes it as 0x817C and reads it back; for
        // Windows-31J 0x817C is － U+FF0D, so − has no code there.
        let mut out = Vec::new();
        Charset::ShiftJis.encode_into("−", &mut out).unwrap();
        assert_eq!(out, [0x81, 0x7C]);
        assert_eq!(Charset::ShiftJis.decode(&out).unwrap(), "−");
        assert_eq!(Charset::Cp932.encode_into("−", &mut out), Err(NoCode { ch: '−', position: 1 }));
        let mut report = Vec::new();
        assert_eq!(shrink("1−2", Charset::Cp932, None, &mut report).unwrap().as_deref(), Some("1－2"));
        assert_eq!(report[0].how, Shrink::Counterpart);
        // 〜 U+301C is JIS's 1-33, not a character to replace with 〓.
        report.clear();
        assert_eq!(shrink("1〜2", Charset::ShiftJis, None, &mut report).unwrap(), None);
        assert!(report.is_empty());
    }

    #[test]
    fn jis_x0208_membership() {
        for c in ['高', '崎', '葛', 'ア', 'ｱ', 'A', '〓', '　', '〜', '−', '＼'] {
            assert!(fits(c, Charset::ShiftJis), "{c}");
        }
        // 髙 and 﨑 are Windows-31J extensions; 𠮷 is outside every JIS set Shift_JIS encodes.
        for c in ['髙', '﨑', '𠮷', '\u{F0101}', '\u{E0100}', '～'] {
            assert!(!fits(c, Charset::ShiftJis), "{c}");
        }
        for c in ['髙', '﨑', '①', '～'] {
            assert!(fits(c, Charset::Cp932), "{c}");
        }
        for c in ['𠮷', '\u{F0101}', '\u{E0100}', '〜', '\u{E000}'] {
            assert!(!fits(c, Charset::Cp932), "{c}");
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
        // Windows-31J carries 髙 and 﨑 as they are.
        assert_eq!(shrink("髙橋 山﨑", Charset::Cp932, None, &mut report).unwrap(), None);
        assert!(report.is_empty());
    }

    #[test]
    fn cp932_round_trips_except_the_listed_characters() {
        let mut lossy = Vec::new();
        let mut buf = Vec::new();
        for ch in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let s = ch.to_string();
            buf.clear();
            let (bytes, _, unmappable) = SHIFT_JIS.encode(&s);
            if unmappable {
                assert!(Charset::Cp932.encode_into(&s, &mut buf).is_err(), "U+{:04X}", u32::from(ch));
                continue;
            }
            let (back, _, malformed) = SHIFT_JIS.decode(&bytes);
            if malformed || back != s {
                lossy.push(ch);
            }
            let strict = Charset::Cp932.encode_into(&s, &mut buf);
            assert_eq!(strict.is_ok(), !lossy.contains(&ch), "U+{:04X}", u32::from(ch));
        }
        assert_eq!(lossy, SHIFT_JIS_LOSSY);
    }

    #[test]
    fn unmappable_characters_are_named_by_position_and_code_point() {
        for charset in LEGACY {
            let mut out = b"kept".to_vec();
            // 葛 followed by a variation selector (an IVS): Shift_JIS has no selectors.
            let e = charset.encode_into("山田葛\u{E0100}子", &mut out).unwrap_err();
            assert_eq!(e, NoCode { ch: '\u{E0100}', position: 4 });
            assert_eq!(out, b"kept", "nothing is appended on failure");
        }
        let e = NoCode { ch: '\u{E0100}', position: 4 };
        assert_eq!(e.describe(Charset::ShiftJis), "character 4 of the value, U+E0100, has no Shift_JIS code");
        assert_eq!(e.describe(Charset::Cp932), "character 4 of the value, U+E0100, has no Windows-31J code");
        let mut out = Vec::new();
        assert!(Charset::Utf8.encode_into("葛\u{E0100}", &mut out).is_ok());
        let e = Charset::JisX0208.encode_into("A髙", &mut out).unwrap_err();
        assert_eq!(e, NoCode { ch: '髙', position: 2 });
        let e = Charset::ShiftJis.encode_into("A髙", &mut out).unwrap_err();
        assert_eq!(e, NoCode { ch: '髙', position: 2 });
    }

    #[test]
    fn malformed_bytes_are_located() {
        for charset in LEGACY {
            assert_eq!(charset.decode(b"\x8e\x52\x93\x63").unwrap(), "山田");
            // Half-width katakana grow from one byte to three.
            assert_eq!(charset.decode(b"\xd4\xcf\xc0\xde").unwrap(), "ﾔﾏﾀﾞ");
            // 0x82 needs a trail byte; 0x20 is not one.
            assert_eq!(charset.decode(b"\x8e\x52\x82 ").unwrap_err(), 2);
            assert_eq!(charset.decode(b"\x8e\x52\x82").unwrap_err(), 2);
        }
        assert_eq!(Charset::Utf8.decode(b"ab\xe5\xb1").unwrap_err(), 2);
        assert_eq!(Charset::JisX0208.decode(b"\x3b\x33\x3b").unwrap_err(), 2);
        // Row 13 is NEC's, not JIS X 0208's.
        assert_eq!(Charset::JisX0208.decode(b"\x3b\x33\x2d\x21").unwrap_err(), 2);
    }

    #[test]
    fn charset_names() {
        #[derive(Deserialize)]
        struct H {
            charset: Charset,
        }
        for (name, charset) in [
            ("shift_jis", Charset::ShiftJis),
            ("cp932", Charset::Cp932),
            ("windows-31j", Charset::Cp932),
            ("jis_x0208", Charset::JisX0208),
            ("utf-8", Charset::Utf8),
        ] {
            let h: H = toml::from_str(&format!("charset = \"{name}\"")).unwrap();
            assert_eq!(h.charset, charset, "{name}");
        }
        assert_eq!(Charset::Cp932.as_str(), "cp932");
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
