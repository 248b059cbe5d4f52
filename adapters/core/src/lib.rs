//! What every core-system adapter shares: the [`CoreSystem`] trait the delivery workers call, and
//! the transports a standard core system is reached by:
//!
//! - [`rest`]: REST/JSON over reqwest + rustls, with mutual TLS and `client_secret_jwt` client
//!   authentication;
//! - [`file`]: data files published atomically into a shared directory with a completion file,
//!   and the acknowledgement file the system answers with;
//! - [`xml`]: streaming XML records over quick-xml, read from UTF-8, Shift_JIS or Windows-31J.
//!
//! [`trace`] holds the trace context a request carries (the REST transport's `traceparent`).
//!
//! [`TransportConfig`] is how a system's transport is configured; the gateway embeds it.
//! Per-system adapters hold only what differs between systems; retries, idempotency and the
//! outbox live in the gateway, which sees every system through this trait.

mod config;
pub mod file;
pub mod rest;
mod secret;
pub mod trace;
pub mod xml;

use std::fmt;

use async_trait::async_trait;
use renkei_model::Application;

pub use config::{FileTransferConfig, TransportConfig};
pub use rest::{ClientSecretJwtConfig, RequestBody, RestClient, RestConfig, RestResponse};

/// A standard core system (住民記録, 税, 国保, 福祉 …) as the delivery workers see it.
#[async_trait]
pub trait CoreSystem: Send + Sync + fmt::Debug {
    /// The system's name in the configuration (`resident-record`).
    fn name(&self) -> &str;

    /// Deliver one application. `idempotency_key` is the same on every retry of this
    /// application, so a system that honours it records the application once.
    async fn deliver(
        &self,
        idempotency_key: &str,
        application: &Application,
    ) -> Result<Receipt, DeliveryError>;

    /// Whether the system answers. Cheap; called by health checks.
    async fn health(&self) -> Result<(), TransportError>;
}

/// What a core system said when it took an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The system's reference (受付番号).
    pub reference: String,
    /// The system had already seen this idempotency key: this is the first delivery's receipt.
    pub duplicate: bool,
}

/// Why a delivery did not succeed. The delivery worker retries [`DeliveryError::is_retryable`]
/// errors with backoff and dead-letters the rest. Messages never carry personal data.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The system could not be reached or failed; trying again may work.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The system refused the content; sending it again will not help.
    #[error("{system} refused the application: {reason}")]
    Rejected { system: String, reason: String },
    /// This adapter cannot deliver this kind of application.
    #[error("{system} does not take procedure {procedure}")]
    Unsupported { system: String, procedure: String },
}

impl DeliveryError {
    pub fn is_retryable(&self) -> bool {
        match self {
            DeliveryError::Transport(e) => e.is_retryable(),
            DeliveryError::Rejected { .. } | DeliveryError::Unsupported { .. } => false,
        }
    }
}

/// A failure to talk to a system, named by system and, where it helps, by what was sent.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{system}: configuration: {message}")]
    Config { system: String, message: String },
    #[error("{system}: {operation} timed out")]
    Timeout { system: String, operation: String },
    #[error("{system}: {operation}: cannot connect: {message}")]
    Connect { system: String, operation: String, message: String },
    #[error("{system}: {operation}: HTTP {status}: {detail}")]
    Status { system: String, operation: String, status: u16, detail: String },
    #[error("{system}: {operation}: unreadable response: {message}")]
    Decode { system: String, operation: String, message: String },
    /// What was to be sent could not be encoded; sending it again will not help.
    #[error("{system}: {operation}: cannot encode the request: {message}")]
    Encode { system: String, operation: String, message: String },
    #[error("{system}: {operation}: {message}")]
    Other { system: String, operation: String, message: String },
}

impl TransportError {
    /// Timeouts, connection failures, 5xx, 408 and 429 are worth retrying; other statuses and
    /// unreadable answers are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::Timeout { .. }
            | TransportError::Connect { .. }
            | TransportError::Other { .. } => true,
            TransportError::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            TransportError::Config { .. } | TransportError::Decode { .. } | TransportError::Encode { .. } => {
                false
            }
        }
    }
}
