//! The delivery side's configuration: the core systems (`[systems.*]`), the delivery workers
//! (`[delivery]`) and the change-feed hub (`[hub]`). The gateway's configuration file holds these
//! sections beside its own; its documented example (renkei-gateway's `config`) shows them all.

use std::collections::BTreeMap;
use std::path::PathBuf;

use renkei_adapter_core::{RestConfig, TransportConfig};
use renkei_mappings::InterfaceRef;
use serde::{Deserialize, Serialize};

/// One core system: its adapter and how it is reached (`transport = "rest" | "file"` with the
/// settings of [`TransportConfig`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SystemConfig {
    /// Which adapter; by default the one named like the system (`resident-record`, `tax`, `nhi`),
    /// and `mapped` — applications through the system's mapping files alone — for any other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterKind>,
    /// NHI member lookups over REST, when the transport is file transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<RestConfig>,
    /// File transfer: where the change feed's files go when the system takes them apart from
    /// its inbox (a subscriber of `[hub]` naming this system).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_inbox: Option<PathBuf>,
    #[serde(flatten)]
    pub transport: TransportConfig,
}

impl SystemConfig {
    /// A REST system at `base_url`, with the default adapter for its name.
    pub fn rest(base_url: impl Into<String>) -> SystemConfig {
        SystemConfig {
            adapter: None,
            lookup: None,
            feed_inbox: None,
            transport: TransportConfig::Rest(RestConfig::new(base_url)),
        }
    }

    /// The adapter for a system called `name`.
    pub fn adapter_for(&self, name: &str) -> AdapterKind {
        self.adapter.unwrap_or(match name {
            "resident-record" => AdapterKind::ResidentRecord,
            "tax" => AdapterKind::Tax,
            "nhi" => AdapterKind::Nhi,
            _ => AdapterKind::Mapped,
        })
    }
}

/// The adapters this build has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdapterKind {
    /// Lookups, search, the change feed, 住民異動届 (REST only).
    ResidentRecord,
    /// Certificate issuance (REST only).
    Tax,
    /// Member lookup and 資格取得・喪失・記載事項変更.
    Nhi,
    /// Applications through the system's mapping files (welfare and any other system).
    Mapped,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Delivery workers per core system in this process: a slow or hung system holds only its
    /// own workers.
    pub workers: usize,
    /// How often an idle worker looks for due deliveries (new submissions wake it at once).
    pub poll_interval_ms: u64,
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time up to `max_backoff_ms`.
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// How long a claimed delivery stays with its worker before another may take it over.
    pub lease_ms: u64,
    /// Deliveries claimed per round trip to the database.
    pub batch: u32,
    /// Transport failures in a row after which a system's circuit opens (its workers pause).
    pub breaker_failures: u32,
    /// How long an open circuit waits before one probe is sent.
    pub breaker_open_ms: u64,
}

impl DeliveryConfig {
    /// Every system's wait for an answer must be shorter than the lease: a delivery still waiting
    /// when its lease runs out would be taken, and sent again, by another worker. (The lease is
    /// also renewed while an attempt runs; this keeps a renewal that fails from costing a resend.)
    pub fn check_timeouts(&self, systems: &BTreeMap<String, SystemConfig>) -> Result<(), String> {
        for (name, system) in systems {
            let (key, wait) = match &system.transport {
                TransportConfig::Rest(rest) => ("timeout_ms", rest.timeout_ms),
                TransportConfig::File(file) => ("ack_timeout_ms", file.ack_timeout_ms),
            };
            if wait >= self.lease_ms {
                return Err(format!(
                    "[systems.{name}].{key} = {wait} is not shorter than [delivery].lease_ms = {}: a delivery \
                     still waiting when its lease runs out is sent again by another worker",
                    self.lease_ms
                ));
            }
        }
        Ok(())
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            poll_interval_ms: 1_000,
            max_attempts: 8,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 300_000,
            lease_ms: 60_000,
            batch: 16,
            breaker_failures: 5,
            breaker_open_ms: 30_000,
        }
    }
}

/// The change-feed hub: the resident record's differences (異動分), taken by pull or push, mapped
/// and delivered to every subscriber with a cursor each. No subscribers, no hub.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubConfig {
    pub mode: HubMode,
    /// Pull mode: how often the resident record is asked for changes (1..=600000; the standard
    /// wants differences at least every 10 minutes).
    pub poll_interval_ms: u64,
    /// Changes per page pulled and at most per delivery (1..=1000).
    pub batch: u32,
    /// Push mode: a file holding the bearer token the resident record must send. Required then.
    pub push_token_file: Option<PathBuf>,
    /// How long a replica keeps a cursor to itself before another may take it over.
    pub lease_ms: u64,
    /// Backoff after a failed delivery; doubles per attempt up to `max_backoff_ms`. A batch is
    /// never skipped: it is retried until it goes (the error shows in `renkei hub status`).
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Subscribers by name.
    pub subscribers: BTreeMap<String, SubscriberConfig>,
}

/// Where the change feed comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HubMode {
    /// Ask `[systems.resident-record]` every `poll_interval_ms`.
    Pull,
    /// Take what the resident record POSTs to the HTTP listener at `/hub/v1/changes`.
    Push,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            mode: HubMode::Pull,
            poll_interval_ms: 60_000,
            batch: 100,
            push_token_file: None,
            lease_ms: 30_000,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 300_000,
            subscribers: BTreeMap::new(),
        }
    }
}

/// One system that takes the resident record's changes, through one mapping, over the system's
/// own transport (`[systems.<system>]`: its base URL and certificates, or its directories).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriberConfig {
    /// The configured system the changes go to.
    pub system: String,
    /// `system/interface` (the version in force on each change's date) or an exact
    /// `system/interface@version`. The mapping's canonical kind must be `resident`; over REST
    /// its layout must be JSON, and the batch is posted to the interface's name.
    pub mapping: InterfaceRef,
}

impl HubConfig {
    /// Checks what serde cannot; messages name the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.poll_interval_ms == 0 || self.poll_interval_ms > 600_000 {
            return Err(format!("[hub].poll_interval_ms: {} is outside 1..=600000", self.poll_interval_ms));
        }
        if !(1..=1000).contains(&self.batch) {
            return Err(format!("[hub].batch: {} is outside 1..=1000", self.batch));
        }
        if self.mode == HubMode::Push && self.push_token_file.is_none() && !self.subscribers.is_empty() {
            return Err("[hub].push_token_file: push mode needs the token the resident record sends".into());
        }
        for (name, s) in &self.subscribers {
            let key = format!("[hub.subscribers.{name}]");
            if name == renkei_store::feed::SOURCE {
                return Err(format!("{key}: {name:?} is reserved for the feed's source"));
            }
            // Two subscribers sending one interface to one system would write the same files.
            if let Some((other, _)) = self
                .subscribers
                .iter()
                .find(|(n, o)| *n < name && o.system == s.system && o.mapping == s.mapping)
            {
                return Err(format!(
                    "{key}: sends {} to {} as [hub.subscribers.{other}] does",
                    s.mapping, s.system
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_system_that_may_wait_longer_than_the_lease_is_refused_by_name() {
        let mut systems = BTreeMap::from([("tax".to_owned(), SystemConfig::rest("http://127.0.0.1:1/"))]);
        let delivery = DeliveryConfig { lease_ms: 60_000, ..DeliveryConfig::default() };
        assert_eq!(delivery.check_timeouts(&systems), Ok(()));
        if let TransportConfig::Rest(rest) = &mut systems.get_mut("tax").unwrap().transport {
            rest.timeout_ms = 60_000;
        }
        let e = delivery.check_timeouts(&systems).unwrap_err();
        assert!(
            e.starts_with("[systems.tax].timeout_ms = 60000 is not shorter than [delivery].lease_ms"),
            "{e}"
        );
    }
}
