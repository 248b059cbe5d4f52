//! Strict BER-TLV, as ISO/IEC 7816-4 cards use it (ISO/IEC 8825-1 encoding rules).
//!
//! "Strict" means every byte is accounted for and every encoding choice is the only one allowed:
//! no indefinite lengths, no lengths or tag numbers written longer than needed, nothing after the
//! last TLV, children of a constructed TLV filling it exactly. A card that answers anything else
//! is refused with the byte offset and the rule, so a corrupt chip never becomes a wrong name.
//!
//! ```
//! use renkei_adapter_card::tlv::{self, Tag};
//!
//! let file = [0xFF, 0x20, 0x05, 0xDF, 0x22, 0x02, b'o', b'k'];
//! let outer = tlv::parse_single(&file, Tag(0xFF20)).unwrap();
//! let inner = outer.children().unwrap();
//! assert_eq!(inner[0].tag, Tag(0xDF22));
//! assert_eq!(inner[0].value, b"ok");
//!
//! let err = tlv::parse_all(&[0xDF, 0x22, 0x81, 0x02, b'o', b'k']).unwrap_err();
//! assert_eq!(err.to_string(), "at byte 2: length written in long form though it fits in one byte");
//! ```

use std::fmt;

/// Bytes read first from a file that starts with one TLV: enough for a tag of two bytes and a
/// length of up to four, so the size of the whole file is known after one command.
pub(crate) const HEADER_READ: u16 = 7;

/// A tag as its bytes read big-endian: `DF 22` is `Tag(0xDF22)`. At most three bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u32);

impl Tag {
    /// Whether the TLV holds other TLVs (bit 6 of the first byte).
    pub fn is_constructed(self) -> bool {
        self.first_byte() & 0x20 != 0
    }

    fn first_byte(self) -> u8 {
        let bytes = self.0.to_be_bytes();
        bytes.into_iter().find(|b| *b != 0).unwrap_or(0)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({self})")
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = if self.0 > 0xFFFF {
            6
        } else if self.0 > 0xFF {
            4
        } else {
            2
        };
        write!(f, "{:0width$X}", self.0)
    }
}

/// One TLV borrowed from the input; `offset` is where its tag starts in the outermost input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: Tag,
    pub value: &'a [u8],
    pub offset: usize,
    /// Where the value starts in the outermost input.
    pub value_offset: usize,
}

/// The rule an encoding broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvRule {
    #[error("input ends inside a TLV ({missing} more bytes expected)")]
    Truncated { missing: usize },
    #[error("indefinite length (0x80) is not allowed")]
    IndefiniteLength,
    #[error("length written in long form though it fits in one byte")]
    NonMinimalLength,
    #[error("length has a leading zero byte")]
    LengthLeadingZero,
    #[error("length uses more than three bytes")]
    LengthTooLong,
    #[error("reserved length byte 0xFF")]
    ReservedLength,
    #[error("tag uses more than three bytes")]
    TagTooLong,
    #[error("tag number written longer than needed")]
    NonMinimalTag,
    #[error("{count} bytes follow the last TLV")]
    TrailingBytes { count: usize },
    #[error("expected tag {expected}, found {found}")]
    UnexpectedTag { expected: Tag, found: Tag },
    #[error("tag {0} appears more than once")]
    Duplicate(Tag),
    #[error("tag {0} is missing")]
    Missing(Tag),
    #[error("tag {0} is primitive where a constructed TLV is required")]
    NotConstructed(Tag),
    #[error("tag {0} is constructed where a primitive TLV is required")]
    NotPrimitive(Tag),
    #[error("declares {declared} bytes, more than the {max} this file may hold")]
    TooLarge { declared: usize, max: usize },
}

/// A broken rule at a byte offset (from the start of the file read from the card).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {rule}")]
pub struct TlvError {
    pub offset: usize,
    pub rule: TlvRule,
}

impl TlvError {
    fn at(offset: usize, rule: TlvRule) -> Self {
        Self { offset, rule }
    }
}

/// The tag and length of a TLV, read from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub tag: Tag,
    /// Bytes of tag and length together.
    pub header_len: usize,
    pub value_len: usize,
}

impl Header {
    /// Bytes of the whole TLV.
    pub fn total_len(&self) -> usize {
        self.header_len + self.value_len
    }
}

/// Read the tag and length at the start of `input` (`base` is its offset in the file, for errors).
/// Needs only the header's bytes, so a reader can learn a file's size from its first few bytes.
pub fn parse_header(input: &[u8], base: usize) -> Result<Header, TlvError> {
    let truncated = |pos: usize, missing: usize| TlvError::at(base + pos, TlvRule::Truncated { missing });
    let first = *input.first().ok_or_else(|| truncated(0, 2))?;
    let mut tag = u32::from(first);
    let mut pos = 1;
    if first & 0x1F == 0x1F {
        // Subsequent tag bytes: bit 8 says another follows.
        let mut number: u32 = 0;
        loop {
            let b = *input.get(pos).ok_or_else(|| truncated(pos, 2))?;
            if pos == 1 && b == 0x80 {
                return Err(TlvError::at(base + pos, TlvRule::NonMinimalTag));
            }
            if pos >= 3 {
                return Err(TlvError::at(base + pos, TlvRule::TagTooLong));
            }
            tag = (tag << 8) | u32::from(b);
            number = (number << 7) | u32::from(b & 0x7F);
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        if number < 0x1F {
            return Err(TlvError::at(base + 1, TlvRule::NonMinimalTag));
        }
    }
    let length_at = pos;
    let l = *input.get(pos).ok_or_else(|| truncated(pos, 1))?;
    pos += 1;
    let value_len = match l {
        0x00..=0x7F => usize::from(l),
        0x80 => return Err(TlvError::at(base + length_at, TlvRule::IndefiniteLength)),
        0xFF => return Err(TlvError::at(base + length_at, TlvRule::ReservedLength)),
        0x81..=0x83 => {
            let n = usize::from(l & 0x7F);
            let bytes = input.get(pos..pos + n).ok_or_else(|| truncated(pos, pos + n - input.len()))?;
            if bytes[0] == 0 {
                return Err(TlvError::at(base + length_at, TlvRule::LengthLeadingZero));
            }
            let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            if n == 1 && len < 0x80 {
                return Err(TlvError::at(base + length_at, TlvRule::NonMinimalLength));
            }
            pos += n;
            len
        }
        _ => return Err(TlvError::at(base + length_at, TlvRule::LengthTooLong)),
    };
    Ok(Header { tag: Tag(tag), header_len: pos, value_len })
}

/// One TLV at the start of `input`, and the bytes it took.
pub fn parse_one(input: &[u8], base: usize) -> Result<(Tlv<'_>, usize), TlvError> {
    let header = parse_header(input, base)?;
    let end = header.total_len();
    if input.len() < end {
        return Err(TlvError::at(base + input.len(), TlvRule::Truncated { missing: end - input.len() }));
    }
    let tlv = Tlv {
        tag: header.tag,
        value: &input[header.header_len..end],
        offset: base,
        value_offset: base + header.header_len,
    };
    Ok((tlv, end))
}

/// A sequence of TLVs filling `input` exactly.
pub fn parse_all(input: &[u8]) -> Result<Vec<Tlv<'_>>, TlvError> {
    parse_sequence(input, 0)
}

fn parse_sequence(input: &[u8], base: usize) -> Result<Vec<Tlv<'_>>, TlvError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        let (tlv, used) = parse_one(&input[pos..], base + pos)?;
        out.push(tlv);
        pos += used;
    }
    Ok(out)
}

/// Exactly one TLV with `tag`, and nothing after it.
pub fn parse_single(input: &[u8], tag: Tag) -> Result<Tlv<'_>, TlvError> {
    let (tlv, used) = parse_one(input, 0)?;
    if tlv.tag != tag {
        return Err(TlvError::at(0, TlvRule::UnexpectedTag { expected: tag, found: tlv.tag }));
    }
    if used != input.len() {
        return Err(TlvError::at(used, TlvRule::TrailingBytes { count: input.len() - used }));
    }
    Ok(tlv)
}

impl<'a> Tlv<'a> {
    /// The TLVs inside a constructed TLV, filling it exactly.
    pub fn children(&self) -> Result<Vec<Tlv<'a>>, TlvError> {
        if !self.tag.is_constructed() {
            return Err(TlvError::at(self.offset, TlvRule::NotConstructed(self.tag)));
        }
        parse_sequence(self.value, self.value_offset)
    }

    /// The value of a primitive TLV.
    pub fn primitive(&self) -> Result<&'a [u8], TlvError> {
        if self.tag.is_constructed() {
            return Err(TlvError::at(self.offset, TlvRule::NotPrimitive(self.tag)));
        }
        Ok(self.value)
    }
}

/// The values of `tags`, each present exactly once and in this order, with nothing else among
/// `tlvs`. `end` is the offset just past the sequence, for the "missing" error.
pub fn expect_in_order<'a, const N: usize>(
    tlvs: &[Tlv<'a>],
    tags: [Tag; N],
    end: usize,
) -> Result<[&'a [u8]; N], TlvError> {
    let mut values: [&[u8]; N] = [&[]; N];
    for (i, tag) in tags.iter().enumerate() {
        let Some(tlv) = tlvs.get(i) else {
            return Err(TlvError::at(end, TlvRule::Missing(*tag)));
        };
        if tlv.tag != *tag {
            let rule = if tags[..i].contains(&tlv.tag) {
                TlvRule::Duplicate(tlv.tag)
            } else {
                TlvRule::UnexpectedTag { expected: *tag, found: tlv.tag }
            };
            return Err(TlvError::at(tlv.offset, rule));
        }
        values[i] = tlv.primitive()?;
    }
    if let Some(extra) = tlvs.get(N) {
        let rule = if tags.contains(&extra.tag) {
            TlvRule::Duplicate(extra.tag)
        } else {
            TlvRule::TrailingBytes { count: end - extra.offset }
        };
        return Err(TlvError::at(extra.offset, rule));
    }
    Ok(values)
}

/// Encode one primitive or constructed TLV with minimal tag and length (for tests and tools).
pub fn encode(tag: Tag, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    let tag_bytes = tag.0.to_be_bytes();
    let skip = tag_bytes.iter().take_while(|b| **b == 0).count().min(3);
    out.extend_from_slice(&tag_bytes[skip..]);
    match value.len() {
        n @ 0..=0x7F => out.push(n as u8),
        n @ 0x80..=0xFF => out.extend_from_slice(&[0x81, n as u8]),
        n @ 0x100..=0xFFFF => out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
        n => out.extend_from_slice(&[0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule(input: &[u8]) -> (usize, TlvRule) {
        let e = parse_all(input).unwrap_err();
        (e.offset, e.rule)
    }

    #[test]
    fn reads_nested_private_tags() {
        let inner = [encode(Tag(0xDF22), "葛\u{E0100}西".as_bytes()), encode(Tag(0xDF25), b"1")].concat();
        let file = encode(Tag(0xFF20), &inner);
        let outer = parse_single(&file, Tag(0xFF20)).unwrap();
        assert!(outer.tag.is_constructed());
        let children = outer.children().unwrap();
        assert_eq!(children.len(), 2);
        assert_eq!(std::str::from_utf8(children[0].value).unwrap(), "葛\u{E0100}西");
        assert_eq!(children[1].offset, 3 + 3 + "葛\u{E0100}西".len());
        let [name, sex] = expect_in_order(&children, [Tag(0xDF22), Tag(0xDF25)], file.len()).unwrap();
        assert_eq!(sex, b"1");
        assert_eq!(name.len(), 10);
    }

    #[test]
    fn long_lengths_round_trip() {
        for n in [0usize, 1, 0x7F, 0x80, 0xFF, 0x100, 0x1234] {
            let v = vec![0xAB; n];
            let bytes = encode(Tag(0xD0), &v);
            let tlv = parse_single(&bytes, Tag(0xD0)).unwrap();
            assert_eq!(tlv.value.len(), n);
            let h = parse_header(&bytes[..bytes.len().min(5)], 0).unwrap();
            assert_eq!(h.total_len(), bytes.len());
        }
    }

    #[test]
    fn refuses_every_non_strict_encoding() {
        assert_eq!(rule(&[0xD0, 0x80, 0x00, 0x00]), (1, TlvRule::IndefiniteLength));
        assert_eq!(rule(&[0xD0, 0x81, 0x05, 1, 2, 3, 4, 5]), (1, TlvRule::NonMinimalLength));
        assert_eq!(rule(&[0xD0, 0x82, 0x00, 0x85]), (1, TlvRule::LengthLeadingZero));
        assert_eq!(rule(&[0xD0, 0x84, 1, 0, 0, 0]), (1, TlvRule::LengthTooLong));
        assert_eq!(rule(&[0xD0, 0xFF]), (1, TlvRule::ReservedLength));
        assert_eq!(rule(&[0xDF, 0x05, 0x00]), (1, TlvRule::NonMinimalTag));
        assert_eq!(rule(&[0xDF, 0x80, 0x22, 0x00]), (1, TlvRule::NonMinimalTag));
        assert_eq!(rule(&[0xDF, 0x81, 0x82, 0x01, 0x00]), (3, TlvRule::TagTooLong));
        assert_eq!(rule(&[0xD0, 0x03, b'1', b'2']), (4, TlvRule::Truncated { missing: 1 }));
        assert_eq!(rule(&[0xDF]), (1, TlvRule::Truncated { missing: 2 }));
        let e = parse_single(&[0xD0, 0x01, b'1', 0x00], Tag(0xD0)).unwrap_err();
        assert_eq!((e.offset, e.rule), (3, TlvRule::TrailingBytes { count: 1 }));
        let e = parse_single(&[0xD1, 0x00], Tag(0xD0)).unwrap_err();
        assert_eq!(e.rule, TlvRule::UnexpectedTag { expected: Tag(0xD0), found: Tag(0xD1) });
        // A primitive tag cannot have children; a child may not overrun its parent.
        let prim = parse_single(&[0xD0, 0x00], Tag(0xD0)).unwrap();
        assert_eq!(prim.children().unwrap_err().rule, TlvRule::NotConstructed(Tag(0xD0)));
        let overrun = [0xFF, 0x20, 0x03, 0xDF, 0x22, 0x05];
        let outer = parse_single(&overrun, Tag(0xFF20)).unwrap();
        assert_eq!(outer.children().unwrap_err().rule, TlvRule::Truncated { missing: 5 });
    }

    #[test]
    fn order_duplicates_and_missing_tags_are_named() {
        let seq = [encode(Tag(0xDF22), b"a"), encode(Tag(0xDF22), b"b")].concat();
        let tlvs = parse_all(&seq).unwrap();
        let e = expect_in_order(&tlvs, [Tag(0xDF22), Tag(0xDF23)], seq.len()).unwrap_err();
        assert_eq!((e.offset, e.rule), (4, TlvRule::Duplicate(Tag(0xDF22))));
        let e = expect_in_order(&tlvs[..1], [Tag(0xDF22), Tag(0xDF23)], 4).unwrap_err();
        assert_eq!((e.offset, e.rule), (4, TlvRule::Missing(Tag(0xDF23))));
        let e = expect_in_order(&tlvs, [Tag(0xDF22)], seq.len()).unwrap_err();
        assert_eq!(e.rule, TlvRule::Duplicate(Tag(0xDF22)));
        assert_eq!(e.to_string(), "at byte 4: tag DF22 appears more than once");
    }

    #[test]
    fn the_longest_header_fits_the_first_read() {
        // Found by fuzzing: a three-byte tag with a three-byte length is a seven-byte header,
        // exactly what the first READ BINARY of a file fetches.
        let h = parse_header(&[0xDF, 0x81, 0x01, 0x83, 0x01, 0x00, 0x00], 0).unwrap();
        assert_eq!((h.header_len, h.value_len), (7, 0x10000));
        assert_eq!(h.header_len, usize::from(HEADER_READ));
    }

    proptest! {
        #[test]
        fn never_panics_and_never_reads_past_the_input(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(tlvs) = parse_all(&bytes) {
                for t in tlvs {
                    prop_assert!(t.value_offset + t.value.len() <= bytes.len());
                    let _ = t.children();
                }
            }
        }

        #[test]
        fn encode_then_parse_is_identity(tag in prop_oneof![Just(0xD0u32), Just(0xDF22), Just(0xFF20), Just(0x5F1F)],
                                         value in proptest::collection::vec(any::<u8>(), 0..300)) {
            let bytes = encode(Tag(tag), &value);
            let tlv = parse_single(&bytes, Tag(tag)).unwrap();
            prop_assert_eq!(tlv.value, &value[..]);
        }
    }
}
