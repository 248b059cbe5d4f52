//! The configured core systems, each with its adapter: the one place `[systems.*]` becomes
//! something that delivers.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::Context;
use renkei_adapter_core::{CoreSystem, TransportConfig};
use renkei_adapter_mapped::nhi::NhiSystem;
use renkei_adapter_mapped::tax::TaxSystem;
use renkei_adapter_mapped::{MappedSystem, MappingSource};
use renkei_adapter_resident_record::ResidentRecordClient;

use crate::config::{AdapterKind, SystemConfig};
use crate::mappings::LiveMappings;

/// The core systems by name (`[systems.<name>]`), each behind its adapter.
pub type Systems = HashMap<String, Arc<dyn CoreSystem>>;

/// Every configured core system with its adapter, built from `[systems.*]`. Adapters that map
/// records take the mapping set in force from `mappings` on each call.
pub fn build(
    configured: &BTreeMap<String, SystemConfig>,
    mappings: Arc<LiveMappings>,
) -> anyhow::Result<(Arc<ResidentRecordClient>, Systems)> {
    let mut systems: Systems = HashMap::new();
    let mut resident_record = None;
    let source: Arc<dyn MappingSource> = mappings;
    for (name, system) in configured {
        let context = || format!("[systems.{name}]");
        let transport = &system.transport;
        if system.feed_inbox.is_some() && !matches!(transport, TransportConfig::File(_)) {
            anyhow::bail!(
                "[systems.{name}].feed_inbox: {name} is reached over REST, and so is its change feed"
            );
        }
        let adapter: Arc<dyn CoreSystem> = match system.adapter_for(name) {
            AdapterKind::ResidentRecord => {
                let TransportConfig::Rest(rest) = transport else {
                    anyhow::bail!(
                        "[systems.{name}]: the resident-record adapter speaks REST (transport = \"rest\")"
                    );
                };
                let client = Arc::new(ResidentRecordClient::new(rest, source.clone()).with_context(context)?);
                resident_record = Some(client.clone());
                client
            }
            AdapterKind::Tax => {
                Arc::new(TaxSystem::new(name, transport, source.clone()).with_context(context)?)
            }
            AdapterKind::Nhi => Arc::new(
                NhiSystem::new(name, transport, system.lookup.as_ref(), source.clone())
                    .with_context(context)?,
            ),
            AdapterKind::Mapped => {
                Arc::new(MappedSystem::new(name, transport, source.clone()).with_context(context)?)
            }
        };
        systems.insert(name.clone(), adapter);
    }
    let resident_record = resident_record.context(
        "[systems.resident-record] is not configured: the gateway needs the resident record to look residents up \
         (set base_url, or pass --resident-record-url)",
    )?;
    Ok((resident_record, systems))
}
