//! A card PIN held so it cannot leak: no `Display`, a `Debug` that shows nothing, and the bytes
//! overwritten when it is dropped.

use std::fmt;

use renkei_model::{Rule, ValidationError};

/// A 4-digit card PIN (the My Number card's input-assistance PIN, a driver's license PIN1).
#[derive(Clone, PartialEq, Eq)]
pub struct Pin([u8; 4]);

impl Pin {
    /// Exactly four ASCII digits. The error never repeats the input.
    pub fn parse(s: &str) -> Result<Pin, ValidationError> {
        let bytes = s.as_bytes();
        if bytes.len() != 4 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(ValidationError::new(Rule::Digits(4)));
        }
        Ok(Pin([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// The digits as the card expects them in VERIFY: ASCII (JIS X 0201 for the license).
    pub(crate) fn ascii(&self) -> &[u8; 4] {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(****)")
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        // Best effort: the buffer does not outlive the value with the digits in it.
        self.0 = [0; 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_digits_only_and_never_shown() {
        assert!(Pin::parse("0000").is_ok());
        for bad in ["123", "12345", "12a4", "１２３４", ""] {
            let e = Pin::parse(bad).unwrap_err();
            assert_eq!(e.to_string(), "(value): must be exactly 4 digits (0-9)");
        }
        assert_eq!(format!("{:?}", Pin::parse("4321").unwrap()), "Pin(****)");
    }
}
