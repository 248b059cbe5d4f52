//! One subscriber of the change feed: its mapping and how its batches travel (REST or file).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail};
use renkei_adapter_core::RestClient;
use renkei_adapter_core::file::{AtomicFile, FileError, Marker};
use renkei_mappings::{CanonicalKind, CanonicalRecord, Format, Mapping, MappingSet, Report};
use renkei_model::{Date, Resident};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::value::RawValue;

use super::HubError;
use crate::config::SubscriberConfig;
use crate::storage::feed::{JournalEntry, QuarantineRow};
use crate::storage::now_ms;

/// Which mapping a subscriber's records go through.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MappingChoice {
    /// `system/interface@version`: always this one.
    Exact(String),
    /// `system/interface`: the version in force on each change's date, so a law revision's
    /// layout takes over on its effective date.
    InForce { system: String, interface: String },
}

impl MappingChoice {
    fn parse(s: &str) -> anyhow::Result<MappingChoice> {
        if s.contains('@') {
            return Ok(MappingChoice::Exact(s.to_owned()));
        }
        match s.split_once('/') {
            Some((system, interface)) if !system.is_empty() && !interface.is_empty() => {
                Ok(MappingChoice::InForce { system: system.to_owned(), interface: interface.to_owned() })
            }
            _ => bail!("{s:?} is neither system/interface nor system/interface@version"),
        }
    }

    fn resolve<'a>(&self, set: &'a MappingSet, on: Date) -> Option<&'a Arc<Mapping>> {
        match self {
            MappingChoice::Exact(id) => set.mapping_by_id(id),
            MappingChoice::InForce { system, interface } => set.mapping(system, interface, on),
        }
    }
}

#[derive(Debug)]
enum Transport {
    Rest { client: RestClient, path: String },
    File { inbox: PathBuf },
}

/// A system that takes the resident record's changes.
#[derive(Debug)]
pub struct Subscriber {
    name: String,
    mapping: MappingChoice,
    transport: Transport,
}

/// A batch mapped for one subscriber: runs of consecutive records that share a mapping (one run
/// unless a new version takes effect inside the batch), and what was left out.
#[derive(Debug, Default)]
pub struct Encoded {
    pub parts: Vec<(Arc<Mapping>, Vec<Vec<u8>>)>,
    pub quarantined: Vec<QuarantineRow>,
}

impl Encoded {
    pub fn records(&self) -> usize {
        self.parts.iter().map(|(_, r)| r.len()).sum()
    }
}

impl Subscriber {
    /// Build a subscriber, checking its mapping against the set in force today.
    pub fn new(name: &str, config: &SubscriberConfig, set: &MappingSet) -> anyhow::Result<Subscriber> {
        let key = format!("[hub.subscribers.{name}]");
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            bail!(
                "{key}: a subscriber's name is letters, digits, '-' and '_' (it is part of keys and file names)"
            );
        }
        let mapping = MappingChoice::parse(&config.mapping).map_err(|e| anyhow!("{key}.mapping: {e}"))?;
        let in_force = mapping
            .resolve(set, Date::today())
            .ok_or_else(|| anyhow!("{key}.mapping: no mapping {} is in force today", config.mapping))?;
        if in_force.kind != CanonicalKind::Resident {
            bail!(
                "{key}.mapping: {} maps {} records; the change feed carries residents",
                in_force.id,
                in_force.kind.as_str()
            );
        }
        let transport = match (&config.rest, &config.inbox) {
            (Some(rest), None) => {
                if in_force.format != Format::Json {
                    bail!(
                        "{key}.mapping: {} is not JSON; a REST subscriber needs a JSON layout",
                        in_force.id
                    );
                }
                let client = RestClient::new(name, rest).map_err(|e| anyhow!("{key}.rest: {e}"))?;
                Transport::Rest { client, path: config.path.clone() }
            }
            (None, Some(inbox)) => {
                if !inbox.is_dir() {
                    bail!("{key}.inbox: {} is not a directory", inbox.display());
                }
                Transport::File { inbox: inbox.clone() }
            }
            _ => bail!("{key}: needs exactly one of rest and inbox"),
        };
        Ok(Subscriber { name: name.to_owned(), mapping, transport })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Map a batch. A change that does not map is quarantined with the record and item, and the
    /// rest go on.
    pub fn encode(&self, set: &MappingSet, batch: &[JournalEntry]) -> Encoded {
        let mut encoded = Encoded::default();
        for entry in batch {
            let mapped = self.encode_one(set, entry);
            match mapped {
                Ok((mapping, bytes)) => match encoded.parts.last_mut() {
                    Some((m, records)) if Arc::ptr_eq(m, &mapping) => records.push(bytes),
                    _ => encoded.parts.push((mapping, vec![bytes])),
                },
                Err(error) => encoded.quarantined.push(QuarantineRow {
                    subscriber: self.name.clone(),
                    seq: entry.seq,
                    error,
                    created_at_ms: now_ms(),
                }),
            }
        }
        encoded
    }

    fn encode_one(&self, set: &MappingSet, entry: &JournalEntry) -> Result<(Arc<Mapping>, Vec<u8>), String> {
        let date =
            Date::parse_yyyymmdd(&entry.change_date).map_err(|e| format!("change_date: {}", e.rule))?;
        let resident: Resident = serde_json::from_str(&entry.resident)
            .map_err(|e| format!("the journal's record is unreadable: {e}"))?;
        let mapping = self.mapping.resolve(set, date).ok_or_else(|| {
            format!("no version of the subscriber's mapping is in force on {}", date.to_yyyymmdd())
        })?;
        let mut canonical = CanonicalRecord::from_resident(mapping.schema(), &resident);
        canonical.set_change(&entry.reason, date);
        let (mut system, mut report, mut bytes) = (mapping.new_system(), Report::default(), Vec::new());
        mapping
            .to_system(&canonical, &mut system, &mut report)
            .and_then(|()| mapping.encode(&system, &mut bytes))
            .map_err(|e| format!("{} {}", mapping.id, e.in_record(&resident.atena_number)))?;
        Ok((mapping.clone(), bytes))
    }

    /// Send the batch `(from, to]`. The key (and file name) is made of the range, so a batch
    /// sent again after a crash is recognised as the same one.
    pub async fn send(&self, from: i64, to: i64, encoded: &Encoded) -> Result<(), HubError> {
        let several = encoded.parts.len() > 1;
        for (i, (mapping, records)) in encoded.parts.iter().enumerate() {
            let part = if several { format!(".{}", i + 1) } else { String::new() };
            let range = format!("{:010}-{:010}{part}", from + 1, to);
            match &self.transport {
                Transport::Rest { client, path } => {
                    let key = format!("{}-{range}", self.name);
                    self.post(client, path, &key, from + 1, to, records).await?;
                }
                Transport::File { inbox } => {
                    let name = format!("{}-{range}.{}", mapping.id.interface, extension(mapping.format));
                    let (inbox, mapping, records) = (inbox.clone(), mapping.clone(), records.clone());
                    tokio::task::spawn_blocking(move || publish(&inbox, &name, &mapping, &records))
                        .await
                        .map_err(|e| self.error(format!("file task failed: {e}")))?
                        .map_err(|e| self.error(e.to_string()))?;
                }
            }
        }
        Ok(())
    }

    async fn post(
        &self,
        client: &RestClient,
        path: &str,
        key: &str,
        first: i64,
        last: i64,
        records: &[Vec<u8>],
    ) -> Result<(), HubError> {
        // The records are already JSON in the subscriber's layout: splice them in as they are.
        let mut body = format!(r#"{{"batch":"{key}","first_seq":{first},"last_seq":{last},"records":["#);
        for (i, record) in records.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(std::str::from_utf8(record).map_err(|e| self.error(e.to_string()))?);
        }
        body.push_str("]}");
        let body = RawValue::from_string(body).map_err(|e| self.error(e.to_string()))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            "Idempotency-Key",
            HeaderValue::from_str(key)
                .map_err(|_| self.error("the batch key is not a header value".into()))?,
        );
        let response = client
            .send("changes", Method::POST, path, headers, Some(&body))
            .await
            .map_err(|e| self.error(e.to_string()))?;
        if response.status.is_success() {
            Ok(())
        } else {
            Err(self.error(client.status_error("changes", &response).to_string()))
        }
    }

    fn error(&self, message: String) -> HubError {
        HubError::Delivery { subscriber: self.name.clone(), message }
    }
}

fn extension(format: Format) -> &'static str {
    match format {
        Format::Csv => "csv",
        Format::Json => "jsonl",
        Format::Fixed => "dat",
        // One record element per line: an XML layout's records, not a whole document.
        Format::Xml => "xml",
    }
}

/// Publish one file of records into `inbox`, unless it is there already: after a crash the
/// same batch comes again under the same name, and a file published before the crash is taken as
/// delivered (its completion marker is written if the crash came before it).
fn publish(inbox: &Path, name: &str, mapping: &Mapping, records: &[Vec<u8>]) -> Result<(), FileError> {
    if Marker::Done.path(inbox, name).exists() {
        return Ok(());
    }
    let separator = mapping.file_separator();
    let data = inbox.join(name);
    if data.exists() {
        let bytes = std::fs::metadata(&data)
            .map_err(|source| FileError::Io { path: data.clone(), operation: "stat", source })?
            .len();
        Marker::Done.write(
            inbox,
            name,
            &[("records", records.len().to_string()), ("bytes", bytes.to_string())],
        )?;
        return Ok(());
    }
    let mut file = AtomicFile::create(inbox, name)?;
    if let Some(header) = mapping.file_header() {
        file.append(&header)?;
    }
    for record in records {
        file.append(record)?;
        file.append(separator)?;
    }
    file.publish(records.len() as u64)?;
    Ok(())
}
