//! The tax system (個人住民税・固定資産税): certificate issuance.
//!
//! A 税証明 request (`zei.shoumei`, mapped through `tax/shoumei`) is posted like any other
//! application; the tax system answers with the certificate's data to print — fixed-length
//! Shift_JIS records of `tax/kazei-shomei` (課税（所得）証明書, 非課税証明書), `tax/nozei-shomei`
//! (納税証明書) or `tax/hyoka-shomei` (固定資産評価証明書), chosen by the kind requested, in the
//! version in force on the request's date. The certificate is read whole or not at all: one
//! record that does not read fails the request, naming the record and the item, so nothing
//! half-read is ever printed.

use std::sync::Arc;

use async_trait::async_trait;
use renkei_adapter_core::{CoreSystem, DeliveryError, Receipt, TransportConfig, TransportError};
use renkei_mappings::{CanonicalRecord, MappingId};
use renkei_model::Application;

use crate::{Answer, Channel, MappedSystem, MappingSource, application_date, decode_records};

/// The code table of the certificates the tax system issues; `zei.shoumei`'s form offers its
/// labels.
pub const CERTIFICATE_KINDS: &str = "certificate-kind";

/// The certificate data interface of each certificate kind (canonical values of the
/// [`CERTIFICATE_KINDS`] code table).
pub const CERTIFICATE_INTERFACES: [(&str, &str); 4] = [
    ("income_tax_certificate", "kazei-shomei"),
    ("non_taxation_certificate", "kazei-shomei"),
    ("tax_payment_certificate", "nozei-shomei"),
    ("property_valuation_certificate", "hyoka-shomei"),
];

/// A certificate's data, ready to print.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// The mapping its records were read through (`tax/nozei-shomei@1`).
    pub mapping: MappingId,
    /// The tax system's 受付番号.
    pub reference: String,
    /// The system had already answered this request (same idempotency key).
    pub duplicate: bool,
    /// One canonical `certificate` record per line of data (a 納税証明書 has one per
    /// installment).
    pub records: Vec<CanonicalRecord>,
}

/// Why a certificate could not be had.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// The answer holds a record that does not read; nothing of the certificate is used.
    #[error("{system}: {mapping}: certificate for request {request}: {failure}")]
    Record { system: String, mapping: MappingId, request: String, failure: String },
}

impl From<TransportError> for CertificateError {
    fn from(e: TransportError) -> Self {
        CertificateError::Delivery(e.into())
    }
}

/// The tax system's adapter.
#[derive(Debug, Clone)]
pub struct TaxSystem {
    mapped: MappedSystem,
}

impl TaxSystem {
    pub const SYSTEM: &'static str = "tax";

    /// Certificates are an exchange (request, then data), so the tax system is reached over REST.
    pub fn new(
        name: &str,
        transport: &TransportConfig,
        mappings: Arc<dyn MappingSource>,
    ) -> Result<TaxSystem, TransportError> {
        if !matches!(transport, TransportConfig::Rest(_)) {
            return Err(TransportError::Config {
                system: name.to_owned(),
                message:
                    "transport: certificate requests are answered with data, which needs transport = \"rest\""
                        .into(),
            });
        }
        Ok(TaxSystem { mapped: MappedSystem::new(name, transport, mappings)? })
    }

    pub fn channel(&self) -> &Channel {
        self.mapped.channel()
    }

    /// Request the certificate `request` asks for (a `zei.shoumei` application) and read its data.
    pub async fn issue(
        &self,
        idempotency_key: &str,
        request: &Application,
    ) -> Result<Certificate, CertificateError> {
        let system = self.mapped.name().to_owned();
        let rejected = |reason: String| DeliveryError::Rejected { system: system.clone(), reason };
        let chosen = request.fields.get("certificate_kind").map(|f| f.value.as_str()).ok_or_else(|| {
            rejected(format!("application {idempotency_key}: fields.certificate_kind: is required"))
        })?;
        let set = self.mapped.mappings().current();
        // The form offers the code table's labels; an API caller may send the canonical value.
        let kind = set
            .code_table(CERTIFICATE_KINDS)
            .and_then(|t| t.by_canonical(chosen).or_else(|| t.by_label(chosen)))
            .map(|e| e.canonical.as_str());
        let interface = CERTIFICATE_INTERFACES
            .iter()
            .find(|(k, _)| Some(*k) == kind)
            .map(|(_, i)| *i)
            .ok_or_else(|| rejected(format!("application {idempotency_key}: fields.certificate_kind: the tax system issues no such certificate")))?;
        let on = application_date(request);
        let data = set
            .mapping("tax", interface, on)
            .cloned()
            .ok_or_else(|| rejected(format!("no version of tax/{interface} is in force on {on}")))?;
        let (_, answer) = self.mapped.submit(idempotency_key, request).await?;
        let (duplicate, reference, body) = match answer {
            Answer::Accepted { duplicate, reference, body } => (duplicate, reference, body),
            Answer::Refused { reason } => return Err(rejected(reason).into()),
        };
        let mut records = Vec::new();
        for read in decode_records(&data, &body) {
            let record_error = |failure: String| CertificateError::Record {
                system: system.clone(),
                mapping: data.id.clone(),
                request: idempotency_key.to_owned(),
                failure,
            };
            let system_record = read.map_err(|f| record_error(f.to_string()))?;
            let mut canonical = data.new_canonical();
            data.to_canonical(&system_record, &mut canonical)
                .map_err(|e| record_error(format!("record {}: {e}", records.len() + 1)))?;
            records.push(canonical);
        }
        if records.is_empty() {
            return Err(CertificateError::Record {
                system,
                mapping: data.id.clone(),
                request: idempotency_key.to_owned(),
                failure: "the answer holds no certificate record".into(),
            });
        }
        Ok(Certificate {
            mapping: data.id.clone(),
            reference: reference.unwrap_or_else(|| idempotency_key.to_owned()),
            duplicate,
            records,
        })
    }
}

#[async_trait]
impl CoreSystem for TaxSystem {
    fn name(&self) -> &str {
        self.mapped.name()
    }

    /// A 税証明 application delivered: the certificate is requested and its data checked whole.
    async fn deliver(
        &self,
        idempotency_key: &str,
        application: &Application,
    ) -> Result<Receipt, DeliveryError> {
        match self.issue(idempotency_key, application).await {
            Ok(certificate) => {
                Ok(Receipt { reference: certificate.reference, duplicate: certificate.duplicate })
            }
            Err(CertificateError::Delivery(e)) => Err(e),
            Err(e @ CertificateError::Record { .. }) => {
                Err(DeliveryError::Transport(TransportError::Decode {
                    system: self.mapped.name().to_owned(),
                    operation: "shoumei".into(),
                    message: e.to_string(),
                }))
            }
        }
    }

    async fn health(&self) -> Result<(), TransportError> {
        self.mapped.channel().health().await
    }
}
