//! The change-feed hub: the resident record's differences (異動分) fanned out to every system
//! that keeps a copy of who lives here (tax, national health insurance, welfare …).
//!
//! ```text
//!  resident record ──pull (GET changes?cursor=) or push (POST /hub/v1/changes)──┐
//!                                                                               ▼
//!                                              journal (feed_changes, in seq order)
//!                                                │            │            │
//!                                     cursor "nhi"   cursor "tax"   cursor "welfare"
//!                                         mapping → file    mapping → REST   …
//!                                  (each through the channel of the system it names, [systems.*])
//! ```
//!
//! # What is guaranteed
//!
//! - **Nothing lost.** A change enters the journal and moves the source's cursor in one
//!   transaction, and the journal refuses a gap in the sequence, so no subscriber can pass a
//!   change that has not arrived. A change leaves the journal only when every subscriber has
//!   taken it.
//! - **Nothing delivered twice.** Before a subscriber's batch is sent, its range
//!   `(position, pending_to]` is committed. The batch is sent under a key made of that range —
//!   the `Idempotency-Key` of a REST delivery, the name of a file — and only then does the
//!   cursor move. A crash between sending and moving the cursor sends the *same* range again
//!   under the *same* key after the restart: a REST system that honours idempotency keys records
//!   it once, and a file already published is not written again (a published file whose
//!   completion marker is missing gets its marker).
//! - **A bad record does not stop the others.** A change the subscriber's mapping cannot take
//!   (a value that does not fit its layout) is quarantined for that subscriber with the reason
//!   (`renkei hub status`), and the rest of the batch goes on. A delivery that fails is retried
//!   with backoff, never skipped.
//! - **One worker per cursor.** Each cursor is leased (`[hub].lease_ms`), so replicas sharing
//!   a PostgreSQL database split the work instead of doubling it.

mod push;
mod subscriber;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use renkei_adapter_resident_record::{Change, LookupError, ResidentRecordClient};
use renkei_mappings::MappingSet;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

pub use push::{PushIntake, PushOutcome};
pub use subscriber::Subscriber;

use crate::config::{HubConfig, HubMode, SystemConfig};
use crate::mappings::LiveMappings;
use crate::workers::backoff_ms;
use renkei_store::feed::{self, CursorRow, JournalEntry, QuarantineRow, SOURCE};
use renkei_store::{Db, StorageError, now_ms};

/// Why a step of the hub failed. Messages name the system and the record, never personal data.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("resident-record: change feed: {0}")]
    Source(#[from] LookupError),
    #[error("{subscriber}: {message}")]
    Delivery { subscriber: String, message: String },
    #[error("the change feed's record seq {seq}: {message}")]
    Record { seq: i64, message: String },
}

/// What one step of a subscriber did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A batch went: `delivered` records, `quarantined` left out, up to seq `through`.
    Delivered { delivered: usize, quarantined: usize, through: i64 },
    /// Nothing new to send.
    Idle,
    /// Another replica holds this cursor.
    NotOurs,
}

/// The hub of one gateway process.
#[derive(Debug)]
pub struct Hub {
    db: Db,
    mappings: Arc<LiveMappings>,
    config: HubConfig,
    subscribers: Vec<Subscriber>,
    /// This process, as holder of cursor leases.
    owner: String,
    /// The source's position, so subscribers wake as soon as changes arrive.
    arrived: watch::Sender<i64>,
}

impl Hub {
    /// Check the configuration against the systems (`[systems.*]`, whose channels the
    /// subscribers deliver through) and the mapping set in force, and build the subscribers.
    pub fn new(
        config: HubConfig,
        systems: &BTreeMap<String, SystemConfig>,
        db: Db,
        mappings: Arc<LiveMappings>,
    ) -> anyhow::Result<Hub> {
        config.validate().map_err(anyhow::Error::msg)?;
        let set = mappings.current();
        let subscribers = config
            .subscribers
            .iter()
            .map(|(name, c)| Subscriber::new(name, c, systems, &set))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let owner = format!("hub-{}", uuid::Uuid::new_v4().simple());
        Ok(Hub { db, mappings, config, subscribers, owner, arrived: watch::channel(0).0 })
    }

    pub fn subscribers(&self) -> &[Subscriber] {
        &self.subscribers
    }

    /// What takes pushed changes (push mode).
    pub fn push_intake(self: &Arc<Self>, token: String) -> PushIntake {
        PushIntake::new(self.clone(), token)
    }

    /// Pull (in pull mode) and deliver to every subscriber until `shutdown` turns true.
    pub async fn run(self: Arc<Self>, source: Arc<ResidentRecordClient>, shutdown: watch::Receiver<bool>) {
        let mut tasks = JoinSet::new();
        let (hub, stop) = (self.clone(), shutdown.clone());
        match self.config.mode {
            HubMode::Pull => tasks.spawn(async move { hub.pull_loop(&source, stop).await }),
            // Pushed changes arrive through the HTTP listener; only the pruning runs here.
            HubMode::Push => tasks.spawn(async move { hub.prune_loop(stop).await }),
        };
        for i in 0..self.subscribers.len() {
            let (hub, stop) = (self.clone(), shutdown.clone());
            tasks.spawn(async move { hub.subscriber_loop(i, stop).await });
        }
        info!(
            mode = ?self.config.mode,
            subscribers = self.subscribers.len(),
            "change-feed hub running"
        );
        while tasks.join_next().await.is_some() {}
    }

    async fn pull_loop(&self, source: &ResidentRecordClient, mut shutdown: watch::Receiver<bool>) {
        let interval = Duration::from_millis(self.config.poll_interval_ms);
        loop {
            match self.pull_once(source).await {
                Ok(0) => {}
                Ok(n) => info!(changes = n, "took changes from the resident record"),
                Err(e) => warn!(error = %e, "pulling the change feed failed; trying again in one interval"),
            }
            self.prune().await;
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.wait_for(|s| *s) => {}
            }
            if *shutdown.borrow() {
                self.release(SOURCE).await;
                return;
            }
        }
    }

    async fn prune_loop(&self, mut shutdown: watch::Receiver<bool>) {
        let interval = Duration::from_millis(self.config.poll_interval_ms);
        while !*shutdown.borrow() {
            self.prune().await;
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.wait_for(|s| *s) => {}
            }
        }
    }

    /// Take every change the resident record has after the source's cursor into the journal;
    /// returns how many were new (0 also when another replica holds the source).
    pub async fn pull_once(&self, source: &ResidentRecordClient) -> Result<usize, HubError> {
        let Some(row) = self.lease(SOURCE).await? else {
            return Ok(0);
        };
        let mut position = row.position;
        let mut taken = 0;
        loop {
            let cursor = u64::try_from(position).unwrap_or(0);
            let page = source.changes(cursor, self.config.batch).await?;
            let Some(last) = page.changes.last() else { break };
            let last = i64::try_from(last.seq).unwrap_or(i64::MAX);
            let set = self.mappings.current();
            let entries: Vec<JournalEntry> = page.changes.iter().map(|c| journal_entry(&set, c)).collect();
            let full_page = page.changes.len() >= self.config.batch as usize;
            taken += self.append(entries).await?.0;
            position = last;
            if !full_page {
                break;
            }
        }
        Ok(taken)
    }

    /// Append to the journal as holder of the source's lease, and wake the subscribers. Returns
    /// how many entries were new and the journal's end.
    async fn append(&self, entries: Vec<JournalEntry>) -> Result<(usize, i64), HubError> {
        let owner = self.owner.clone();
        let names: Vec<String> = self.subscribers.iter().map(|s| s.name().to_owned()).collect();
        let keys = self.db.keys().clone();
        let (added, position) =
            self.db.write(move |c| feed::append(c, &keys, &owner, &names, &entries)).await?.ok_or_else(
                || HubError::Delivery {
                    subscriber: SOURCE.into(),
                    message: "the source's lease went to another replica".into(),
                },
            )?;
        if added > 0 {
            self.arrived.send_replace(position);
        }
        Ok((added, position))
    }

    async fn subscriber_loop(&self, index: usize, mut shutdown: watch::Receiver<bool>) {
        let subscriber = &self.subscribers[index];
        let mut arrived = self.arrived.subscribe();
        let lease = Duration::from_millis(self.config.lease_ms.max(2));
        // Replicas sharing a database append without waking this one: look now and then anyway.
        let idle = Duration::from_millis(self.config.poll_interval_ms.min(1_000));
        loop {
            if *shutdown.borrow() {
                break;
            }
            let wait = match self.step(subscriber).await {
                Ok(Step::Delivered { delivered, quarantined, through }) => {
                    debug!(subscriber = subscriber.name(), delivered, quarantined, through, "delivered");
                    continue;
                }
                Ok(Step::Idle) => {
                    tokio::select! {
                        _ = arrived.changed() => {}
                        _ = tokio::time::sleep(idle) => {}
                        _ = shutdown.wait_for(|s| *s) => {}
                    }
                    continue;
                }
                Ok(Step::NotOurs) => lease / 2,
                Err(e) => {
                    let attempts = self.record_failure(subscriber.name(), &e).await;
                    let backoff =
                        backoff_ms(self.config.initial_backoff_ms, self.config.max_backoff_ms, attempts);
                    warn!(subscriber = subscriber.name(), attempts, error = %e, retry_in_ms = backoff, "delivery failed");
                    Duration::from_millis(backoff)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|s| *s) => {}
            }
        }
        self.release(subscriber.name()).await;
    }

    /// One step of one subscriber: fix the next batch (or take up the one fixed before a crash),
    /// map it, send it, move the cursor.
    pub async fn step(&self, subscriber: &Subscriber) -> Result<Step, HubError> {
        let Some(row) = self.lease(subscriber.name()).await? else {
            return Ok(Step::NotOurs);
        };
        let from = row.position;
        let to = match row.pending_to {
            Some(to) => to,
            None => {
                let limit = i64::from(self.config.batch);
                let Some(to) = self.db.read(move |c| feed::batch_end(c, from, limit)).await? else {
                    return Ok(Step::Idle);
                };
                if !self.set_position(subscriber.name(), from, Some(to)).await? {
                    return Ok(Step::NotOurs);
                }
                to
            }
        };
        let keys = self.db.keys().clone();
        let batch = self.db.read(move |c| feed::entries(c, &keys, from, to, i64::MAX)).await?;
        let set = self.mappings.current();
        let encoded = subscriber.encode(&set, &batch);
        if !encoded.quarantined.is_empty() {
            for q in &encoded.quarantined {
                warn!(subscriber = subscriber.name(), seq = q.seq, reason = %q.error, "change quarantined");
            }
            let rows = encoded.quarantined.clone();
            self.db.write(move |c| feed::quarantine(c, &rows)).await?;
        }
        subscriber.send(from, to, &encoded).await?;
        if !self.set_position(subscriber.name(), to, None).await? {
            // Sent, but the lease went to another replica meanwhile: it sends the same range
            // under the same key, which the system takes once.
            return Ok(Step::NotOurs);
        }
        Ok(Step::Delivered {
            delivered: encoded.records(),
            quarantined: encoded.quarantined.len(),
            through: to,
        })
    }

    async fn lease(&self, name: &str) -> Result<Option<CursorRow>, StorageError> {
        let (name, owner, lease_ms) = (name.to_owned(), self.owner.clone(), self.config.lease_ms as i64);
        self.db
            .write(move |c| {
                // A subscriber added to a running feed starts at the source's position: what came
                // before reaches it with its initial extract, not through the feed.
                let start = feed::source_position(c)?;
                feed::lease(c, &name, &owner, lease_ms, start)
            })
            .await
    }

    async fn set_position(
        &self,
        name: &str,
        position: i64,
        pending_to: Option<i64>,
    ) -> Result<bool, StorageError> {
        let (name, owner) = (name.to_owned(), self.owner.clone());
        self.db.write(move |c| feed::set_position(c, &name, &owner, position, pending_to)).await
    }

    async fn record_failure(&self, name: &str, error: &HubError) -> i32 {
        let (name, owner, message) = (name.to_owned(), self.owner.clone(), error.to_string());
        self.db.write(move |c| feed::record_failure(c, &name, &owner, &message)).await.unwrap_or(1)
    }

    async fn release(&self, name: &str) {
        let (cursor, owner) = (name.to_owned(), self.owner.clone());
        if let Err(e) = self.db.write(move |c| feed::release(c, &cursor, &owner)).await {
            warn!(cursor = %name, error = %e, "could not release the cursor's lease; it runs out by itself");
        }
    }

    /// Drop what every subscriber has taken.
    async fn prune(&self) {
        let names: Vec<String> = self.subscribers.iter().map(|s| s.name().to_owned()).collect();
        match self.db.write(move |c| feed::prune(c, &names)).await {
            Ok(0) => {}
            Ok(n) => debug!(pruned = n, "journal entries every subscriber has taken were dropped"),
            Err(e) => warn!(error = %e, "pruning the change journal failed"),
        }
    }
}

/// The journal's form of a change pulled from the resident record. The 異動事由 is kept in
/// renkei's code (the API sends its label); an unknown one is kept as sent, so that each
/// subscriber's mapping refuses it by name instead of the feed losing the change.
fn journal_entry(set: &MappingSet, change: &Change) -> JournalEntry {
    let reason = match set.code_table("idou-jiyu") {
        Some(table) => match table.by_label(&change.reason).or_else(|| table.by_canonical(&change.reason)) {
            Some(entry) => entry.canonical.clone(),
            None => {
                warn!(
                    system = "resident-record",
                    seq = change.seq,
                    atena = %change.resident.atena_number,
                    item = "jiyu",
                    "unknown 異動事由; kept as sent"
                );
                change.reason.clone()
            }
        },
        None => change.reason.clone(),
    };
    JournalEntry {
        seq: i64::try_from(change.seq).unwrap_or(i64::MAX),
        reason,
        change_date: change.date.to_yyyymmdd(),
        resident: journal_resident(&change.resident),
        received_at_ms: now_ms(),
    }
}

/// The resident as the journal keeps it: without the individual number, which renkei does not
/// store (no subscriber layout carries it from the feed).
fn journal_resident(resident: &renkei_model::Resident) -> String {
    let resident = renkei_model::Resident { individual_number: None, ..resident.clone() };
    serde_json::to_string(&resident).expect("a resident serializes")
}

/// The cursors and quarantine as operators see them (`renkei hub status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub cursors: Vec<CursorRow>,
    pub quarantined: Vec<QuarantineRow>,
}

/// Read the hub's state from the database.
pub async fn status(db: &Db) -> Result<Status, StorageError> {
    db.read(|c| {
        let cursors = feed::cursors(c)?;
        let mut quarantined = Vec::new();
        for row in &cursors {
            quarantined.extend(feed::quarantined(c, &row.name)?);
        }
        Ok(Status { cursors, quarantined })
    })
    .await
}
