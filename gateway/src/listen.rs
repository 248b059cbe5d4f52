//! The listeners' transport: TLS (rustls) when `[server.tls]` is set, mutual TLS for the counter
//! terminals on the gRPC listener (the certificate's subject is the terminal), and the limits that
//! keep a flood on one listener from starving the other — a cap on open connections, handshake
//! and header-read timeouts, HTTP/2 keep-alive pings.
//!
//! Plaintext is served on loopback addresses; anywhere else only with `[server].allow_plaintext`,
//! and with a warning.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use futures::Stream;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tonic::transport::server::{Connected, TcpConnectInfo, TlsConnectInfo};
use tracing::{debug, warn};

use crate::config::{ClientCertificates, ServerConfig, TlsConfig};

/// Refuse to serve plaintext on a non-loopback address unless the configuration says so.
pub(crate) fn check_plaintext(config: &ServerConfig) -> anyhow::Result<()> {
    if config.tls.is_some() {
        return Ok(());
    }
    for (key, addr) in [("grpc_listen", config.grpc_listen), ("http_listen", config.http_listen)] {
        if addr.ip().is_loopback() {
            continue;
        }
        anyhow::ensure!(
            config.allow_plaintext,
            "[server].{key} = {addr} is not a loopback address and [server.tls] is not set: configure \
             [server.tls] (cert_file, key_file), or set [server].allow_plaintext = true when a proxy \
             terminates TLS in front of renkei"
        );
        warn!(%addr, listener = key, "serving plaintext on a non-loopback address ([server].allow_plaintext)");
    }
    Ok(())
}

fn read(path: &std::path::Path, key: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("[server.tls].{key}: reading {}", path.display()))
}

/// The gRPC listener's TLS: the server's identity and, with `client_ca_file`, the terminals' CA.
pub(crate) fn grpc_tls(config: &ServerConfig) -> anyhow::Result<Option<tonic::transport::ServerTlsConfig>> {
    let Some(tls) = &config.tls else { return Ok(None) };
    // Parse here too, so a bad file is named before tonic reports it without the path.
    server_identity(tls)?;
    let identity = tonic::transport::Identity::from_pem(
        read(&tls.cert_file, "cert_file")?,
        read(&tls.key_file, "key_file")?,
    );
    let mut server = tonic::transport::ServerTlsConfig::new()
        .identity(identity)
        .timeout(Duration::from_millis(config.tls_handshake_timeout_ms));
    if let Some(ca) = &tls.client_ca_file {
        let pem = read(ca, "client_ca_file")?;
        let count = CertificateDer::pem_slice_iter(&pem).filter(Result::is_ok).count();
        anyhow::ensure!(count > 0, "[server.tls].client_ca_file: {} holds no PEM certificate", ca.display());
        server = server
            .client_ca_root(tonic::transport::Certificate::from_pem(pem))
            .client_auth_optional(tls.client_certificates == ClientCertificates::Optional);
    }
    Ok(Some(server))
}

fn server_identity(
    tls: &TlsConfig,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let chain = CertificateDer::pem_slice_iter(&read(&tls.cert_file, "cert_file")?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("[server.tls].cert_file: {}: {e}", tls.cert_file.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "[server.tls].cert_file: {} holds no PEM certificate",
        tls.cert_file.display()
    );
    let key = PrivateKeyDer::from_pem_slice(&read(&tls.key_file, "key_file")?)
        .map_err(|e| anyhow::anyhow!("[server.tls].key_file: {}: {e}", tls.key_file.display()))?;
    Ok((chain, key))
}

/// The HTTP listener's TLS (server authentication only: its callers are load balancers,
/// monitoring and the resident record's push, which carries its own token).
pub(crate) fn http_tls(config: &ServerConfig) -> anyhow::Result<Option<tokio_rustls::TlsAcceptor>> {
    let Some(tls) = &config.tls else { return Ok(None) };
    let (chain, key) = server_identity(tls)?;
    let mut server =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| {
                anyhow::anyhow!("[server.tls]: the certificate and key do not make a TLS identity: {e}")
            })?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(server))))
}

/// The terminal a call comes from: its client certificate's subject — the common name when it
/// has one, the whole distinguished name otherwise. `None` without a client certificate.
pub(crate) fn terminal_of(extensions: &http::Extensions) -> Option<String> {
    let certs = extensions.get::<TlsConnectInfo<TcpConnectInfo>>()?.peer_certs()?;
    let (_, cert) = x509_parser::parse_x509_certificate(certs.first()?).ok()?;
    let subject = cert.subject();
    let name = match subject.iter_common_name().next().and_then(|cn| cn.as_str().ok()) {
        Some(cn) => cn.to_owned(),
        None => subject.to_string(),
    };
    Some(name)
}

/// A connection under its listener's limits: it holds one of the listener's permits while it is
/// open, and it must send its first bytes within a time. (hyper's header-read timeout starts
/// only once it knows the protocol, and HTTP/2 has none: without the deadline, a client that
/// connects and says nothing would hold its permit for ever.)
#[derive(Debug)]
pub(crate) struct Limited<IO> {
    io: IO,
    _permit: Option<OwnedSemaphorePermit>,
    first_bytes: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<IO> Limited<IO> {
    /// `io`, which must be read from within `time`.
    pub(crate) fn first_bytes_within(io: IO, time: Duration) -> Self {
        Self { io, _permit: None, first_bytes: Some(Box::pin(tokio::time::sleep(time))) }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Limited<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        if self.first_bytes.is_some() {
            match &read {
                Poll::Ready(Ok(())) if buf.filled().len() > before => self.first_bytes = None,
                Poll::Pending
                    if self.first_bytes.as_mut().is_some_and(|d| d.as_mut().poll(cx).is_ready()) =>
                {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "nothing sent within the time allowed",
                    )));
                }
                _ => {}
            }
        }
        read
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Limited<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl<IO: Connected> Connected for Limited<IO> {
    type ConnectInfo = IO::ConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

/// The connections `listener` accepts, at most `[server].max_connections` open at once, each
/// to send its first bytes within `[server].header_read_timeout_ms`. One beyond the cap is
/// closed as it arrives; an accept that fails (out of descriptors, say) is retried after a
/// pause instead of ending the listener.
pub(crate) fn limited(
    listener: TcpListener,
    config: &ServerConfig,
) -> impl Stream<Item = io::Result<Limited<TcpStream>>> + Send + 'static {
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let first_bytes = Duration::from_millis(config.header_read_timeout_ms);
    futures::stream::unfold((listener, permits), move |(listener, permits)| async move {
        let connection = accept(&listener, &permits, first_bytes).await;
        Some((Ok(connection), (listener, permits)))
    })
}

async fn accept(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
    first_bytes: Duration,
) -> Limited<TcpStream> {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => match permits.clone().try_acquire_owned() {
                Ok(permit) => {
                    // Without TCP_NODELAY a response waits on the peer's delayed ACK (~40 ms on
                    // Linux) whenever it follows a small write.
                    let _ = stream.set_nodelay(true);
                    return Limited {
                        io: stream,
                        _permit: Some(permit),
                        first_bytes: Some(Box::pin(tokio::time::sleep(first_bytes))),
                    };
                }
                Err(_) => {
                    debug!(%peer, "connection closed: the listener is at [server].max_connections");
                    drop(stream);
                }
            },
            Err(e) => {
                warn!(error = %e, "accepting a connection failed; retrying shortly");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serve `app` on `listener` (TLS with `tls`) until `stop`, then let open requests finish.
pub(crate) async fn serve_http(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    config: &ServerConfig,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(config.header_read_timeout_ms))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(config.keepalive_interval_s))
        .keep_alive_timeout(Duration::from_secs(config.keepalive_timeout_s));
    let handshake = Duration::from_millis(config.tls_handshake_timeout_ms);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let first_bytes = Duration::from_millis(config.header_read_timeout_ms);
    let incoming = limited(listener, config);
    futures::pin_mut!(incoming);
    loop {
        let connection = tokio::select! {
            next = futures::StreamExt::next(&mut incoming) => match next {
                Some(Ok(connection)) => connection,
                _ => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let (builder, tls, watcher) = (builder.clone(), tls.clone(), graceful.watcher());
        tokio::spawn(async move {
            let served = match tls {
                None => {
                    watcher
                        .watch(builder.serve_connection_with_upgrades(TokioIo::new(connection), service))
                        .await
                }
                Some(acceptor) => match tokio::time::timeout(handshake, acceptor.accept(connection)).await {
                    Ok(Ok(stream)) => {
                        // The handshake was the first bytes; the request must follow as promptly.
                        let stream = Limited::first_bytes_within(stream, first_bytes);
                        watcher
                            .watch(builder.serve_connection_with_upgrades(TokioIo::new(stream), service))
                            .await
                    }
                    Ok(Err(e)) => {
                        debug!(error = %e, "HTTP: TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        debug!("HTTP: TLS handshake timed out");
                        return;
                    }
                },
            };
            if let Err(e) = served {
                debug!(error = %e, "HTTP connection ended with an error");
            }
        });
    }
    // Open requests get a few seconds; idle keep-alive connections close at once.
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}
