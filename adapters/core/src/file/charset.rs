//! Strict encoding and decoding: a character the charset cannot carry, or bytes that are not
//! text in it, are errors — never a replacement character or a `&#…;` reference.

use std::borrow::Cow;

use encoding_rs::{DecoderResult, EncoderResult, SHIFT_JIS};
use serde::{Deserialize, Serialize};

/// The character set of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Charset {
    #[serde(rename = "utf-8")]
    Utf8,
    /// Shift_JIS as the WHATWG Encoding Standard (and encoding_rs) define it: JIS X 0208 with
    /// the Windows-31J (CP932) extensions — NEC and IBM extended characters, 丸数字, ㈱ —
    /// which is what Japanese municipal systems mean by "Shift_JIS" in practice.
    #[serde(rename = "shift_jis")]
    ShiftJis,
}

/// Characters the Shift_JIS encoder maps to a byte sequence that decodes to a *different*
/// character (U+00A5 YEN SIGN → 0x5C → `\`, U+203E OVERLINE → 0x7E → `~`, U+2212 MINUS SIGN →
/// 0x817C → U+FF0D). Writing them would change the data silently, so they are refused like
/// unmappable ones. `shift_jis_round_trips_except_the_listed_characters` checks the list against
/// every code point.
const SHIFT_JIS_LOSSY: [char; 3] = ['\u{a5}', '\u{203e}', '\u{2212}'];

/// Why a value could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unmappable {
    pub ch: char,
    /// 1-based position of the character in the value.
    pub position: usize,
}

impl Unmappable {
    pub(crate) fn describe(&self, charset: Charset) -> String {
        format!(
            "character {} of the value, U+{:04X}, has no {} code",
            self.position,
            u32::from(self.ch),
            charset.name()
        )
    }
}

impl Charset {
    pub fn name(self) -> &'static str {
        match self {
            Charset::Utf8 => "UTF-8",
            Charset::ShiftJis => "Shift_JIS",
        }
    }

    /// Append `value` encoded to `out`. On failure `out` is left as it was.
    pub(crate) fn encode_into(self, value: &str, out: &mut Vec<u8>) -> Result<(), Unmappable> {
        if self == Charset::Utf8 || value.is_ascii() {
            // ASCII is the same bytes in both charsets.
            out.extend_from_slice(value.as_bytes());
            return Ok(());
        }
        if let Some(i) = value.find(SHIFT_JIS_LOSSY) {
            return Err(Unmappable {
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
                Err(Unmappable { ch, position: char_position(value, at) })
            }
            EncoderResult::OutputFull => {
                // Cannot happen with the maximum length asked for above; fail closed.
                out.truncate(start);
                Err(Unmappable { ch: '\0', position: 0 })
            }
        }
    }

    /// Decode `bytes`, or say at which byte they stop being text in this charset.
    pub(crate) fn decode(self, bytes: &[u8]) -> Result<Cow<'_, str>, usize> {
        match self {
            Charset::Utf8 => std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|e| e.valid_up_to()),
            Charset::ShiftJis => {
                if bytes.is_ascii() {
                    // Checked just above; from_utf8 cannot fail on ASCII.
                    return std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|e| e.valid_up_to());
                }
                let mut decoder = SHIFT_JIS.new_decoder_without_bom_handling();
                // Half-width katakana take one byte in Shift_JIS and three in UTF-8.
                let capacity = decoder
                    .max_utf8_buffer_length_without_replacement(bytes.len())
                    .unwrap_or(bytes.len() * 3);
                let mut text = String::with_capacity(capacity);
                let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut text, true);
                match result {
                    DecoderResult::InputEmpty => Ok(Cow::Owned(text)),
                    DecoderResult::Malformed(bad, extra) => Err(read - usize::from(bad) - usize::from(extra)),
                    DecoderResult::OutputFull => Err(read),
                }
            }
        }
    }

    /// How bytes that failed [`Charset::decode`] at `offset` are described in an error.
    pub(crate) fn describe_malformed(self, offset: usize) -> String {
        format!("byte {} of the field is not valid {}", offset + 1, self.name())
    }
}

fn char_position(value: &str, byte_index: usize) -> usize {
    value[..byte_index].chars().count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(e, Unmappable { ch: '\u{E0100}', position: 4 });
        assert_eq!(out, b"kept", "nothing is appended on failure");
        assert_eq!(e.describe(Charset::ShiftJis), "character 4 of the value, U+E0100, has no Shift_JIS code");
        assert!(Charset::Utf8.encode_into("葛\u{E0100}", &mut out).is_ok());
    }

    #[test]
    fn malformed_bytes_are_located() {
        assert_eq!(Charset::ShiftJis.decode(b"\x8e\x52\x93\x63").unwrap(), "山田");
        // Half-width katakana grow from one byte to three.
        assert_eq!(Charset::ShiftJis.decode(b"\xd4\xcf\xc0\xde").unwrap(), "ﾔﾏﾀﾞ");
        // 0x82 needs a trail byte; 0x20 is not one.
        assert_eq!(Charset::ShiftJis.decode(b"\x8e\x52\x82 ").unwrap_err(), 2);
        assert_eq!(Charset::Utf8.decode(b"ab\xe5\xb1").unwrap_err(), 2);
    }
}
