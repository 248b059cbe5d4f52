//! `[auth]`: where the groups and the token key are, how long tokens and sessions live, the
//! lockout, and an optional identity provider.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// A groups file (the embedded default set when absent; `renkei groups check FILE`).
    pub groups: Option<PathBuf>,
    /// The key renkei signs its access tokens with: 32 bytes or more, readable by renkei alone.
    /// When absent, `token.key` in the data directory, created on first start. Replicas sharing
    /// a database must share this file.
    pub token_key_file: Option<PathBuf>,
    /// How long an access token is accepted (seconds).
    pub access_ttl_s: u64,
    /// How long a login may be refreshed without the password again (seconds).
    pub refresh_ttl_s: u64,
    /// Failed logins in a row that lock an account …
    pub max_failed_logins: u32,
    /// … for this long (seconds).
    pub lockout_s: u64,
    /// A counter session unused for this long ends (seconds).
    pub session_idle_s: u64,
    /// Calls a second one principal may make, sustained …
    pub calls_per_second: u32,
    /// … and at once, after a quiet spell.
    pub calls_burst: u32,
    /// Accept an identity provider's access tokens too.
    pub oidc: Option<OidcConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            groups: None,
            token_key_file: None,
            access_ttl_s: 300,
            refresh_ttl_s: 8 * 3600,
            max_failed_logins: 5,
            lockout_s: 900,
            session_idle_s: 1800,
            calls_per_second: 50,
            calls_burst: 200,
            oidc: None,
        }
    }
}

/// An OpenID Connect provider whose JWT access tokens renkei accepts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The `iss` the tokens carry, exactly.
    pub issuer: String,
    /// The `aud` they must be for.
    pub audience: String,
    /// The provider's keys as a JWKS file …
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// … or its HTTPS URL (fetched at start and again for a key id not seen yet).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// The claim that lists the caller's groups.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// The provider's group names → renkei's; when empty, the claim holds renkei's names.
    #[serde(default)]
    pub group_map: BTreeMap<String, String>,
}

fn default_groups_claim() -> String {
    "groups".to_owned()
}

impl AuthConfig {
    /// Checks what serde cannot; messages name the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.access_ttl_s == 0 || self.access_ttl_s > 3600 {
            return Err(format!("[auth].access_ttl_s: {} is outside 1..=3600", self.access_ttl_s));
        }
        if self.refresh_ttl_s < self.access_ttl_s {
            return Err("[auth].refresh_ttl_s: shorter than access_ttl_s".into());
        }
        if self.max_failed_logins == 0 {
            return Err("[auth].max_failed_logins: at least 1".into());
        }
        if self.session_idle_s == 0 {
            return Err("[auth].session_idle_s: at least 1".into());
        }
        if self.calls_per_second == 0 || self.calls_burst == 0 {
            return Err("[auth].calls_per_second and calls_burst: at least 1".into());
        }
        if let Some(o) = &self.oidc {
            match (&o.jwks_file, &o.jwks_url) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err("[auth.oidc]: give one of jwks_file and jwks_url".into());
                }
                (None, Some(url)) if !url.starts_with("https://") && !url.starts_with("http://127.") => {
                    return Err("[auth.oidc].jwks_url: the keys are fetched over https".into());
                }
                _ => {}
            }
        }
        Ok(())
    }
}
