//! REST/JSON over reqwest with rustls (ring provider): the system's CA, an optional client
//! certificate for mutual TLS, and optional `client_secret_jwt` authentication ([`auth`]).

mod auth;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::TransportError;
use crate::secret::Secret;
pub use auth::ClientSecretJwtConfig;
use auth::{Clock, TokenSource};

/// How to reach one system over REST.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RestConfig {
    /// `https://jumin.example.lg.jp/api/v1/` (a trailing `/` is added if missing).
    pub base_url: String,
    /// Per request, connect included.
    #[serde(default = "RestConfig::default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "RestConfig::default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// PEM file of the CA that signs the system's certificate; the platform's roots when absent.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM file with the certificate (then its chain) renkei presents for mutual TLS.
    #[serde(default)]
    pub client_cert_file: Option<PathBuf>,
    /// PEM file with the private key of `client_cert_file` (PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
    /// OAuth 2.0 client credentials with a `client_secret_jwt` assertion; every call then
    /// carries a bearer token.
    #[serde(default)]
    pub auth: Option<ClientSecretJwtConfig>,
}

impl RestConfig {
    fn default_timeout_ms() -> u64 {
        10_000
    }

    fn default_connect_timeout_ms() -> u64 {
        3_000
    }

    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            timeout_ms: Self::default_timeout_ms(),
            connect_timeout_ms: Self::default_connect_timeout_ms(),
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            auth: None,
        }
    }
}

/// An encoded request body and its media type.
#[derive(Debug, Clone)]
pub struct RequestBody {
    pub bytes: Bytes,
    /// `application/json`, `text/csv; charset=Shift_JIS` …
    pub content_type: &'static str,
}

/// A status and body that arrived; what they mean is the adapter's business.
#[derive(Debug, Clone)]
pub struct RestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A JSON client for one system: one connection pool, the system's timeouts, trust roots and
/// client certificate, its access token when it wants one, and errors that name the system and
/// the operation. Cloning shares the pool and the cached token.
#[derive(Debug, Clone)]
pub struct RestClient {
    system: String,
    base: Url,
    http: reqwest::Client,
    auth: Option<Arc<TokenSource>>,
}

impl RestClient {
    pub fn new(system: &str, config: &RestConfig) -> Result<Self, TransportError> {
        Self::with_clock(system, config, auth::system_clock())
    }

    pub(crate) fn with_clock(
        system: &str,
        config: &RestConfig,
        clock: Clock,
    ) -> Result<Self, TransportError> {
        let config_error = |message: String| TransportError::Config { system: system.to_owned(), message };
        let mut base_url = config.base_url.clone();
        if !base_url.ends_with('/') {
            base_url.push('/');
        }
        let base = Url::parse(&base_url).map_err(|e| config_error(format!("base_url: {e}")))?;
        let tls = tls_config(config).map_err(config_error)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .user_agent(concat!("renkei/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| config_error(e.to_string()))?;
        let auth = match &config.auth {
            Some(auth) => Some(Arc::new(TokenSource::new(system, auth, clock).map_err(config_error)?)),
            None => None,
        };
        Ok(Self { system: system.to_owned(), base, http, auth })
    }

    pub fn system(&self) -> &str {
        &self.system
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Send a request to `path` (relative to the base URL) and return what came back, whatever
    /// its status. Fails only when nothing usable arrived.
    ///
    /// With `client_secret_jwt` configured the request carries the cached bearer token
    /// (obtained or refreshed first when needed); a 401 answer refreshes the token and sends the
    /// request once more, since a 401 means the system did not act on it.
    pub async fn send(
        &self,
        operation: &str,
        method: Method,
        path: &str,
        headers: HeaderMap,
        json_body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<RestResponse, TransportError> {
        let body = match json_body {
            Some(body) => Some(RequestBody {
                bytes: Bytes::from(serde_json::to_vec(body).map_err(|e| TransportError::Encode {
                    system: self.system.clone(),
                    operation: operation.to_owned(),
                    message: e.to_string(),
                })?),
                content_type: "application/json",
            }),
            None => None,
        };
        self.send_body(operation, method, path, headers, body).await
    }

    /// [`RestClient::send`] with a body already encoded (a record in the system's layout).
    pub async fn send_body(
        &self,
        operation: &str,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Option<RequestBody>,
    ) -> Result<RestResponse, TransportError> {
        let url = self.base.join(path).map_err(|e| TransportError::Config {
            system: self.system.clone(),
            message: format!("{operation}: path {path:?}: {e}"),
        })?;
        let Some(auth) = &self.auth else {
            return self.send_once(operation, &method, &url, &headers, body, None).await;
        };
        let token = auth.bearer(&self.http, operation, None).await?;
        let response = self.send_once(operation, &method, &url, &headers, body.clone(), Some(&token)).await?;
        if response.status != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        tracing::debug!(system = %self.system, operation, "401: refreshing the access token and retrying once");
        let token = auth.bearer(&self.http, operation, Some(&token)).await?;
        self.send_once(operation, &method, &url, &headers, body, Some(&token)).await
    }

    async fn send_once(
        &self,
        operation: &str,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        body: Option<RequestBody>,
        token: Option<&Secret>,
    ) -> Result<RestResponse, TransportError> {
        let mut request = self.http.request(method.clone(), url.clone()).headers(headers.clone());
        if let Some(traceparent) = crate::trace::current() {
            request = request.header("traceparent", traceparent);
        }
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, body.content_type).body(body.bytes);
        }
        if let Some(token) = token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.expose_str()))
                .map_err(|_| TransportError::Decode {
                    system: self.system.clone(),
                    operation: operation.to_owned(),
                    message: "the access token is not a valid header value".into(),
                })?;
            value.set_sensitive(true);
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let response = request.send().await.map_err(|e| self.classify(operation, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| self.classify(operation, e))?;
        Ok(RestResponse { status, headers, body })
    }

    /// GET `path` and decode a 2xx JSON answer; other statuses are errors.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        operation: &str,
        path: &str,
    ) -> Result<T, TransportError> {
        let response = self.send(operation, Method::GET, path, HeaderMap::new(), None::<&()>).await?;
        self.expect_json(operation, response)
    }

    /// POST a JSON body to `path` and decode a 2xx JSON answer; other statuses are errors.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        operation: &str,
        path: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<T, TransportError> {
        let response = self.send(operation, Method::POST, path, HeaderMap::new(), Some(body)).await?;
        self.expect_json(operation, response)
    }

    /// Decode a 2xx answer's JSON body, or turn the status into an error.
    pub fn expect_json<T: DeserializeOwned>(
        &self,
        operation: &str,
        response: RestResponse,
    ) -> Result<T, TransportError> {
        if !response.status.is_success() {
            return Err(self.status_error(operation, &response));
        }
        self.decode(operation, &response.body)
    }

    pub fn decode<T: DeserializeOwned>(&self, operation: &str, body: &[u8]) -> Result<T, TransportError> {
        serde_json::from_slice(body).map_err(|e| TransportError::Decode {
            system: self.system.clone(),
            operation: operation.to_owned(),
            // serde_json's message names the position and what was expected, not the content.
            message: e.to_string(),
        })
    }

    /// An error for an unexpected status. The detail is the system's `detail` or `error` field
    /// when it sent one (systems are expected to keep personal data out of those).
    pub fn status_error(&self, operation: &str, response: &RestResponse) -> TransportError {
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            error: Option<String>,
            detail: Option<String>,
        }
        let detail = serde_json::from_slice::<ErrorBody>(&response.body)
            .ok()
            .and_then(|b| b.detail.or(b.error))
            .unwrap_or_else(|| response.status.canonical_reason().unwrap_or("").to_owned());
        TransportError::Status {
            system: self.system.clone(),
            operation: operation.to_owned(),
            status: response.status.as_u16(),
            detail,
        }
    }

    fn classify(&self, operation: &str, e: reqwest::Error) -> TransportError {
        let (system, operation) = (self.system.clone(), operation.to_owned());
        if e.is_timeout() {
            TransportError::Timeout { system, operation }
        } else if e.is_connect() {
            TransportError::Connect { system, operation, message: root_cause(&e) }
        } else if e.is_decode() {
            TransportError::Decode { system, operation, message: root_cause(&e) }
        } else {
            TransportError::Other { system, operation, message: root_cause(&e) }
        }
    }
}

/// The innermost error's message: reqwest's own says only "error sending request".
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

fn read_certificates(
    key: &str,
    path: &std::path::Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{key} {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{key} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{key} {}: no PEM certificate in the file", path.display()));
    }
    Ok(certs)
}

fn tls_config(config: &RestConfig) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match &config.ca_file {
        Some(path) => {
            for cert in read_certificates("ca_file", path)? {
                roots.add(cert).map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            }
        }
        None => {
            // Missing or unreadable platform roots leave the store empty: plain-HTTP systems
            // (a simulator on loopback) still work, and HTTPS ones fail with a clear TLS error.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    match (&config.client_cert_file, &config.client_key_file) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert_path), Some(key_path)) => {
            use rustls::pki_types::PrivateKeyDer;
            use rustls::pki_types::pem::PemObject;
            let chain = read_certificates("client_cert_file", cert_path)?;
            // The key file's content never goes into a message, only its name and the kind of error.
            let key = PrivateKeyDer::from_pem_file(key_path)
                .map_err(|e| format!("client_key_file {}: {e}", key_path.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client_cert_file/client_key_file: {e}"))
        }
        _ => Err("client_cert_file and client_key_file go together".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;

    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{addr}/api")
    }

    #[tokio::test]
    async fn errors_name_system_operation_and_retryability() {
        let router = Router::new()
            .route("/api/ok", get(|| async { axum::Json(serde_json::json!({"n": 1})) }))
            .route(
                "/api/broken",
                get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, r#"{"error":"maintenance"}"#) }),
            )
            .route("/api/gone", get(|| async { (axum::http::StatusCode::NOT_FOUND, "") }))
            .route("/api/garbage", get(|| async { "{not json" }))
            .route(
                "/api/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            );
        let base = serve(router).await;
        let mut config = RestConfig::new(base);
        config.timeout_ms = 300;
        let client = RestClient::new("tax", &config).unwrap();

        #[derive(Debug, serde::Deserialize)]
        struct N {
            n: u32,
        }
        assert_eq!(client.get_json::<N>("probe", "ok").await.unwrap().n, 1);

        let e = client.get_json::<N>("probe", "broken").await.unwrap_err();
        assert_eq!(e.to_string(), "tax: probe: HTTP 503: maintenance");
        assert!(e.is_retryable());

        let e = client.get_json::<N>("probe", "gone").await.unwrap_err();
        assert!(!e.is_retryable(), "{e}");

        let e = client.get_json::<N>("probe", "garbage").await.unwrap_err();
        assert!(matches!(e, TransportError::Decode { .. }) && !e.is_retryable(), "{e}");

        let e = client.get_json::<N>("probe", "slow").await.unwrap_err();
        assert!(matches!(e, TransportError::Timeout { .. }) && e.is_retryable(), "{e}");
    }

    #[tokio::test]
    async fn refused_connections_are_retryable() {
        // Bind then drop a listener so the port is (almost certainly) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let client = RestClient::new("nhi", &RestConfig::new(format!("http://127.0.0.1:{port}/"))).unwrap();
        let e = client.get_json::<serde_json::Value>("health", "health").await.unwrap_err();
        assert!(matches!(e, TransportError::Connect { .. }), "{e}");
        assert!(e.is_retryable());
    }

    #[test]
    fn bad_configuration_is_reported() {
        let e = RestClient::new("tax", &RestConfig::new("not a url")).unwrap_err();
        assert!(e.to_string().starts_with("tax: configuration: base_url"), "{e}");
    }
}

#[cfg(test)]
mod auth_tests;
