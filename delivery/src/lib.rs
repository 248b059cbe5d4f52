//! renkei's delivery side: what takes an accepted application, or a change in the resident
//! record, to the core systems.
//!
//! - [`systems`] — `[systems.*]` built into adapters, one per configured core system;
//! - [`workers`] — the outbox's delivery workers, a few per system: due deliveries to their
//!   system, retried with backoff, refusals and dead letters kept for operators;
//! - [`breaker`] — a circuit breaker per system, so a failing one pauses instead of being hammered;
//! - [`hub`] — the change-feed hub: the resident record's differences journaled and fanned out
//!   to subscribers through their systems' channels, a cursor each;
//! - [`mappings`] — the mapping set in force, reloaded when edited files pass the check;
//! - [`events`] — what happened to a session (a delivery's outcome, a card at its counter), in
//!   renkei's own terms; the gRPC layer turns them into `renkei.v1` messages;
//! - [`trace`] — the W3C trace context carried from the call that committed an application to
//!   each attempt to deliver it;
//! - [`config`] — the `[systems]`, `[delivery]` and `[hub]` sections of the configuration.
//!
//! The database is renkei-store's; nothing here speaks gRPC.
//!
//! ```no_run
//! # async fn run(db: renkei_store::Db) -> anyhow::Result<()> {
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use renkei_delivery::config::{DeliveryConfig, SystemConfig};
//! use renkei_delivery::{events::SessionEvents, mappings::LiveMappings, systems, workers::Deliverer};
//!
//! let mappings = Arc::new(LiveMappings::load(None)?);
//! let configured = BTreeMap::from([(
//!     "resident-record".to_owned(),
//!     SystemConfig::rest("http://127.0.0.1:8081/api/v1"),
//! )]);
//! let (_resident_record, systems) = systems::build(&configured, mappings)?;
//! let config = DeliveryConfig::default();
//! let breakers = renkei_delivery::breaker::Breakers::new(
//!     config.breaker_failures,
//!     std::time::Duration::from_millis(config.breaker_open_ms),
//! );
//! let deliverer = Deliverer {
//!     db,
//!     systems: Arc::new(systems),
//!     events: SessionEvents::default(),
//!     config,
//!     wakeup: Default::default(),
//!     breakers: Arc::new(breakers),
//! };
//! let (_stop, stopped) = tokio::sync::watch::channel(false);
//! deliverer.run(stopped).await;
//! # Ok(())
//! # }
//! ```

pub mod breaker;
pub mod config;
pub mod events;
pub mod hub;
pub mod mappings;
pub mod systems;
pub mod trace;
pub mod workers;
