//! Character sets as a receiving system decodes them, written from the standards rather than
//! taken from renkei's encoder.
//!
//! - `shift_jis`: JIS X 0208:1997 Annex 1 (シフト符号化表現). Single bytes are ASCII
//!   (0x00–0x7F, as every municipal system reads them in practice) and JIS X 0201 katakana
//!   (0xA1–0xDF); a double-byte code must fall in a row JIS X 0208 assigns (1–8, 16–84). The
//!   characters of the rows are those of Windows-31J except the seven code points in
//!   [`JIS_PAIRS`], where the JIS standard's mapping (the Unicode consortium's JIS0208.TXT)
//!   and Microsoft's differ. NEC and IBM extensions (rows 13, 89–92, 115–119) are refused.
//! - `cp932`: Windows-31J as Microsoft (and the WHATWG Encoding Standard) map it.
//! - `utf-8`.
//!
//! A receiver that cannot decode a byte reports its offset; nothing is replaced silently.

use encoding_rs::SHIFT_JIS as WINDOWS_31J;

/// The double-byte codes whose Unicode mapping differs between JIS X 0208 (JIS0208.TXT) and
/// Windows-31J: (Shift_JIS bytes, JIS X 0208 code point, Windows-31J code point).
pub const JIS_PAIRS: [(u16, char, char); 6] = [
    (0x8160, '\u{301C}', '\u{FF5E}'), // 1-33 WAVE DASH / FULLWIDTH TILDE
    (0x8161, '\u{2016}', '\u{2225}'), // 1-34 DOUBLE VERTICAL LINE / PARALLEL TO
    (0x817C, '\u{2212}', '\u{FF0D}'), // 1-61 MINUS SIGN / FULLWIDTH HYPHEN-MINUS
    (0x8191, '\u{00A2}', '\u{FFE0}'), // 1-81 CENT SIGN / FULLWIDTH CENT SIGN
    (0x8192, '\u{00A3}', '\u{FFE1}'), // 1-82 POUND SIGN / FULLWIDTH POUND SIGN
    (0x81CA, '\u{00AC}', '\u{FFE2}'), // 2-44 NOT SIGN / FULLWIDTH NOT SIGN
];

/// How a receiving system decodes the bytes of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireCharset {
    Utf8,
    ShiftJis,
    Cp932,
}

/// Bytes the receiver could not decode: where, counted from the start of what was decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecodable {
    pub offset: usize,
    pub rule: &'static str,
}

impl WireCharset {
    pub fn name(self) -> &'static str {
        match self {
            WireCharset::Utf8 => "utf-8",
            WireCharset::ShiftJis => "shift_jis",
            WireCharset::Cp932 => "cp932",
        }
    }

    /// Decode `bytes` whole, or say at which offset decoding failed.
    pub fn decode(self, bytes: &[u8]) -> Result<String, Undecodable> {
        match self {
            WireCharset::Utf8 => std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|e| Undecodable { offset: e.valid_up_to(), rule: "is not UTF-8" }),
            WireCharset::Cp932 => decode_sjis(bytes, false),
            WireCharset::ShiftJis => decode_sjis(bytes, true),
        }
    }
}

/// The JIS X 0208 row (区) and cell (点) of a Shift_JIS double-byte code, by the arithmetic of
/// JIS X 0208 Annex 1; `None` for bytes that are no double-byte code.
pub fn row_cell(lead: u8, trail: u8) -> Option<(u8, u8)> {
    let base = match lead {
        0x81..=0x9F => 0x81,
        0xE0..=0xFC => 0xC1,
        _ => return None,
    };
    let pair = (lead - base) * 2;
    match trail {
        0x40..=0x7E => Some((pair + 1, trail - 0x3F)),
        0x80..=0x9E => Some((pair + 1, trail - 0x40)),
        0x9F..=0xFC => Some((pair + 2, trail - 0x9E)),
        _ => None,
    }
}

/// The Shift_JIS bytes of JIS X 0208 row `row`, cell `cell` (both 1–94).
pub fn sjis_bytes(row: u8, cell: u8) -> [u8; 2] {
    let lead = if row <= 62 { row.div_ceil(2) + 0x80 } else { row.div_ceil(2) + 0xC0 };
    let trail = if row % 2 == 1 { if cell <= 63 { cell + 0x3F } else { cell + 0x40 } } else { cell + 0x9E };
    [lead, trail]
}

fn decode_sjis(bytes: &[u8], strict: bool) -> Result<String, Undecodable> {
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            0x00..=0x7F => {
                out.push(char::from(b));
                i += 1;
            }
            0xA1..=0xDF => {
                out.push(char::from_u32(0xFF61 + u32::from(b - 0xA1)).expect("half-width katakana"));
                i += 1;
            }
            _ => {
                let Some(&trail) = bytes.get(i + 1) else {
                    return Err(Undecodable { offset: i, rule: "ends inside a double-byte character" });
                };
                let Some((row, _)) = row_cell(b, trail) else {
                    return Err(Undecodable { offset: i, rule: "is no Shift_JIS character" });
                };
                if strict && !matches!(row, 1..=8 | 16..=84) {
                    return Err(Undecodable { offset: i, rule: "is outside the rows JIS X 0208 assigns" });
                }
                let code = u16::from_be_bytes([b, trail]);
                let pair = JIS_PAIRS.iter().find(|(c, _, _)| *c == code);
                let c = match pair {
                    Some((_, jis, _)) if strict => *jis,
                    _ => {
                        let (text, had_errors) = WINDOWS_31J.decode_without_bom_handling(&bytes[i..i + 2]);
                        match text.chars().next() {
                            Some(c) if !had_errors && text.chars().count() == 1 => c,
                            _ => return Err(Undecodable { offset: i, rule: "is an unassigned code" }),
                        }
                    }
                };
                out.push(c);
                i += 2;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_arithmetic_goes_both_ways() {
        for row in (1..=8).chain(16..=84) {
            for cell in 1..=94 {
                let [lead, trail] = sjis_bytes(row, cell);
                assert_eq!(row_cell(lead, trail), Some((row, cell)), "{row}-{cell}");
            }
        }
        assert_eq!(sjis_bytes(1, 1), [0x81, 0x40]);
        assert_eq!(sjis_bytes(1, 33), [0x81, 0x60]);
        assert_eq!(sjis_bytes(16, 1), [0x88, 0x9F]);
        assert_eq!(sjis_bytes(84, 6), [0xEA, 0xA4]);
    }

    #[test]
    fn the_pairs_decode_by_the_charset_named() {
        for (code, jis, ms) in JIS_PAIRS {
            let bytes = code.to_be_bytes();
            assert_eq!(WireCharset::ShiftJis.decode(&bytes).unwrap(), jis.to_string());
            assert_eq!(WireCharset::Cp932.decode(&bytes).unwrap(), ms.to_string());
        }
    }

    #[test]
    fn extensions_are_cp932_only_and_offsets_are_reported() {
        // ① is NEC row 13; 﨑 is an IBM extension (0xFAB1).
        for bytes in [[0x87u8, 0x40], [0xFA, 0xB1]] {
            assert!(WireCharset::Cp932.decode(&bytes).is_ok());
            let mut text = b"AB".to_vec();
            text.extend_from_slice(&bytes);
            let e = WireCharset::ShiftJis.decode(&text).unwrap_err();
            assert_eq!(e.offset, 2);
        }
        let e = WireCharset::ShiftJis.decode(b"\x88\x9f\x82").unwrap_err();
        assert_eq!((e.offset, e.rule), (2, "ends inside a double-byte character"));
        let e = WireCharset::Utf8.decode(b"ok\xff").unwrap_err();
        assert_eq!(e.offset, 2);
    }
}
