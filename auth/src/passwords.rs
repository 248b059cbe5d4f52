//! Password hashing with argon2id (the argon2 crate's defaults: 19 MiB, 2 passes, 1 lane — the
//! OWASP baseline), stored as PHC strings.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The shortest password accepted.
pub const MIN_LEN: usize = 12;

/// Hash `password` with a fresh salt; refuses one shorter than [`MIN_LEN`] characters.
pub fn hash(password: &str) -> Result<String, String> {
    if password.chars().count() < MIN_LEN {
        return Err(format!("password: at least {MIN_LEN} characters"));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `stored`.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash to verify against when the user does not exist, so a wrong user id takes as long as a
/// wrong password.
pub(crate) fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("renkei-decoy-password").expect("the decoy is long enough"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = super::hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(super::verify("correct horse battery", &h));
        assert!(!super::verify("correct horse batterY", &h));
        assert!(!super::verify("x", "not a hash"));
        assert_eq!(super::hash("short").unwrap_err(), "password: at least 12 characters");
    }
}
