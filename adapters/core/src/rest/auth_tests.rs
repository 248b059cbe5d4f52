//! Mutual TLS and `client_secret_jwt` against a token server and a resource server on loopback,
//! with certificates made for the test.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap as AxumHeaders, StatusCode as AxumStatus};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::*;

const CLIENT_ID: &str = "renkei-test";
const SECRET: &str = "s3cr3t-for-hs256-0123456789abcdef";

/// A CA and what it signed, written as PEM files where a client would find them.
struct Pki {
    dir: tempfile::TempDir,
    ca_der: CertificateDer<'static>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A client certificate signed by `issuer`, written to `<prefix>.pem` / `<prefix>.key`.
fn client_cert(
    dir: &std::path::Path,
    prefix: &str,
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["renkei.example.lg.jp".to_owned()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, issuer).unwrap();
    let (cert_path, key_path) = (dir.join(format!("{prefix}.pem")), dir.join(format!("{prefix}.key")));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

impl Pki {
    fn new() -> (Self, CertifiedIssuer<'static, KeyPair>) {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca("renkei test CA");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = params.signed_by(&server_key, &ca).unwrap();
        let pki = Pki {
            ca_der: ca.der().clone(),
            server_chain: vec![server_cert.der().clone()],
            server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            dir,
        };
        (pki, ca)
    }

    /// A TLS server config that demands a client certificate signed by the test CA.
    fn server_config(&self) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .unwrap();
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.server_chain.clone(), self.server_key.clone_key())
            .unwrap()
    }
}

/// Serve `router` over mutual TLS on a loopback port; returns `https://127.0.0.1:port` and a
/// count of refused handshakes.
async fn serve_mtls(router: Router, config: rustls::ServerConfig) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let refused = Arc::new(AtomicUsize::new(0));
    let refused_count = refused.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let (acceptor, router, refused) = (acceptor.clone(), router.clone(), refused_count.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    refused.fetch_add(1, Ordering::SeqCst);
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(router);
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (format!("https://127.0.0.1:{}", addr.port()), refused)
}

/// The token server's and the resource server's shared view of issued tokens.
#[derive(Default)]
struct Authority {
    token_url: Mutex<String>,
    /// Token → still valid on the server's side.
    tokens: Mutex<HashMap<String, bool>>,
    seen_jti: Mutex<HashSet<String>>,
    token_requests: AtomicUsize,
    resource_requests: AtomicUsize,
    expires_in: AtomicU64,
    /// Answer 401 to every resource request, whatever the token.
    refuse_all: AtomicBool,
}

impl Authority {
    fn expire_all(&self) {
        for valid in self.tokens.lock().unwrap().values_mut() {
            *valid = false;
        }
    }
}

/// Checks a client assertion as an authorization server would (OIDC Core §9).
fn verify_assertion(authority: &Authority, jwt: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, payload, signature] = parts[..] else { return Err("not a JWS") };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| "signature encoding")?;
    ring::hmac::verify(&key, format!("{header}.{payload}").as_bytes(), &signature)
        .map_err(|_| "bad signature")?;
    let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    if header["alg"] != "HS256" {
        return Err("alg");
    }
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    if claims["iss"] != CLIENT_ID || claims["sub"] != CLIENT_ID {
        return Err("iss/sub");
    }
    if claims["aud"] != *authority.token_url.lock().unwrap() {
        return Err("aud");
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    if claims["exp"].as_u64().is_none_or(|exp| exp <= now) {
        return Err("expired assertion");
    }
    let jti = claims["jti"].as_str().ok_or("jti")?.to_owned();
    if !authority.seen_jti.lock().unwrap().insert(jti) {
        return Err("replayed jti");
    }
    Ok(())
}

async fn token_endpoint(
    State(authority): State<Arc<Authority>>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> (AxumStatus, axum::Json<serde_json::Value>) {
    authority.token_requests.fetch_add(1, Ordering::SeqCst);
    let refuse = |why: &str| {
        (
            AxumStatus::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": "invalid_client", "error_description": why})),
        )
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return refuse("grant");
    }
    if let Err(why) = verify_assertion(&authority, form.get("client_assertion").map_or("", String::as_str)) {
        return refuse(why);
    }
    let token = format!("tok-{}", authority.token_requests.load(Ordering::SeqCst));
    authority.tokens.lock().unwrap().insert(token.clone(), true);
    let expires_in = authority.expires_in.load(Ordering::SeqCst);
    (
        AxumStatus::OK,
        axum::Json(
            serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in}),
        ),
    )
}

async fn resource(
    State(authority): State<Arc<Authority>>,
    headers: AxumHeaders,
) -> (AxumStatus, AxumHeaders, axum::Json<serde_json::Value>) {
    authority.resource_requests.fetch_add(1, Ordering::SeqCst);
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let valid = authority.tokens.lock().unwrap().get(&token).copied().unwrap_or(false);
    if !valid || authority.refuse_all.load(Ordering::SeqCst) {
        let mut h = AxumHeaders::new();
        h.insert("www-authenticate", r#"Bearer error="invalid_token""#.parse().unwrap());
        return (AxumStatus::UNAUTHORIZED, h, axum::Json(serde_json::json!({"error": "invalid_token"})));
    }
    (AxumStatus::OK, AxumHeaders::new(), axum::Json(serde_json::json!({"token": token})))
}

struct Setup {
    pki: Pki,
    ca: CertifiedIssuer<'static, KeyPair>,
    authority: Arc<Authority>,
    api: String,
    token_url: String,
    api_refused: Arc<AtomicUsize>,
    /// Seconds the client's clock is ahead of the real one.
    skew: Arc<AtomicU64>,
}

async fn setup() -> Setup {
    let (pki, ca) = Pki::new();
    let authority = Arc::new(Authority::default());
    authority.expires_in.store(100, Ordering::SeqCst);
    let token_router =
        Router::new().route("/oauth/token", post(token_endpoint)).with_state(authority.clone());
    let (token_base, _) = serve_mtls(token_router, pki.server_config()).await;
    let token_url = format!("{token_base}/oauth/token");
    *authority.token_url.lock().unwrap() = token_url.clone();
    let api_router = Router::new().route("/api/v1/data", get(resource)).with_state(authority.clone());
    let (api_base, api_refused) = serve_mtls(api_router, pki.server_config()).await;
    Setup {
        pki,
        ca,
        authority,
        api: format!("{api_base}/api/v1/"),
        token_url,
        api_refused,
        skew: Arc::new(AtomicU64::new(0)),
    }
}

impl Setup {
    fn config(&self, cert_prefix: &str, issuer: &CertifiedIssuer<'static, KeyPair>) -> RestConfig {
        let dir = self.pki.dir.path();
        let (cert, key) = client_cert(dir, cert_prefix, issuer);
        let secret_file = dir.join("client.secret");
        std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
        let mut auth = ClientSecretJwtConfig::new(self.token_url.clone(), CLIENT_ID);
        auth.client_secret_file = Some(secret_file);
        let mut config = RestConfig::new(self.api.clone());
        config.ca_file = Some(dir.join("ca.pem"));
        config.client_cert_file = Some(cert);
        config.client_key_file = Some(key);
        config.auth = Some(auth);
        config.timeout_ms = 5_000;
        config
    }

    fn client(&self, config: &RestConfig) -> RestClient {
        let skew = self.skew.clone();
        let clock: Clock =
            Arc::new(move || SystemTime::now() + Duration::from_secs(skew.load(Ordering::SeqCst)));
        RestClient::with_clock("tax", config, clock).unwrap()
    }

    fn counts(&self) -> (usize, usize) {
        (
            self.authority.token_requests.load(Ordering::SeqCst),
            self.authority.resource_requests.load(Ordering::SeqCst),
        )
    }
}

#[derive(Debug, serde::Deserialize)]
struct Seen {
    token: String,
}

#[tokio::test]
async fn mtls_and_client_secret_jwt_obtain_cache_refresh_and_retry() {
    let s = setup().await;
    let client = s.client(&s.config("client", &s.ca));

    // First call obtains a token; the second reuses it.
    let seen: Seen = client.get_json("probe", "data").await.unwrap();
    assert_eq!(seen.token, "tok-1");
    let seen: Seen = client.get_json("probe", "data").await.unwrap();
    assert_eq!(seen.token, "tok-1");
    assert_eq!(s.counts(), (1, 2), "one token request for two calls");

    // 65 s later the token (100 s) still has more than the 30 s margin: kept.
    s.skew.store(65, Ordering::SeqCst);
    let _: Seen = client.get_json("probe", "data").await.unwrap();
    assert_eq!(s.counts().0, 1);

    // 75 s later it is within the margin: replaced before it expires (the server still takes
    // tok-1, so the new token was not forced by a refusal).
    s.skew.store(75, Ordering::SeqCst);
    let seen: Seen = client.get_json("probe", "data").await.unwrap();
    assert_eq!(seen.token, "tok-2");
    assert_eq!(s.counts(), (2, 4), "refreshed without a 401");
    assert!(s.authority.tokens.lock().unwrap()["tok-1"], "tok-1 had not expired on the server");

    // The server expires every token early: the 401 refreshes the token and the call is sent
    // once more, successfully.
    s.authority.expire_all();
    let seen: Seen = client.get_json("probe", "data").await.unwrap();
    assert_eq!(seen.token, "tok-3");
    assert_eq!(s.counts(), (3, 6), "one refused call, one token request, one retry");

    // A clone shares the cache.
    let _: Seen = client.clone().get_json("probe", "data").await.unwrap();
    assert_eq!(s.counts(), (3, 7));

    // A system that keeps answering 401 gets exactly one retry, then the error surfaces.
    s.authority.refuse_all.store(true, Ordering::SeqCst);
    let e = client.get_json::<Seen>("probe", "data").await.unwrap_err();
    assert!(matches!(e, TransportError::Status { status: 401, .. }), "{e}");
    assert!(!e.is_retryable());
    assert_eq!(s.counts(), (4, 9), "no loop: one refresh, one retry");

    // Nothing secret in errors or Debug output.
    for shown in [e.to_string(), format!("{client:?}"), format!("{:?}", s.config("c2", &s.ca))] {
        assert!(!shown.contains(SECRET) && !shown.contains("tok-"), "{shown}");
    }
    assert_eq!(s.api_refused.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_wrong_or_missing_client_certificate_is_refused() {
    let s = setup().await;
    let other_ca = ca("some other CA");
    let client = s.client(&s.config("stranger", &other_ca));
    let e = client.get_json::<Seen>("probe", "data").await.unwrap_err();
    // The token endpoint is the first to refuse the handshake; nothing reached either handler.
    assert!(e.to_string().starts_with("tax: probe: token: "), "{e}");
    assert_eq!(s.counts(), (0, 0));

    let mut anonymous = s.config("client", &s.ca);
    anonymous.auth = None;
    anonymous.client_cert_file = None;
    anonymous.client_key_file = None;
    let e = s.client(&anonymous).get_json::<Seen>("probe", "data").await.unwrap_err();
    assert!(matches!(e, TransportError::Connect { .. } | TransportError::Other { .. }), "{e}");
    assert_eq!(s.api_refused.load(Ordering::SeqCst), 1, "the handshake was refused");
    assert_eq!(s.counts(), (0, 0));
}

#[tokio::test]
async fn a_wrong_secret_is_reported_without_the_secret() {
    let s = setup().await;
    let mut config = s.config("client", &s.ca);
    let wrong = s.pki.dir.path().join("wrong.secret");
    std::fs::write(&wrong, "not-the-secret-value").unwrap();
    config.auth.as_mut().unwrap().client_secret_file = Some(wrong);
    let e = s.client(&config).get_json::<Seen>("probe", "data").await.unwrap_err();
    assert_eq!(e.to_string(), "tax: probe: token: HTTP 401: invalid_client (bad signature)");
    assert!(!format!("{e:?}").contains("not-the-secret"));
    assert_eq!(s.counts(), (1, 0));
}

#[test]
fn auth_configuration_errors_name_the_key() {
    let mut config = RestConfig::new("https://127.0.0.1:1/");
    config.auth = Some(ClientSecretJwtConfig::new("https://127.0.0.1:1/token", CLIENT_ID));
    let e = RestClient::new("tax", &config).unwrap_err();
    assert!(e.to_string().contains("client_secret_file or client_secret_env"), "{e}");
    config.auth.as_mut().unwrap().client_secret_env = Some("RENKEI_TEST_SURELY_UNSET_VARIABLE".into());
    let e = RestClient::new("tax", &config).unwrap_err();
    assert!(e.to_string().contains("RENKEI_TEST_SURELY_UNSET_VARIABLE is not set"), "{e}");
    config.auth = None;
    config.client_cert_file = Some("/nonexistent/cert.pem".into());
    let e = RestClient::new("tax", &config).unwrap_err();
    assert!(e.to_string().contains("go together"), "{e}");
    config.client_key_file = Some("/nonexistent/key.pem".into());
    let e = RestClient::new("tax", &config).unwrap_err();
    assert!(e.to_string().contains("client_cert_file /nonexistent/cert.pem"), "{e}");
}
