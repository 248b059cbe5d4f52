//! Identifiers with their check digits.
//!
//! Every constructor checks the digits and the check digit, so a value of one of these types is
//! always well formed. The individual number (個人番号) is 特定個人情報: its `Debug` and `Display`
//! print a mask, and the digits are only reachable through [`IndividualNumber::expose`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Rule, ValidationError};

fn digits_of(s: &str, min: usize, max: usize) -> Result<Vec<u8>, ValidationError> {
    let rule = if min == max { Rule::Digits(min) } else { Rule::DigitsBetween { min, max } };
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValidationError::new(rule));
    }
    Ok(s.bytes().map(|b| b - b'0').collect())
}

/// Modulus 11 with weights 2, 3, 4, 5, 6, 7, 2, 3, … from the rightmost data digit; the check
/// digit is 11 − remainder, and 0 when the remainder is 0 or 1 (a remainder of 1 would give 10,
/// which is not a digit; municipal systems write 0 for it).
fn mod11_weights_2_to_7(data: &[u8]) -> u8 {
    let sum: u32 = data.iter().rev().enumerate().map(|(i, d)| u32::from(*d) * (i as u32 % 6 + 2)).sum();
    match sum % 11 {
        0 | 1 => 0,
        r => (11 - r) as u8,
    }
}

/// Implements parsing, `FromStr`, `Display` and serde (as a string) for a digit-string id.
macro_rules! digit_string_id {
    ($ty:ident) => {
        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::parse(s)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                $ty::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A municipal serial number with a modulus-11 (weights 2–7) check digit as its last digit:
/// 宛名番号 and 世帯番号. Length varies by municipality; 2 to 15 digits are accepted.
macro_rules! mod11_serial {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(String);

        impl $ty {
            pub const MAX_DIGITS: usize = 15;

            pub fn parse(s: &str) -> Result<Self, ValidationError> {
                let digits = digits_of(s, 2, Self::MAX_DIGITS)?;
                let (check, data) = digits.split_last().expect("at least two digits");
                if mod11_weights_2_to_7(data) != *check {
                    return Err(ValidationError::new(Rule::CheckDigit));
                }
                Ok(Self(s.to_owned()))
            }

            /// The number for serial `serial`, zero-padded to `width − 1` data digits, with its
            /// check digit appended.
            pub fn from_serial(serial: u64, width: usize) -> Result<Self, ValidationError> {
                let data = format!("{serial:0w$}", w = width.saturating_sub(1));
                let digits = digits_of(&data, 1, Self::MAX_DIGITS - 1)?;
                if data.len() + 1 != width {
                    return Err(ValidationError::new(Rule::Digits(width)));
                }
                Ok(Self(format!("{data}{}", mod11_weights_2_to_7(&digits))))
            }
        }

        digit_string_id!($ty);
    };
}

mod11_serial!(
    /// 宛名番号: the number that identifies a person in the municipality's systems. Kept when
    /// a resident moves between the wards of a designated city.
    AtenaNumber
);
mod11_serial!(
    /// 世帯番号: the household's number. Renumbered when a household moves between wards.
    HouseholdNumber
);

/// 団体内統合宛名番号: the 15-digit number that links one person across a municipality's systems.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntegratedAtenaNumber(String);

impl IntegratedAtenaNumber {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        digits_of(s, 15, 15)?;
        Ok(Self(s.to_owned()))
    }
}

digit_string_id!(IntegratedAtenaNumber);

/// 全国地方公共団体コード: five digits and a check digit. The check digit is the last digit of
/// 11 − (Σ digit × weight mod 11) with weights 6, 5, 4, 3, 2 (総務省, 全国地方公共団体コード仕様).
/// 131016 is 千代田区.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalGovernmentCode(String);

impl LocalGovernmentCode {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let digits = digits_of(s, 6, 6)?;
        let sum: u32 = digits[..5].iter().zip([6, 5, 4, 3, 2]).map(|(d, w)| u32::from(*d) * w).sum();
        let check = ((11 - sum % 11) % 10) as u8;
        if check != digits[5] {
            return Err(ValidationError::new(Rule::CheckDigit));
        }
        Ok(Self(s.to_owned()))
    }

    /// The JIS X 0401 prefecture code: the first two digits (13 is 東京都).
    pub fn prefecture_code(&self) -> u8 {
        self.0[..2].parse().expect("validated digits")
    }
}

digit_string_id!(LocalGovernmentCode);

/// 郵便番号: seven digits, written `123-4567`. Accepts the hyphenated and the bare form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PostalCode(String);

impl PostalCode {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let bare: String = s.chars().filter(|c| *c != '-').collect();
        digits_of(&bare, 7, 7)?;
        if s.contains('-') && (s.len() != 8 || s.as_bytes()[3] != b'-') {
            return Err(ValidationError::new(Rule::Other("must be written 1234567 or 123-4567")));
        }
        Ok(Self(bare))
    }

    pub fn hyphenated(&self) -> String {
        format!("{}-{}", &self.0[..3], &self.0[3..])
    }
}

digit_string_id!(PostalCode);

/// 個人番号 (individual number, "My Number"): twelve digits, the last a check digit.
///
/// `Debug` and `Display` print `************`, never the digits, so a number cannot leak through
/// a log line or an error message by accident. [`IndividualNumber::expose`] hands out the digits
/// for the few places that must send them (a core system's lookup) — grep for it in review.
///
/// ```
/// use renkei_model::IndividualNumber;
/// let n: IndividualNumber = "123456789018".parse().unwrap();
/// assert_eq!(format!("{n} {n:?}"), "************ IndividualNumber(************)");
/// assert_eq!(n.expose(), "123456789018");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IndividualNumber(String);

impl IndividualNumber {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let digits = digits_of(s, 12, 12)?;
        if Self::check_digit(&digits[..11]) != digits[11] {
            return Err(ValidationError::new(Rule::CheckDigit));
        }
        Ok(Self(s.to_owned()))
    }

    /// Whether `text` holds something that reads as an individual number: twelve digits
    /// (half- or full-width, spaces and hyphens between them allowed) whose last is their check
    /// digit. Fields that do not declare one refuse such a value, so a number cannot be stored
    /// where nobody protects it.
    ///
    /// ```
    /// use renkei_model::IndividualNumber;
    /// assert!(IndividualNumber::appears_in("番号 1234-5678-9018 です"));
    /// assert!(IndividualNumber::appears_in("１２３４５６７８９０１８"));
    /// assert!(!IndividualNumber::appears_in("123456789019"));   // the check digit is 8
    /// assert!(!IndividualNumber::appears_in("0123456789018"));  // thirteen digits
    /// ```
    pub fn appears_in(text: &str) -> bool {
        let mut run: Vec<u8> = Vec::new();
        let check = |run: &mut Vec<u8>| {
            let found = run.len() == 12 && Self::check_digit(&run[..11]) == run[11];
            run.clear();
            found
        };
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let digit = match c {
                '0'..='9' => Some(c as u32 - '0' as u32),
                '０'..='９' => Some(c as u32 - '０' as u32),
                _ => None,
            };
            match digit {
                Some(d) => run.push(d as u8),
                // A separator inside a run of digits keeps the run going.
                None if matches!(c, ' ' | '-' | '　' | '－' | '‐')
                    && !run.is_empty()
                    && chars.peek().is_some_and(|n| n.is_ascii_digit() || ('０'..='９').contains(n)) => {}
                None => {
                    if check(&mut run) {
                        return true;
                    }
                }
            }
        }
        check(&mut run)
    }

    /// The number with `first_eleven` (exactly eleven digits) and its check digit.
    pub fn from_first_eleven(first_eleven: &str) -> Result<Self, ValidationError> {
        let digits = digits_of(first_eleven, 11, 11)?;
        Ok(Self(format!("{first_eleven}{}", Self::check_digit(&digits))))
    }

    /// With P(n) the n-th of the eleven digits counted from the right and Q(n) = n + 1 for n ≤ 6,
    /// n − 5 for n ≥ 7: r = Σ P(n)·Q(n) mod 11; the check digit is 0 when r ≤ 1, else 11 − r
    /// (行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 第8条).
    fn check_digit(first_eleven: &[u8]) -> u8 {
        let sum: u32 = first_eleven
            .iter()
            .rev()
            .enumerate()
            .map(|(i, p)| {
                let n = i as u32 + 1;
                let q = if n <= 6 { n + 1 } else { n - 5 };
                u32::from(*p) * q
            })
            .sum();
        match sum % 11 {
            0 | 1 => 0,
            r => (11 - r) as u8,
        }
    }

    /// The twelve digits. Only for sending to a system that needs them; never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IndividualNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("************")
    }
}

impl fmt::Debug for IndividualNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IndividualNumber(************)")
    }
}

impl FromStr for IndividualNumber {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IndividualNumber::parse(s)
    }
}

impl Serialize for IndividualNumber {
    /// The digits themselves: serialization is for the wire to a core system, not for logs.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for IndividualNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        // The error names the rule only; serde's own message could echo the input.
        IndividualNumber::parse(&s)
            .map_err(|e| serde::de::Error::custom(format!("individual number {}", e.rule)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn individual_number_check_digit() {
        // 12345678901: Σ P(n)·Q(n) = 212, 212 mod 11 = 3, check digit 11 − 3 = 8
        let n = IndividualNumber::from_first_eleven("12345678901").unwrap();
        assert_eq!(n.expose(), "123456789018");
        assert!(IndividualNumber::parse("123456789018").is_ok());
        assert_eq!(IndividualNumber::parse("123456789017").unwrap_err().rule, Rule::CheckDigit);
        assert_eq!(IndividualNumber::parse("12345678901").unwrap_err().rule, Rule::Digits(12));
        assert_eq!(IndividualNumber::parse("12345678901a").unwrap_err().rule, Rule::Digits(12));
    }

    #[test]
    fn individual_number_never_prints_digits() {
        let n = IndividualNumber::parse("123456789018").unwrap();
        for shown in [format!("{n}"), format!("{n:?}"), format!("{:?}", Some(&n))] {
            assert!(!shown.contains("1234"), "{shown}");
        }
        let err = serde_json::from_str::<IndividualNumber>("\"123456789017\"").unwrap_err();
        assert!(!err.to_string().contains("123456789017"), "{err}");
    }

    #[test]
    fn mod11_serials() {
        // data 000000001: weights from the right 2 → 1·2 = 2 → 11 − 2 = 9
        let a = AtenaNumber::from_serial(1, 10).unwrap();
        assert_eq!(a.as_str(), "0000000019");
        assert!(AtenaNumber::parse("0000000019").is_ok());
        assert_eq!(AtenaNumber::parse("0000000018").unwrap_err().rule, Rule::CheckDigit);
        assert_eq!(
            AtenaNumber::parse("1234567890123456").unwrap_err().rule,
            Rule::DigitsBetween { min: 2, max: 15 }
        );
        // data 0: remainder 0 gives 0; data 11: 1·2 + 1·3 = 5 gives 6
        assert_eq!(HouseholdNumber::from_serial(0, 2).unwrap().as_str(), "00");
        assert_eq!(HouseholdNumber::from_serial(11, 3).unwrap().as_str(), "116");
        // data 6: 6·2 = 12, remainder 1, which also gives 0
        assert_eq!(HouseholdNumber::from_serial(6, 2).unwrap().as_str(), "60");
        assert!(AtenaNumber::from_serial(123, 3).is_err()); // does not fit
    }

    #[test]
    fn local_government_codes() {
        for ok in ["131016", "011002", "271004", "141003"] {
            assert!(LocalGovernmentCode::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(LocalGovernmentCode::parse("131017").unwrap_err().rule, Rule::CheckDigit);
        assert_eq!(LocalGovernmentCode::parse("131016").unwrap().prefecture_code(), 13);
    }

    #[test]
    fn postal_codes() {
        assert_eq!(PostalCode::parse("100-0001").unwrap().hyphenated(), "100-0001");
        assert_eq!(PostalCode::parse("1000001").unwrap().as_str(), "1000001");
        assert!(PostalCode::parse("10-00001").is_err());
        assert_eq!(PostalCode::parse("100001").unwrap_err().rule, Rule::Digits(7));
    }

    proptest! {
        #[test]
        fn individual_numbers_round_trip(first in "[0-9]{11}") {
            let n = IndividualNumber::from_first_eleven(&first).unwrap();
            prop_assert_eq!(IndividualNumber::parse(n.expose()).unwrap(), n.clone());
            // Any single-digit change to the check digit is caught.
            let mut s = n.expose().to_owned();
            let last = s.pop().unwrap().to_digit(10).unwrap();
            s.push(char::from_digit((last + 1) % 10, 10).unwrap());
            prop_assert!(IndividualNumber::parse(&s).is_err());
        }

        #[test]
        fn serials_round_trip(serial in 0u64..1_000_000_000, width in 10usize..=15) {
            let a = AtenaNumber::from_serial(serial, width).unwrap();
            prop_assert_eq!(a.as_str().len(), width);
            prop_assert_eq!(AtenaNumber::parse(a.as_str()).unwrap(), a.clone());
            let json = serde_json::to_string(&a).unwrap();
            prop_assert_eq!(serde_json::from_str::<AtenaNumber>(&json).unwrap(), a);
        }

        #[test]
        fn single_digit_errors_in_serials_are_caught(serial in 0u64..1_000_000_000, pos in 0usize..9, delta in 1u8..10) {
            let a = AtenaNumber::from_serial(serial, 10).unwrap();
            let mut bytes = a.as_str().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            // Weights 2..7 are all coprime to 11, so one changed data digit changes the
            // remainder; it is missed only where remainders 0 and 1 share the check digit 0.
            let parsed = AtenaNumber::parse(&changed);
            if parsed.is_ok() {
                prop_assert_eq!(&a.as_str()[9..], "0");
            }
        }
    }
}
