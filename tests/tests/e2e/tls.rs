//! The listeners: TLS on both, mutual TLS naming the terminal of a session, plaintext refused
//! off loopback, and a flood of idle connections that neither exhausts the process nor reaches
//! the other listener. The clients are tonic's (rustls) and curl, not renkei's code.

use std::path::PathBuf;
use std::time::Duration;

use renkei_gateway::config::{ClientCertificates, Config, TlsConfig};
use renkei_proto::Bearer;
use renkei_proto::v1 as pb;
use renkei_proto::v1::counter_service_client::CounterServiceClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::harness::{Harness, STAFF};

/// A city CA, the gateway's certificate (localhost, 127.0.0.1) and a counter terminal's.
struct Pki {
    dir: tempfile::TempDir,
    ca: String,
    terminal_cert: String,
    terminal_key: String,
    /// A terminal certificate from a CA the gateway does not trust.
    stranger_cert: String,
    stranger_key: String,
}

const TERMINAL: &str = "shiminka-terminal-07";

fn ca(name: &str) -> (rcgen::Issuer<'static, rcgen::KeyPair>, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    let pem = params.self_signed(&key).unwrap().pem();
    (rcgen::Issuer::new(params, key), pem)
}

fn leaf(issuer: &rcgen::Issuer<'static, rcgen::KeyPair>, names: &[&str], cn: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "試験市");
    (params.signed_by(&key, issuer).unwrap().pem(), key.serialize_pem())
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let (city, ca_pem) = ca("試験市 窓口端末CA");
    let (server_cert, server_key) = leaf(&city, &["localhost", "127.0.0.1"], "renkei.test");
    let (terminal_cert, terminal_key) = leaf(&city, &[], TERMINAL);
    let (other, _) = ca("another CA");
    let (stranger_cert, stranger_key) = leaf(&other, &[], "stranger");
    std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
    std::fs::write(dir.path().join("server.pem"), server_cert).unwrap();
    std::fs::write(dir.path().join("server.key"), server_key).unwrap();
    Pki { dir, ca: ca_pem, terminal_cert, terminal_key, stranger_cert, stranger_key }
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn server(&self, client_ca: bool) -> TlsConfig {
        TlsConfig {
            cert_file: self.path("server.pem"),
            key_file: self.path("server.key"),
            client_ca_file: client_ca.then(|| self.path("ca.pem")),
            client_certificates: ClientCertificates::Required,
        }
    }
}

async fn tls_channel(
    h: &Harness,
    pki: &Pki,
    identity: Option<(&str, &str)>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pki.ca)).domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Channel::from_shared(format!("https://{}", h.gateway.grpc_addr)).unwrap().tls_config(tls)?.connect().await
}

async fn counter_over(h: &Harness, channel: Channel) -> CounterServiceClient<renkei_proto::Authorized> {
    let token = h.gateway.state().auth.issue(STAFF, 600).await.unwrap();
    CounterServiceClient::new(Bearer::new(&token).unwrap().on(channel))
}

async fn open(
    counter: &mut CounterServiceClient<renkei_proto::Authorized>,
) -> Result<pb::Session, tonic::Status> {
    counter
        .open_session(pb::OpenSessionRequest { counter_id: "window-3".into() })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn mutual_tls_names_the_terminal_and_refuses_clients_without_the_citys_certificate() {
    let pki = pki();
    let h = Harness::start_with(|c| c.server.tls = Some(pki.server(true))).await;

    // A terminal with the city's certificate: its sessions carry the certificate's subject.
    let channel = tls_channel(&h, &pki, Some((&pki.terminal_cert, &pki.terminal_key))).await.unwrap();
    let session = open(&mut counter_over(&h, channel).await).await.unwrap();
    assert_eq!(session.terminal_id, TERMINAL);
    assert_eq!(session.staff_id, STAFF);

    // No client certificate, or one from another CA: no call gets through.
    for identity in [None, Some((pki.stranger_cert.as_str(), pki.stranger_key.as_str()))] {
        let refused = match tls_channel(&h, &pki, identity).await {
            Err(_) => true,
            Ok(channel) => open(&mut counter_over(&h, channel).await).await.is_err(),
        };
        assert!(
            refused,
            "a client {} was served",
            if identity.is_some() { "of another CA" } else { "without a certificate" }
        );
    }

    // Plaintext to the TLS port is not served either.
    let plain = Channel::from_shared(format!("http://{}", h.gateway.grpc_addr)).unwrap().connect().await;
    if let Ok(plain) = plain {
        assert!(
            open(&mut counter_over(&h, plain).await).await.is_err(),
            "plaintext was served on the TLS port"
        );
    }
}

#[tokio::test]
async fn server_only_tls_serves_grpc_and_http_with_no_terminal() {
    let pki = pki();
    let h = Harness::start_with(|c| c.server.tls = Some(pki.server(false))).await;
    let channel = tls_channel(&h, &pki, None).await.unwrap();
    let session = open(&mut counter_over(&h, channel).await).await.unwrap();
    assert_eq!(session.terminal_id, "", "no client certificate, no terminal");

    // curl, trusting the city's CA, reads /healthz over TLS; without the CA it refuses the server.
    // It runs off the runtime's thread: the gateway serves on this test's runtime.
    let port = h.gateway.http_addr.port();
    let curl = |ca: Option<PathBuf>| {
        let mut command = std::process::Command::new("curl");
        command.args(["-sS", "--max-time", "10", "--resolve", &format!("localhost:{port}:127.0.0.1")]);
        if let Some(ca) = ca {
            command.arg("--cacert").arg(ca);
        }
        command.arg(format!("https://localhost:{port}/healthz"));
        tokio::task::spawn_blocking(move || command.output().expect("curl runs"))
    };
    let trusted = curl(Some(pki.path("ca.pem"))).await.unwrap();
    assert!(trusted.status.success(), "curl: {}", String::from_utf8_lossy(&trusted.stderr));
    assert_eq!(String::from_utf8_lossy(&trusted.stdout), "ok\n");
    assert!(
        !curl(None).await.unwrap().status.success(),
        "curl accepted a certificate from a CA it does not know"
    );
}

#[tokio::test]
async fn plaintext_off_loopback_needs_an_explicit_setting() {
    let mut config = Config::default();
    config.server.grpc_listen = "0.0.0.0:0".parse().unwrap();
    config.server.http_listen = "127.0.0.1:0".parse().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    config.storage.data_dir = data_dir.path().to_owned();
    let error = renkei_gateway::server::start(config).await.unwrap_err().to_string();
    assert!(error.contains("[server].grpc_listen") && error.contains("allow_plaintext"), "{error}");

    let h = Harness::start_with(|c| {
        c.server.grpc_listen = "0.0.0.0:0".parse().unwrap();
        c.server.allow_plaintext = true;
    })
    .await;
    let port = h.gateway.grpc_addr.port();
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect().await.unwrap();
    assert!(open(&mut counter_over(&h, channel).await).await.is_ok());
}

/// Idle connections beyond the cap are closed at once, those within it when their header-read
/// time runs out, and all the while the gRPC listener answers.
#[tokio::test]
async fn a_flood_of_idle_http_connections_is_capped_and_timed_out_while_grpc_answers() {
    const CAP: usize = 16;
    const FLOOD: usize = 200;
    let h = Harness::start_with(|c| {
        c.server.max_connections = CAP;
        c.server.header_read_timeout_ms = 500;
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..FLOOD {
        idle.push(tokio::net::TcpStream::connect(h.gateway.http_addr).await.unwrap());
    }

    // gRPC is another listener with its own connections: it still serves.
    let mut health = tonic_health::pb::health_client::HealthClient::new(h.plain_channel().await);
    let answer = health.check(tonic_health::pb::HealthCheckRequest::default()).await.unwrap().into_inner();
    assert_eq!(answer.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);

    // Every idle connection is closed by the server within a few header-read timeouts.
    let mut closed = 0;
    for mut stream in idle {
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
            Ok(Ok(n)) => {
                // hyper may answer a timed-out head with 408 before closing.
                assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"), "unexpected answer");
                closed += 1;
            }
            Err(_) => {}
        }
    }
    assert_eq!(closed, FLOOD, "idle connections left open");

    // And the listener takes new requests again.
    let mut stream = tokio::net::TcpStream::connect(h.gateway.http_addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: renkei\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok\n"), "{answer}");
}

/// gRPC speaks HTTP/2, which has no header-read timeout: a connection that sends nothing is
/// closed when its first-bytes time runs out, so a listener filled with them serves again.
#[tokio::test]
async fn idle_grpc_connections_are_closed_when_they_send_nothing() {
    const CAP: usize = 8;
    let h = Harness::start_with(|c| {
        c.server.max_connections = CAP;
        c.server.header_read_timeout_ms = 500;
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..CAP {
        idle.push(tokio::net::TcpStream::connect(h.gateway.grpc_addr).await.unwrap());
    }
    for mut stream in idle {
        let mut buf = [0u8; 256];
        // The server may send its HTTP/2 preface (SETTINGS) first; then it must close.
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "an idle gRPC connection was left open");
    }
    let mut health = tonic_health::pb::health_client::HealthClient::new(h.plain_channel().await);
    let answer = health.check(tonic_health::pb::HealthCheckRequest::default()).await.unwrap().into_inner();
    assert_eq!(answer.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
}
