//! Access tokens from a city's identity provider (OpenID Connect): a JWT signed with one of the
//! provider's keys (JWKS), from its issuer, for renkei's audience, unexpired. Only asymmetric
//! algorithms are accepted, so a token cannot be "signed" with a public key as an HMAC secret.

use std::sync::RwLock;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use renkei_adapter_core::{RestClient, RestConfig};
use serde_json::Value;

use crate::config::OidcConfig;

const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What a provider's token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    pub(crate) subject: String,
    pub(crate) name: String,
    /// renkei's group names.
    pub(crate) groups: Vec<String>,
    pub(crate) expires_at_ms: i64,
}

#[derive(Debug)]
pub(crate) struct OidcVerifier {
    config: OidcConfig,
    keys: RwLock<JwkSet>,
    fetch: Option<(RestClient, String)>,
}

impl OidcVerifier {
    pub(crate) async fn new(config: OidcConfig) -> Result<OidcVerifier, String> {
        let (keys, fetch) = match (&config.jwks_file, &config.jwks_url) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("[auth.oidc].jwks_file: {}: {e}", path.display()))?;
                let keys = serde_json::from_str(&text)
                    .map_err(|e| format!("[auth.oidc].jwks_file: {}: not a JWKS: {e}", path.display()))?;
                (keys, None)
            }
            (None, Some(url)) => {
                let (base, path) = url.rsplit_once('/').ok_or("[auth.oidc].jwks_url: not a URL")?;
                let client = RestClient::new("identity-provider", &RestConfig::new(base))
                    .map_err(|e| format!("[auth.oidc].jwks_url: {e}"))?;
                let fetch = (client, path.to_owned());
                (fetch_keys(&fetch).await.map_err(|e| format!("[auth.oidc].jwks_url: {e}"))?, Some(fetch))
            }
            (None, None) => return Err("[auth.oidc]: give jwks_file or jwks_url".into()),
        };
        Ok(OidcVerifier { config, keys: RwLock::new(keys), fetch })
    }

    /// Whether `token` claims to come from this provider (its `iss`, unverified): only then is it
    /// checked here rather than as one of renkei's own.
    pub(crate) fn is_from(&self, token: &str) -> bool {
        unverified_claim(token, "iss").as_deref() == Some(self.config.issuer.as_str())
    }

    pub(crate) async fn verify(&self, token: &str) -> Result<Verified, String> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("the token is malformed: {e}"))?;
        if !ASYMMETRIC.contains(&header.alg) {
            return Err(format!("the identity provider's tokens are not signed with {:?}", header.alg));
        }
        let kid = header.kid.ok_or("the token names no key (kid)")?;
        let mut key = self.key(&kid)?;
        if let (None, Some(fetch)) = (&key, &self.fetch) {
            // A key not seen yet: the provider may have rotated its keys.
            let fresh = fetch_keys(fetch).await?;
            *self.keys.write().expect("not poisoned") = fresh;
            key = self.key(&kid)?;
        }
        let key = key.ok_or_else(|| format!("the identity provider has no key {kid:?}"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        let claims = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
            .map_err(|e| format!("the identity provider's token does not check: {e}"))?
            .claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let subject = text("sub").ok_or("the token has no subject")?;
        let named: Vec<String> = match claims.get(&self.config.groups_claim) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        let groups = if self.config.group_map.is_empty() {
            named
        } else {
            named.iter().filter_map(|g| self.config.group_map.get(g).cloned()).collect()
        };
        let expires_at_ms = claims.get("exp").and_then(Value::as_i64).unwrap_or(0).saturating_mul(1000);
        Ok(Verified { name: text("name").unwrap_or_else(|| subject.clone()), subject, groups, expires_at_ms })
    }

    fn key(&self, kid: &str) -> Result<Option<DecodingKey>, String> {
        let keys = self.keys.read().expect("not poisoned");
        keys.find(kid)
            .map(|jwk| DecodingKey::from_jwk(jwk).map_err(|e| format!("key {kid:?}: {e}")))
            .transpose()
    }
}

async fn fetch_keys((client, path): &(RestClient, String)) -> Result<JwkSet, String> {
    let response = client
        .send("jwks", reqwest::Method::GET, path, reqwest::header::HeaderMap::new(), None::<&()>)
        .await
        .map_err(|e| e.to_string())?;
    if response.status != 200 {
        return Err(format!("the keys were answered with HTTP {}", response.status));
    }
    serde_json::from_slice(&response.body).map_err(|e| format!("not a JWKS: {e}"))
}

/// A claim of a JWT read without checking it — only to choose which verifier checks it.
fn unverified_claim(token: &str, name: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    claims.get(name)?.as_str().map(str::to_owned)
}
