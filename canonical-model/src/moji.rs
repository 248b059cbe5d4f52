//! Text as residents' names are really written: every code point kept, including the variation
//! selectors of IVS sequences (葛 + U+E0100) and the private-use code points of MJ+ characters.
//!
//! Nothing here normalizes (no NFC/NFKC): normalization may drop or reorder a selector, and a
//! dropped selector is a different person's name on a certificate. Degeneration to a legacy
//! character set happens only at an adapter's edge, through the mapping engine.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Rule, ValidationError};

/// Unicode text kept exactly as given. Equality and hashing compare code points, so `葛` and
/// `葛\u{E0100}` are different values.
///
/// ```
/// use renkei_model::MojiText;
/// let name = MojiText::new("葛\u{E0100}飾").unwrap();
/// assert_eq!(name.as_str().chars().count(), 3);   // the selector is kept
/// assert_eq!(name.char_len(), 2);                  // but it is not a character of its own
/// assert_eq!(name.escaped(), "葛[U+E0100]飾");
/// assert_eq!(name.search_key(), "葛飾");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
#[serde(transparent)]
pub struct MojiText(String);

/// Standardized (U+FE00–FE0F) and ideographic (U+E0100–E01EF) variation selectors.
pub fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// The three private use areas; MJ+ characters not yet in Unicode live here.
pub fn is_private_use(c: char) -> bool {
    matches!(c, '\u{E000}'..='\u{F8FF}' | '\u{F0000}'..='\u{FFFFD}' | '\u{100000}'..='\u{10FFFD}')
}

impl MojiText {
    /// Accept `text` exactly as given. Refused: control characters, and a variation selector with
    /// no base character before it (at the start, or right after another selector).
    pub fn new(text: impl Into<String>) -> Result<Self, ValidationError> {
        let text = text.into();
        let mut previous_is_base = false;
        for c in text.chars() {
            if c.is_control() {
                return Err(ValidationError::new(Rule::ControlCharacter));
            }
            let selector = is_variation_selector(c);
            if selector && !previous_is_base {
                return Err(ValidationError::new(Rule::DanglingSelector));
            }
            previous_is_base = !selector;
        }
        Ok(Self(text))
    }

    /// Like [`MojiText::new`], and refuses the empty string.
    pub fn required(text: impl Into<String>) -> Result<Self, ValidationError> {
        let text = Self::new(text)?;
        if text.0.trim_matches(is_space).is_empty() {
            return Err(ValidationError::new(Rule::Required));
        }
        Ok(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Characters as a person counts them: a base character with its selector is one.
    pub fn char_len(&self) -> usize {
        self.0.chars().filter(|c| !is_variation_selector(*c)).count()
    }

    pub fn has_variation_selectors(&self) -> bool {
        self.0.chars().any(is_variation_selector)
    }

    /// The private-use code points in the text (MJ+ characters), in order.
    pub fn private_use_chars(&self) -> impl Iterator<Item = char> + '_ {
        self.0.chars().filter(|c| is_private_use(*c))
    }

    /// A form for terminals and integrators' tools, where selectors are invisible and PUA glyphs
    /// missing: each selector and private-use code point is written as `[U+XXXX]`. Nothing is
    /// dropped, so the exact text can be read back from it.
    pub fn escaped(&self) -> String {
        let mut out = String::with_capacity(self.0.len() + 8);
        for c in self.0.chars() {
            if is_variation_selector(c) || is_private_use(c) {
                out.push_str(&format!("[U+{:04X}]", c as u32));
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Columns the text takes on a fixed-pitch display: kanji and full-width kana take two,
    /// ASCII and half-width kana one, selectors none.
    pub fn display_width(&self) -> usize {
        self.0
            .chars()
            .map(|c| {
                if is_variation_selector(c) {
                    0
                } else if is_private_use(c) {
                    2 // MJ+ characters are ideographs
                } else {
                    unicode_width::UnicodeWidthChar::width_cjk(c).unwrap_or(0)
                }
            })
            .sum()
    }

    /// A key for *matching only* (e.g. a name typed at a keyboard that cannot enter IVS against
    /// the resident record): selectors and spaces removed, half-width kana and hiragana turned
    /// into full-width katakana. Never store or send it as the name.
    pub fn search_key(&self) -> String {
        let katakana = to_fullwidth_katakana(&self.0);
        katakana.chars().filter(|c| !is_variation_selector(*c) && !is_space(*c)).collect()
    }

    /// Kana in full-width katakana (hiragana and half-width katakana converted); every other code
    /// point, selectors included, unchanged.
    pub fn to_fullwidth_katakana(&self) -> MojiText {
        MojiText(to_fullwidth_katakana(&self.0))
    }

    /// Kana in half-width katakana (voiced kana become two characters, ｶﾞ); every other code point
    /// unchanged. Used for legacy fixed-length layouts that carry kana in one byte.
    pub fn to_halfwidth_katakana(&self) -> MojiText {
        MojiText(to_halfwidth_katakana(&self.0))
    }
}

impl fmt::Display for MojiText {
    /// The exact text, selectors included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MojiText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MojiText({:?})", self.escaped())
    }
}

impl<'de> Deserialize<'de> for MojiText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        MojiText::new(s).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<&str> for MojiText {
    type Error = ValidationError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        MojiText::new(value)
    }
}

impl AsRef<str> for MojiText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\u{3000}'
}

/// Full-width katakana, in name kana: katakana, the prolonged sound mark, the middle dot that
/// separates a foreign name's parts, and spaces.
pub(crate) fn is_name_katakana(c: char) -> bool {
    matches!(c, '\u{30A1}'..='\u{30FA}' | 'ー' | '・' | ' ' | '\u{3000}' | 'ヽ' | 'ヾ')
}

// Half-width katakana U+FF66..=U+FF9D in order, with their full-width forms.
const HALF_TO_FULL: [(char, char); 56] = [
    ('ｦ', 'ヲ'),
    ('ｧ', 'ァ'),
    ('ｨ', 'ィ'),
    ('ｩ', 'ゥ'),
    ('ｪ', 'ェ'),
    ('ｫ', 'ォ'),
    ('ｬ', 'ャ'),
    ('ｭ', 'ュ'),
    ('ｮ', 'ョ'),
    ('ｯ', 'ッ'),
    ('ｰ', 'ー'),
    ('ｱ', 'ア'),
    ('ｲ', 'イ'),
    ('ｳ', 'ウ'),
    ('ｴ', 'エ'),
    ('ｵ', 'オ'),
    ('ｶ', 'カ'),
    ('ｷ', 'キ'),
    ('ｸ', 'ク'),
    ('ｹ', 'ケ'),
    ('ｺ', 'コ'),
    ('ｻ', 'サ'),
    ('ｼ', 'シ'),
    ('ｽ', 'ス'),
    ('ｾ', 'セ'),
    ('ｿ', 'ソ'),
    ('ﾀ', 'タ'),
    ('ﾁ', 'チ'),
    ('ﾂ', 'ツ'),
    ('ﾃ', 'テ'),
    ('ﾄ', 'ト'),
    ('ﾅ', 'ナ'),
    ('ﾆ', 'ニ'),
    ('ﾇ', 'ヌ'),
    ('ﾈ', 'ネ'),
    ('ﾉ', 'ノ'),
    ('ﾊ', 'ハ'),
    ('ﾋ', 'ヒ'),
    ('ﾌ', 'フ'),
    ('ﾍ', 'ヘ'),
    ('ﾎ', 'ホ'),
    ('ﾏ', 'マ'),
    ('ﾐ', 'ミ'),
    ('ﾑ', 'ム'),
    ('ﾒ', 'メ'),
    ('ﾓ', 'モ'),
    ('ﾔ', 'ヤ'),
    ('ﾕ', 'ユ'),
    ('ﾖ', 'ヨ'),
    ('ﾗ', 'ラ'),
    ('ﾘ', 'リ'),
    ('ﾙ', 'ル'),
    ('ﾚ', 'レ'),
    ('ﾛ', 'ロ'),
    ('ﾜ', 'ワ'),
    ('ﾝ', 'ン'),
];
const HALF_DAKUTEN: char = 'ﾞ';
const HALF_HANDAKUTEN: char = 'ﾟ';
const HALF_MIDDLE_DOT: char = '･';

fn half_to_full(c: char) -> Option<char> {
    HALF_TO_FULL.iter().find(|(h, _)| *h == c).map(|(_, f)| *f)
}

fn full_to_half(c: char) -> Option<char> {
    HALF_TO_FULL.iter().find(|(_, f)| *f == c).map(|(h, _)| *h)
}

/// The voiced (゛) form of a full-width katakana, if it has one.
fn voiced(c: char) -> Option<char> {
    match c {
        'ウ' => Some('ヴ'),
        'ワ' => Some('ヷ'),
        'ヲ' => Some('ヺ'),
        // カ..ト: the voiced form is the next code point, for those that have one.
        'カ' | 'キ' | 'ク' | 'ケ' | 'コ' | 'サ' | 'シ' | 'ス' | 'セ' | 'ソ' | 'タ' | 'チ' | 'ツ' | 'テ'
        | 'ト' => char::from_u32(c as u32 + 1),
        'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => char::from_u32(c as u32 + 1),
        _ => None,
    }
}

/// The semi-voiced (゜) form of a full-width katakana, if it has one.
fn semi_voiced(c: char) -> Option<char> {
    match c {
        'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => char::from_u32(c as u32 + 2),
        _ => None,
    }
}

/// Split a voiced or semi-voiced full-width katakana into its base and mark.
fn unvoice(c: char) -> Option<(char, char)> {
    match c {
        'ヴ' => return Some(('ウ', HALF_DAKUTEN)),
        'ヷ' => return Some(('ワ', HALF_DAKUTEN)),
        'ヺ' => return Some(('ヲ', HALF_DAKUTEN)),
        _ => {}
    }
    let prev = char::from_u32((c as u32).checked_sub(1)?)?;
    if voiced(prev) == Some(c) {
        return Some((prev, HALF_DAKUTEN));
    }
    let prev2 = char::from_u32((c as u32).checked_sub(2)?)?;
    if semi_voiced(prev2) == Some(c) {
        return Some((prev2, HALF_HANDAKUTEN));
    }
    None
}

fn to_fullwidth_katakana(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let full = match c {
            // hiragana ぁ..ゖ and the iteration marks map 0x60 up
            '\u{3041}'..='\u{3096}' | 'ゝ' | 'ゞ' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            HALF_MIDDLE_DOT => '・',
            _ => match half_to_full(c) {
                Some(base) => match chars.peek() {
                    Some(&HALF_DAKUTEN) if voiced(base).is_some() => {
                        chars.next();
                        voiced(base).unwrap_or(base)
                    }
                    Some(&HALF_HANDAKUTEN) if semi_voiced(base).is_some() => {
                        chars.next();
                        semi_voiced(base).unwrap_or(base)
                    }
                    _ => base,
                },
                None => match c {
                    HALF_DAKUTEN => '゛',
                    HALF_HANDAKUTEN => '゜',
                    _ => c,
                },
            },
        };
        out.push(full);
    }
    out
}

fn to_halfwidth_katakana(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in to_fullwidth_katakana(s).chars() {
        if let Some(h) = full_to_half(c) {
            out.push(h);
        } else if let Some((base, mark)) = unvoice(c) {
            out.push(full_to_half(base).unwrap_or(base));
            out.push(mark);
        } else {
            match c {
                '・' => out.push(HALF_MIDDLE_DOT),
                '゛' => out.push(HALF_DAKUTEN),
                '゜' => out.push(HALF_HANDAKUTEN),
                '\u{3000}' => out.push(' '),
                _ => out.push(c),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KATSU_IVS: &str = "葛\u{E0100}";

    #[test]
    fn keeps_selectors_and_pua_exactly() {
        let t = MojiText::new(format!("{KATSU_IVS}西\u{F0001}")).unwrap();
        assert_eq!(t.as_str(), "葛\u{E0100}西\u{F0001}");
        assert!(t.has_variation_selectors());
        assert_eq!(t.private_use_chars().collect::<Vec<_>>(), vec!['\u{F0001}']);
        assert_eq!(t.char_len(), 3);
        assert_eq!(t.escaped(), "葛[U+E0100]西[U+F0001]");
        assert_eq!(t.to_string(), t.as_str());
    }

    #[test]
    fn exact_equality_tells_variants_apart() {
        use std::collections::HashSet;
        let plain = MojiText::new("葛").unwrap();
        let ivs = MojiText::new(KATSU_IVS).unwrap();
        assert_ne!(plain, ivs);
        let set: HashSet<_> = [plain.clone(), ivs.clone(), plain.clone()].into_iter().collect();
        assert_eq!(set.len(), 2);
        // 髙 (U+9AD9) and 高 (U+9AD8) are different characters, not variants.
        assert_ne!(MojiText::new("髙").unwrap(), MojiText::new("高").unwrap());
        assert_eq!(plain.search_key(), ivs.search_key());
    }

    #[test]
    fn refuses_controls_and_dangling_selectors() {
        assert_eq!(MojiText::new("山\u{0007}").unwrap_err().rule, Rule::ControlCharacter);
        assert_eq!(MojiText::new("\u{E0100}葛").unwrap_err().rule, Rule::DanglingSelector);
        assert_eq!(MojiText::new("葛\u{E0100}\u{E0101}").unwrap_err().rule, Rule::DanglingSelector);
        assert_eq!(MojiText::required(" \u{3000}").unwrap_err().rule, Rule::Required);
        assert!(MojiText::new("").is_ok());
    }

    #[test]
    fn display_width_counts_columns() {
        assert_eq!(MojiText::new("ab").unwrap().display_width(), 2);
        assert_eq!(MojiText::new(KATSU_IVS).unwrap().display_width(), 2);
        assert_eq!(MojiText::new("ｶﾞ").unwrap().display_width(), 2);
        assert_eq!(MojiText::new("\u{F0001}").unwrap().display_width(), 2);
    }

    #[test]
    fn kana_width_conversions() {
        let t = MojiText::new("がっこう ﾊﾟﾝ ｳﾞｧｲｵﾘﾝ").unwrap();
        assert_eq!(t.to_fullwidth_katakana().as_str(), "ガッコウ パン ヴァイオリン");
        assert_eq!(t.to_halfwidth_katakana().as_str(), "ｶﾞｯｺｳ ﾊﾟﾝ ｳﾞｧｲｵﾘﾝ");
        // Non-kana, selectors included, pass through untouched.
        let mixed = MojiText::new(format!("{KATSU_IVS}タ")).unwrap();
        assert_eq!(mixed.to_halfwidth_katakana().as_str(), "葛\u{E0100}ﾀ");
    }

    fn moji_strategy() -> impl Strategy<Value = String> {
        // Bases from kanji, kana, ASCII and PUA; each optionally followed by a selector.
        let base = prop_oneof![
            proptest::char::range('\u{4E00}', '\u{9FFF}'),
            proptest::char::range('\u{30A1}', '\u{30F6}'),
            proptest::char::range('a', 'z'),
            proptest::char::range('\u{F0000}', '\u{F00FF}'),
        ];
        let selector = prop_oneof![
            Just(None),
            proptest::char::range('\u{E0100}', '\u{E01EF}').prop_map(Some),
            proptest::char::range('\u{FE00}', '\u{FE0F}').prop_map(Some),
        ];
        proptest::collection::vec((base, selector), 0..12)
            .prop_map(|v| v.into_iter().flat_map(|(b, s)| std::iter::once(b).chain(s)).collect())
    }

    proptest! {
        #[test]
        fn serde_round_trip_is_exact(s in moji_strategy()) {
            let t = MojiText::new(s.clone()).unwrap();
            let json = serde_json::to_string(&t).unwrap();
            let back: MojiText = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back.as_str(), s.as_str());
            prop_assert_eq!(back, t);
        }

        #[test]
        fn kana_conversion_never_drops_a_selector(s in moji_strategy()) {
            let t = MojiText::new(s).unwrap();
            let count = |m: &MojiText| m.as_str().chars().filter(|c| is_variation_selector(*c)).count();
            prop_assert_eq!(count(&t.to_halfwidth_katakana()), count(&t));
            prop_assert_eq!(count(&t.to_fullwidth_katakana()), count(&t));
        }

        #[test]
        fn full_half_full_is_identity_on_katakana(s in "[ァ-ヶー]{0,12}") {
            let t = MojiText::new(s.clone()).unwrap();
            // ヵ/ヶ (small ka/ke) have no half-width form and stay full-width.
            let back = t.to_halfwidth_katakana().to_fullwidth_katakana();
            prop_assert_eq!(back.as_str(), s.as_str());
        }
    }
}
