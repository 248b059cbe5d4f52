//! OAuth 2.0 client credentials with a `client_secret_jwt` client assertion.
//!
//! The standard's REST APIs for 庁内データ連携 authenticate the calling system with
//! `client_secret_jwt`. The assertion follows OpenID Connect Core 1.0 §9 and RFC 7523 §3: a JWT
//! signed with HMAC SHA-256 whose key is the client secret, with `iss` and `sub` the client id,
//! `aud` the token endpoint, a fresh `jti`, `iat` and a short `exp`. It is posted to the token
//! endpoint as a `client_credentials` grant (RFC 6749 §4.4) with
//! `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` (RFC 7521 §4.2).
//! The access token that comes back is cached until shortly before it expires.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::root_cause;
use crate::TransportError;
use crate::secret::Secret;

/// `client_secret_jwt` settings for one system. The secret itself is never in the configuration
/// file: it is read from a file or an environment variable when the client is built.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSecretJwtConfig {
    /// The system's token endpoint (absolute URL); also the assertion's `aud`.
    pub token_url: String,
    /// The client id the system issued to renkei; the assertion's `iss` and `sub`.
    pub client_id: String,
    /// A file holding the client secret (one trailing newline is ignored).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// An environment variable holding the client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// `scope` to ask for, space-separated, when the system wants one.
    #[serde(default)]
    pub scope: Option<String>,
    /// How long a signed assertion is valid (its `exp` − `iat`).
    #[serde(default = "ClientSecretJwtConfig::default_assertion_lifetime_s")]
    pub assertion_lifetime_s: u64,
    /// A cached token is replaced this long before it expires, so no call carries a token that
    /// runs out in flight.
    #[serde(default = "ClientSecretJwtConfig::default_refresh_before_s")]
    pub refresh_before_s: u64,
}

impl ClientSecretJwtConfig {
    fn default_assertion_lifetime_s() -> u64 {
        60
    }

    fn default_refresh_before_s() -> u64 {
        30
    }

    /// Settings with the defaults; the secret still has to be named.
    pub fn new(token_url: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret_file: None,
            client_secret_env: None,
            scope: None,
            assertion_lifetime_s: Self::default_assertion_lifetime_s(),
            refresh_before_s: Self::default_refresh_before_s(),
        }
    }

    fn load_secret(&self) -> Result<Secret, String> {
        let mut bytes = match (&self.client_secret_file, &self.client_secret_env) {
            (Some(path), None) => {
                std::fs::read(path).map_err(|e| format!("auth.client_secret_file {}: {e}", path.display()))?
            }
            (None, Some(var)) => std::env::var_os(var)
                .ok_or_else(|| format!("auth.client_secret_env: {var} is not set"))?
                .into_encoded_bytes(),
            (None, None) => {
                return Err("auth: name the secret with client_secret_file or client_secret_env".into());
            }
            (Some(_), Some(_)) => {
                return Err("auth: client_secret_file and client_secret_env are exclusive".into());
            }
        };
        if bytes.ends_with(b"\n") {
            bytes.pop();
            if bytes.ends_with(b"\r") {
                bytes.pop();
            }
        }
        if bytes.is_empty() {
            return Err("auth: the client secret is empty".into());
        }
        Ok(Secret::new(bytes))
    }
}

/// Where "now" comes from; tests move it forward instead of sleeping.
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

pub(crate) fn system_clock() -> Clock {
    Arc::new(SystemTime::now)
}

/// Obtains, caches and refreshes the access token of one system.
pub(crate) struct TokenSource {
    system: String,
    config: ClientSecretJwtConfig,
    token_url: Url,
    secret: Secret,
    clock: Clock,
    cached: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

struct CachedToken {
    token: Secret,
    /// Seconds since the epoch, by [`TokenSource::clock`].
    expires_at: u64,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    /// Optional in RFC 6749 §5.1.
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenErrorResponse {
    error: String,
    error_description: Option<String>,
}

/// Used when the token endpoint does not say how long a token lives; a 401 refreshes it
/// earlier if the system disagrees.
const DEFAULT_TOKEN_LIFETIME_S: u64 = 300;

impl TokenSource {
    pub(crate) fn new(system: &str, config: &ClientSecretJwtConfig, clock: Clock) -> Result<Self, String> {
        let token_url = Url::parse(&config.token_url).map_err(|e| format!("auth.token_url: {e}"))?;
        if config.client_id.is_empty() {
            return Err("auth.client_id is empty".into());
        }
        Ok(Self {
            system: system.to_owned(),
            config: config.clone(),
            token_url,
            secret: config.load_secret()?,
            clock,
            cached: Mutex::new(None),
        })
    }

    fn now(&self) -> u64 {
        (self.clock)().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs()
    }

    /// A token to send. `rejected` is a token the system has just answered 401 to: it is not
    /// handed out again. Concurrent callers share one request to the token endpoint.
    pub(crate) async fn bearer(
        &self,
        http: &reqwest::Client,
        operation: &str,
        rejected: Option<&Secret>,
    ) -> Result<Secret, TransportError> {
        let mut cached = self.cached.lock().await;
        if let Some(current) = cached.as_ref() {
            let fresh = self.now() + self.config.refresh_before_s < current.expires_at;
            if fresh && rejected != Some(&current.token) {
                return Ok(current.token.clone());
            }
        }
        let obtained = self.request_token(http, operation).await?;
        let token = obtained.token.clone();
        *cached = Some(obtained);
        Ok(token)
    }

    /// The signed client assertion (a compact JWS).
    pub(crate) fn assertion(&self) -> String {
        let iat = self.now();
        let claims = Claims {
            iss: &self.config.client_id,
            sub: &self.config.client_id,
            aud: self.token_url.as_str(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat,
            exp: iat + self.config.assertion_lifetime_s,
        };
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        // Serializing plain strings and integers cannot fail.
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.secret.expose());
        let signature = URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }

    async fn request_token(
        &self,
        http: &reqwest::Client,
        operation: &str,
    ) -> Result<CachedToken, TransportError> {
        let operation = format!("{operation}: token");
        let assertion = self.assertion();
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion.as_str()),
        ];
        if let Some(scope) = &self.config.scope {
            form.push(("scope", scope));
        }
        let sent_at = self.now();
        let classify = |e: reqwest::Error| {
            let (system, operation) = (self.system.clone(), operation.clone());
            if e.is_timeout() {
                TransportError::Timeout { system, operation }
            } else if e.is_connect() {
                TransportError::Connect { system, operation, message: root_cause(&e) }
            } else {
                TransportError::Other { system, operation, message: root_cause(&e) }
            }
        };
        let response = http.post(self.token_url.clone()).form(&form).send().await.map_err(classify)?;
        let status = response.status();
        let body = response.bytes().await.map_err(classify)?;
        if !status.is_success() {
            // RFC 6749 §5.2: `error` is a code such as invalid_client; never echo what we sent.
            let detail = serde_json::from_slice::<TokenErrorResponse>(&body)
                .map(|e| match e.error_description {
                    Some(d) => format!("{} ({d})", e.error),
                    None => e.error,
                })
                .unwrap_or_else(|_| status.canonical_reason().unwrap_or("").to_owned());
            return Err(TransportError::Status {
                system: self.system.clone(),
                operation,
                status: status.as_u16(),
                detail,
            });
        }
        let decode_error = |message: String| TransportError::Decode {
            system: self.system.clone(),
            operation: operation.clone(),
            message,
        };
        // serde_json's messages name positions and expected types, never the token itself.
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| decode_error(e.to_string()))?;
        if !parsed.token_type.eq_ignore_ascii_case("bearer") {
            return Err(decode_error(format!("token_type {:?} is not Bearer", parsed.token_type)));
        }
        let valid_token_chars = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
        if parsed.access_token.is_empty() || !parsed.access_token.bytes().all(valid_token_chars) {
            return Err(decode_error("access_token is not an RFC 6750 token".into()));
        }
        let lifetime = parsed.expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME_S);
        tracing::debug!(system = %self.system, lifetime, "obtained an access token");
        Ok(CachedToken {
            token: Secret::new(parsed.access_token.into_bytes()),
            expires_at: sent_at + lifetime,
        })
    }
}
