//! One subscriber of the change feed: its mapping, and the channel of the system it names.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use renkei_adapter_mapped::{Channel, FeedBatch};
use renkei_mappings::{CanonicalKind, CanonicalRecord, Format, InterfaceRef, Mapping, MappingSet, Report};
use renkei_model::{Date, Resident};

use super::HubError;
use crate::config::{SubscriberConfig, SystemConfig};
use renkei_store::feed::{JournalEntry, QuarantineRow};
use renkei_store::now_ms;

/// A system that takes the resident record's changes.
#[derive(Debug)]
pub struct Subscriber {
    name: String,
    mapping: InterfaceRef,
    channel: Channel,
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
    /// Build a subscriber over the channel of the system it names (`systems`), checking its
    /// mapping against the set in force today.
    pub fn new(
        name: &str,
        config: &SubscriberConfig,
        systems: &BTreeMap<String, SystemConfig>,
        set: &MappingSet,
    ) -> anyhow::Result<Subscriber> {
        let key = format!("[hub.subscribers.{name}]");
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            bail!(
                "{key}: a subscriber's name is letters, digits, '-' and '_' (it is part of keys and file names)"
            );
        }
        let system = systems.get(&config.system).ok_or_else(|| {
            anyhow!(
                "{key}.system: no system {:?} is configured: the subscriber delivers through [systems.{}]",
                config.system,
                config.system
            )
        })?;
        let mapping = &config.mapping;
        let in_force = set
            .resolve(mapping, Date::today())
            .ok_or_else(|| anyhow!("{key}.mapping: no mapping {mapping} is in force today"))?;
        if in_force.kind != CanonicalKind::Resident {
            bail!(
                "{key}.mapping: {} maps {} records; the change feed carries residents",
                in_force.id,
                in_force.kind.as_str()
            );
        }
        let mut channel =
            Channel::new(&config.system, &system.transport).map_err(|e| anyhow!("{key}.system: {e}"))?;
        if let Some(dir) = &system.feed_inbox {
            channel = channel.with_feed_inbox(dir.clone()).map_err(|e| anyhow!("{key}.system: {e}"))?;
        }
        match channel.feed_inbox() {
            None if in_force.format != Format::Json => bail!(
                "{key}.mapping: {} is not JSON; a subscriber over REST ({}) needs a JSON layout",
                in_force.id,
                config.system
            ),
            Some(dir) if !dir.is_dir() => bail!(
                "{key}.system: the change feed's directory of [systems.{}] ({}) is not a directory",
                config.system,
                dir.display()
            ),
            _ => {}
        }
        Ok(Subscriber { name: name.to_owned(), mapping: mapping.clone(), channel })
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
        let mapping = set.resolve(&self.mapping, date).ok_or_else(|| {
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
            let batch = FeedBatch {
                subscriber: &self.name,
                first_seq: from + 1,
                last_seq: to,
                part: several.then_some(i + 1),
                mapping,
                records,
            };
            self.channel
                .send_feed(batch)
                .await
                .map_err(|e| HubError::Delivery { subscriber: self.name.clone(), message: e.to_string() })?;
        }
        Ok(())
    }
}
