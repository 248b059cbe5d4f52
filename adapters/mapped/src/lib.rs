//! The mapping-driven core-system adapter.
//!
//! Every standard core system takes applications the same way once the record layout is data:
//! find the procedure's interface in the catalog (`mapping` of `procedures/*.toml`), take the
//! version of that interface in force on the application's date from the mapping set in force,
//! map the application to the system's record, encode it, and hand it over through the system's
//! [`Channel`] (REST or file transfer) with the idempotency key. [`MappedSystem`] does exactly
//! that for any system; what differs between systems lives in small modules: [`tax`] (a
//! certificate request answered with certificate data) and [`nhi`] (member lookup).
//!
//! Mapping files follow hot reload: each call takes the set from its [`MappingSource`] (the
//! gateway's live set), so an edited mapping takes over at the next delivery.

mod channel;
pub mod nhi;
mod records;
pub mod tax;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use renkei_adapter_core::{CoreSystem, DeliveryError, Receipt, TransportConfig, TransportError};
use renkei_mappings::{CanonicalKind, CanonicalRecord, Mapping, MappingSet, Report};
use renkei_model::{Application, Date};

pub use channel::{Answer, Channel, FeedBatch, FileChannel, Submission, UKETSUKE_HEADER};
pub use records::{RecordFailure, decode_records, encode_document};

/// Where an adapter takes the mapping set from on each call.
pub trait MappingSource: Send + Sync + fmt::Debug {
    /// The set in force; keep it for the whole call.
    fn current(&self) -> Arc<MappingSet>;
}

/// A set that never changes (tests, tools).
#[derive(Debug, Clone)]
pub struct FixedMappings(pub Arc<MappingSet>);

impl MappingSource for FixedMappings {
    fn current(&self) -> Arc<MappingSet> {
        self.0.clone()
    }
}

/// The day whose mapping versions an application goes through: its `event_date` (the day of
/// the 異動 or of the request) when it has a readable one, today otherwise.
pub fn application_date(application: &Application) -> Date {
    application
        .fields
        .get("event_date")
        .and_then(|f| Date::parse_any(f.value.as_str()).ok())
        .unwrap_or_else(Date::today)
}

/// The mapping an application goes through, and the application as records of that mapping's
/// system: everything [`MappedSystem::deliver`] needs before the transport.
#[derive(Debug)]
pub struct Prepared {
    pub mapping: Arc<Mapping>,
    /// The encoded document: every record (one per subject when the mapping declares
    /// `records = "per_subject"`), with the CSV header and record separators the layout has.
    pub body: Vec<u8>,
    /// How many records the body holds.
    pub records: usize,
    /// Characters shrunk to fit the system's charset.
    pub report: Report,
}

/// Map `application` to `system`'s record through the interface its procedure names. Errors
/// are refusals naming the system, the application (by its idempotency key) and the item.
pub fn prepare(
    set: &MappingSet,
    system: &str,
    idempotency_key: &str,
    application: &Application,
) -> Result<Prepared, DeliveryError> {
    let rejected = |reason: String| DeliveryError::Rejected { system: system.to_owned(), reason };
    let unsupported = || DeliveryError::Unsupported {
        system: system.to_owned(),
        procedure: application.procedure.to_string(),
    };
    let def = set.catalog().get(&application.procedure).ok_or_else(unsupported)?;
    if def.target_system.as_deref() != Some(system) {
        return Err(unsupported());
    }
    let (mapped_system, interface) = def
        .interface_for(application)
        .map_err(|e| rejected(format!("application {idempotency_key}: {e}")))?
        .ok_or_else(|| {
            rejected(format!("procedure {} names no mapping in the catalog", application.procedure))
        })?;
    let on = application_date(application);
    let mapping = set
        .mapping(mapped_system, interface, on)
        .cloned()
        .ok_or_else(|| rejected(format!("no version of {mapped_system}/{interface} is in force on {on}")))?;
    if mapping.kind != CanonicalKind::Application {
        return Err(rejected(format!(
            "{} maps {} records, not applications",
            mapping.id,
            mapping.kind.as_str()
        )));
    }
    let refusal = |e: renkei_mappings::ApplyError, record: String| {
        rejected(format!("{}: {}", mapping.id, e.in_record(record)))
    };
    let canonical = CanonicalRecord::from_application(mapping.schema(), application);
    let per_subject = mapping
        .application_records(&canonical)
        .map_err(|e| refusal(e, format!("application {idempotency_key}")))?;
    let mut report = Report::default();
    let mut records = Vec::with_capacity(per_subject.len());
    for (n, canonical) in per_subject.iter().enumerate() {
        let mut record = mapping.new_system();
        let which = if per_subject.len() > 1 {
            format!("application {idempotency_key} (record {} of {})", n + 1, per_subject.len())
        } else {
            format!("application {idempotency_key}")
        };
        mapping.to_system(canonical, &mut record, &mut report).map_err(|e| refusal(e, which))?;
        records.push(record);
    }
    let mut body = Vec::new();
    encode_document(&mapping, &records, &mut body)
        .map_err(|e| refusal(e, format!("application {idempotency_key}")))?;
    for d in &report.degenerations {
        tracing::info!(
            system, mapping = %mapping.id, item = %mapping.items[d.item].label(), how = %d.degeneration.how,
            "a character was shrunk to fit the system's character set"
        );
    }
    Ok(Prepared { mapping, body, records: records.len(), report })
}

/// Delivers applications to one system through its mapping files and its transport.
#[derive(Debug, Clone)]
pub struct MappedSystem {
    name: String,
    channel: Channel,
    mappings: Arc<dyn MappingSource>,
}

impl MappedSystem {
    pub fn new(
        name: &str,
        transport: &TransportConfig,
        mappings: Arc<dyn MappingSource>,
    ) -> Result<MappedSystem, TransportError> {
        Ok(MappedSystem { name: name.to_owned(), channel: Channel::new(name, transport)?, mappings })
    }

    /// A system over an existing channel (adapters that also make other calls share it).
    pub fn with_channel(channel: Channel, mappings: Arc<dyn MappingSource>) -> MappedSystem {
        MappedSystem { name: channel.system().to_owned(), channel, mappings }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    pub fn mappings(&self) -> &Arc<dyn MappingSource> {
        &self.mappings
    }

    /// Map and submit; the system's answer as it came.
    pub async fn submit(
        &self,
        idempotency_key: &str,
        application: &Application,
    ) -> Result<(Arc<Mapping>, Answer), DeliveryError> {
        let set = self.mappings.current();
        let prepared = prepare(&set, &self.name, idempotency_key, application)?;
        let mapping = prepared.mapping;
        let answer = self
            .channel
            .submit(Submission {
                interface: &mapping.id.interface,
                idempotency_key,
                body: prepared.body,
                format: mapping.format,
                charset: mapping.charset,
            })
            .await?;
        Ok((mapping, answer))
    }
}

/// The `{"uketsuke_no": …}` a REST system answers a submission with.
#[derive(serde::Deserialize)]
struct Uketsuke {
    uketsuke_no: String,
}

#[async_trait]
impl CoreSystem for MappedSystem {
    fn name(&self) -> &str {
        &self.name
    }

    async fn deliver(
        &self,
        idempotency_key: &str,
        application: &Application,
    ) -> Result<Receipt, DeliveryError> {
        let (mapping, answer) = self.submit(idempotency_key, application).await?;
        match answer {
            Answer::Accepted { duplicate, reference: Some(reference), .. } => {
                Ok(Receipt { reference, duplicate })
            }
            Answer::Accepted { duplicate, reference: None, body } => {
                let operation = mapping.id.interface.as_str();
                let reference = match &self.channel {
                    Channel::Rest(rest) => rest.decode::<Uketsuke>(operation, &body)?.uketsuke_no,
                    // A file acknowledgement without a reference: the file's name is the reference.
                    Channel::File(_) => idempotency_key.to_owned(),
                };
                Ok(Receipt { reference, duplicate })
            }
            Answer::Refused { reason } => Err(DeliveryError::Rejected { system: self.name.clone(), reason }),
        }
    }

    async fn health(&self) -> Result<(), TransportError> {
        self.channel.health().await
    }
}

#[cfg(test)]
mod tests {
    use renkei_conformance::applications::keyed_in;
    use renkei_mappings::Value;

    use super::*;

    /// An application by 0000000019 about `subjects`.
    fn application(procedure: &str, subjects: &[&str], fields: &[(&str, &str)]) -> Application {
        let atena = |s: &&str| s.parse().unwrap();
        keyed_in(procedure, "0000000019".parse().unwrap(), subjects.iter().map(atena).collect(), None, fields)
    }

    #[test]
    fn a_household_of_four_joining_is_one_document_of_four_records_under_one_header() {
        let set = MappingSet::embedded().unwrap();
        let family = ["0000000019", "0000000027", "0000000035", "0000000043"];
        let app = application(
            "kokuho.idou",
            &family,
            &[("idou_kubun", "加入"), ("event_date", "2026-04-01"), ("reason", "move_in")],
        );
        let prepared = prepare(&set, "nhi", "k-1", &app).unwrap();
        assert_eq!(
            (prepared.mapping.id.to_string().as_str(), prepared.records),
            ("nhi/shikaku-shutoku@1", 4)
        );
        let header = prepared.mapping.csv_header().unwrap();
        let text = String::from_utf8(prepared.body.clone()).unwrap();
        assert_eq!(text.matches(header.as_str()).count(), 1);
        assert_eq!(text.lines().count(), 5, "{text}");
        let item = prepared.mapping.item_index("shutoku_atena_no").unwrap();
        let persons: Vec<String> = decode_records(&prepared.mapping, &prepared.body)
            .into_iter()
            .map(|r| r.unwrap().get(item).map(Value::to_text).unwrap())
            .collect();
        assert_eq!(persons, family);
    }

    #[test]
    fn a_certificate_request_for_two_persons_is_refused_naming_the_mapping() {
        let set = MappingSet::embedded().unwrap();
        let app = application(
            "zei.shoumei",
            &["0000000019", "0000000027"],
            &[("certificate_kind", "納税証明書"), ("fiscal_year", "2026"), ("event_date", "2026-06-01")],
        );
        let e = prepare(&set, "tax", "z-1", &app).unwrap_err();
        assert_eq!(
            e.to_string(),
            DeliveryError::Rejected {
                system: "tax".into(),
                reason: "tax/shoumei@1: record application z-1: subjects: tax/shoumei@1 takes one person per request (records = \"one_subject\") and the application names 2: submit one application per person".into(),
            }
            .to_string()
        );
    }
}
