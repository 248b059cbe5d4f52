//! Stand-ins for the standard core systems, and the synthetic population they serve.
//!
//! - [`population`]: a deterministic synthetic population with the hard cases every consumer of
//!   the resident record must handle ([`population::HardCase`]).
//! - [`card_emulator`]: a My Number card and a driver's license for a synthetic resident, behind
//!   the vpcd virtual reader so pcscd sees them as real cards.
//! - [`change_sink`]: the receiving end of the change feed, as a core system that keeps a copy
//!   of the 宛名 offers it, recording each batch once per idempotency key.
//! - [`resident_record`]: a simulator of a standard resident-record core system's REST API
//!   (`docs/resident-record-api.md`), served on a loopback listener, with inspection of what it
//!   received.
//! - [`core_system`]: simulators of the tax, national health insurance and welfare systems,
//!   taking records in the layouts of their mapping files over REST and file transfer.
//! - [`applications`]: applications as staff key them in, for tests.
//! - [`faults`]: the faults every simulator can be made to show, per request or file.
//! - [`receiver`]: how the simulated systems read what they take — their own decoders, written
//!   from the interface layouts, sharing no code with renkei's mappings.
//! - [`suite`] and [`runner`]: conformance suites as data (`conformance/suites/*.toml`), and the
//!   runner that drives the gateway through a visit per case and checks what each system got.
//!
//! Tests, the demo, `renkei simulate` and `renkei conformance` use this crate; renkei's serving path never
//! links it except through `renkei demo`.

pub mod applications;
pub mod card_emulator;
pub mod change_sink;
pub mod core_system;
pub mod faults;
pub mod population;
pub mod receiver;
pub mod resident_record;
pub mod runner;
pub mod suite;

/// A client for plain HTTP on loopback (the simulators' endpoints). In a workspace build
/// reqwest is compiled without a default TLS provider (renkei picks rustls' ring provider
/// explicitly), so one is handed over.
pub fn http_client() -> reqwest::Client {
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default versions")
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    reqwest::Client::builder().use_preconfigured_tls(tls).build().expect("a plain HTTP client")
}

/// How long a simulator's shutdown waits for open connections before dropping them.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Stop a simulator's server: signal `stop`, let requests in flight finish (a few seconds at
/// most, so a client holding a connection open does not keep a test waiting), and wait.
async fn stop_server(
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
) -> std::io::Result<()> {
    if let Some(stop) = stop {
        let _ = stop.send(());
    }
    let Some(mut task) = task else { return Ok(()) };
    match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join_error)) => Err(std::io::Error::other(join_error)),
        Err(_elapsed) => {
            task.abort();
            Ok(())
        }
    }
}
