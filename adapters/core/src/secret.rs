//! A value that must never reach a log line, an error message or `Debug` output.

use std::fmt;

/// Client secrets and access tokens. `Debug` prints a placeholder; there is no `Display`, no
/// `Serialize`, and the bytes are overwritten when the value is dropped.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(Vec<u8>);

impl Secret {
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret as text, for a header value. Tokens are ASCII by RFC 6750; anything else has
    /// been refused when the token arrived.
    pub(crate) fn expose_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort: the allocator may have copied the bytes before, but the live copy goes.
        for b in self.0.iter_mut() {
            *b = 0;
        }
        std::hint::black_box(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new(b"very-secret-value".to_vec());
        let shown = format!("{s:?} {:?}", Some(&s));
        assert!(!shown.contains("very-secret"), "{shown}");
        assert_eq!(s.expose(), b"very-secret-value");
    }
}
