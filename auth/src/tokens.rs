//! renkei's own access tokens: JWTs signed with HMAC-SHA256 under the key file, carrying the
//! subject, display name, groups and login. Short-lived (`[auth].access_ttl_s`); a login renews
//! them with its refresh token.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Who renkei's tokens are from and for.
pub(crate) const ISSUER: &str = "renkei";
pub(crate) const AUDIENCE: &str = "renkei";

/// The shortest signing key accepted.
pub(crate) const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) aud: String,
    pub(crate) sub: String,
    pub(crate) name: String,
    pub(crate) groups: Vec<String>,
    /// The login (refresh token) this access token came from.
    pub(crate) sid: String,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
}

/// The signing key.
pub struct TokenKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(…)")
    }
}

impl TokenKey {
    pub fn new(secret: &[u8]) -> Result<TokenKey, String> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the token key has {} bytes; at least {MIN_KEY_BYTES} are needed",
                secret.len()
            ));
        }
        Ok(TokenKey {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        })
    }

    /// Read the key file at `path`, creating it with a fresh random key (mode 0600) if it does
    /// not exist.
    pub fn load_or_create(path: &std::path::Path) -> Result<TokenKey, String> {
        let where_ = || path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => TokenKey::new(trim(&bytes)).map_err(|e| format!("{}: {e}", where_())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| format!("{}: no randomness: {e}", where_()))?;
                let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
                renkei_store::write_private(path, hex.as_bytes())
                    .map_err(|e| format!("{}: {e}", where_()))?;
                TokenKey::new(hex.as_bytes())
            }
            Err(e) => Err(format!("{}: {e}", where_())),
        }
    }

    pub(crate) fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HMAC signing of serializable claims does not fail")
    }

    /// The claims of a token this key signed, if it is unexpired and for renkei.
    pub(crate) fn check(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 5;
        Ok(jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)?.claims)
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: "staff-001".into(),
            name: "試験 職員".into(),
            groups: vec!["窓口職員".into()],
            sid: "login-1".into(),
            iat: 0,
            exp,
        }
    }

    #[test]
    fn a_token_checks_under_its_key_only_and_not_after_it_expires() {
        let key = TokenKey::new(&[7u8; 32]).unwrap();
        let now = chrono::Utc::now().timestamp();
        let token = key.sign(&claims(now + 60));
        assert_eq!(key.check(&token).unwrap().sub, "staff-001");
        let other = TokenKey::new(&[8u8; 32]).unwrap();
        assert!(other.check(&token).is_err());
        assert!(key.check(&key.sign(&claims(now - 60))).is_err());
        assert!(TokenKey::new(b"short").is_err());
    }

    #[test]
    fn a_created_key_file_is_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.key");
        let key = TokenKey::load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let token = key.sign(&claims(chrono::Utc::now().timestamp() + 60));
        assert!(TokenKey::load_or_create(&path).unwrap().check(&token).is_ok());
    }
}
