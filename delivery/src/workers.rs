//! Delivery workers: take due deliveries from the outbox, hand each to its core system's
//! adapter with the application id as idempotency key, and record the outcome.
//!
//! Retryable failures come back with exponential backoff (with jitter) until `max_attempts`;
//! refusals and exhausted retries are kept for operators (`AdminService.ListDeliveries`,
//! `RetryDelivery`). Each outcome is published to the session's watchers.

use std::sync::Arc;
use std::time::Duration;

use renkei_adapter_core::DeliveryError;
use renkei_model::Application;
use tokio::sync::{Notify, watch};
use tracing::{Instrument, debug, info, warn};

use crate::breaker::{Breakers, CircuitState};
use crate::config::DeliveryConfig;
use crate::events::{SessionChange, SessionEvent, SessionEvents};
use renkei_store::deliveries::{self, ClaimedDelivery, DeliveryOutcome, Targets};
use renkei_store::{Db, StorageError, now_ms};

use crate::systems::Systems;

/// Which deliveries a worker takes.
#[derive(Debug, Clone)]
enum Lane {
    System(String),
    /// Deliveries to a system not among these.
    Unconfigured(Vec<String>),
}

/// What the workers share.
#[derive(Debug, Clone)]
pub struct Deliverer {
    pub db: Db,
    pub systems: Arc<Systems>,
    pub events: SessionEvents,
    pub config: DeliveryConfig,
    /// Poked when new deliveries are committed, so workers need not wait for the next poll.
    pub wakeup: Arc<Notify>,
    /// Each system's circuit.
    pub breakers: Arc<Breakers>,
}

impl Deliverer {
    /// Run `config.workers` workers until `shutdown` turns true. A delivery in progress when
    /// shutdown comes is finished first.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        if self.db.is_sqlite() {
            match self.db.write(deliveries::release_all_leases).await {
                Ok(0) => {}
                Ok(n) => info!(released = n, "deliveries left in flight by the previous run are due again"),
                Err(e) => warn!(error = %e, "could not release leases left by the previous run"),
            }
        }
        // `workers` per system, and one for deliveries to a system not configured here (they are
        // dead-lettered with the reason).
        let mut systems: Vec<String> = self.systems.keys().cloned().collect();
        systems.sort();
        let mut lanes: Vec<Lane> = systems
            .iter()
            .flat_map(|s| (0..self.config.workers.max(1)).map(|_| Lane::System(s.clone())))
            .collect();
        lanes.push(Lane::Unconfigured(systems));
        let workers: Vec<_> = lanes
            .into_iter()
            .enumerate()
            .map(|(i, lane)| {
                let worker = self.clone();
                let shutdown = shutdown.clone();
                let name = format!("{}-{i}", uuid::Uuid::new_v4().simple());
                tokio::spawn(async move { worker.work(name, lane, shutdown).await })
            })
            .collect();
        for w in workers {
            let _ = w.await;
        }
    }

    async fn work(&self, name: String, lane: Lane, mut shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(10));
        loop {
            if *shutdown.borrow() {
                return;
            }
            // An open circuit: wait it out; half-open: one delivery, as the probe.
            let mut batch = i64::from(self.config.batch.max(1));
            if let Lane::System(system) = &lane {
                let wait = self.breakers.wait(system);
                if wait > Duration::ZERO {
                    tokio::select! {
                        _ = tokio::time::sleep(wait.min(poll)) => {}
                        _ = shutdown.changed() => {}
                    }
                    continue;
                }
                if self.breakers.state(system) == CircuitState::HalfOpen {
                    batch = 1;
                }
            }
            let claimed = match self.claim(&name, &lane, batch).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    warn!(worker = %name, error = %e, "claiming deliveries failed");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    _ = self.wakeup.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            for delivery in claimed {
                self.attempt(&name, delivery).await;
            }
        }
    }

    async fn claim(
        &self,
        worker: &str,
        lane: &Lane,
        batch: i64,
    ) -> Result<Vec<ClaimedDelivery>, StorageError> {
        let (worker, lane, lease) = (worker.to_owned(), lane.clone(), self.config.lease_ms as i64);
        let keys = self.db.keys().clone();
        self.db
            .write(move |c| {
                let targets = match &lane {
                    Lane::System(system) => Targets::Only(system),
                    Lane::Unconfigured(systems) => Targets::NoneOf(systems),
                };
                deliveries::claim(c, &keys, &worker, targets, batch, lease)
            })
            .await
    }

    /// One attempt, in a span continuing the trace of the call that committed the application.
    async fn attempt(&self, worker: &str, delivery: ClaimedDelivery) {
        let span = tracing::info_span!(
            "deliver",
            otel.name = %format_args!("deliver {}", delivery.target_system),
            otel.kind = "client",
            system = %delivery.target_system,
            delivery = %delivery.id,
            attempt = delivery.attempts,
        );
        if let Some(parent) = &delivery.traceparent {
            crate::trace::continue_from(&span, parent);
        }
        let traceparent = crate::trace::traceparent(&span);
        self.attempt_traced(worker, delivery, traceparent).instrument(span).await
    }

    async fn attempt_traced(&self, worker: &str, delivery: ClaimedDelivery, traceparent: Option<String>) {
        // The lease is renewed while the system takes its time, so a slow answer is not taken
        // for a lost worker and sent again by another.
        let (outcome, answered) = {
            let send = renkei_adapter_core::trace::with_traceparent(traceparent, self.send(&delivery));
            tokio::pin!(send);
            let every = Duration::from_millis((self.config.lease_ms / 3).max(10));
            loop {
                tokio::select! {
                    sent = &mut send => break sent,
                    _ = tokio::time::sleep(every) => {
                        let (id, who, lease) = (delivery.id.clone(), worker.to_owned(), self.config.lease_ms as i64);
                        if let Err(e) = self.db.write(move |c| deliveries::renew(c, &id, &who, lease)).await {
                            warn!(delivery = %delivery.id, error = %e, "could not renew the lease");
                        }
                    }
                }
            }
        };
        if self.systems.contains_key(&delivery.target_system) {
            self.breakers.record(&delivery.target_system, answered);
        }
        match &outcome {
            DeliveryOutcome::Delivered { .. } => {
                info!(delivery = %delivery.id, system = %delivery.target_system, attempts = delivery.attempts, "delivered")
            }
            DeliveryOutcome::Retry { error, .. } => {
                debug!(delivery = %delivery.id, attempts = delivery.attempts, %error, "will retry")
            }
            DeliveryOutcome::Rejected { reason } => {
                warn!(delivery = %delivery.id, %reason, "rejected by the system")
            }
            DeliveryOutcome::Dead { error } => {
                warn!(delivery = %delivery.id, attempts = delivery.attempts, %error, "dead-lettered")
            }
        }
        let (id, who, recorded) = (delivery.id.clone(), worker.to_owned(), outcome.clone());
        match self.db.write(move |c| deliveries::finish(c, &id, &who, &recorded)).await {
            Ok(true) => self.publish(&delivery, &outcome),
            Ok(false) => {
                warn!(delivery = %delivery.id, "lease lost before the outcome was recorded; another worker has it")
            }
            // The lease runs out and the delivery is sent again with the same idempotency key.
            Err(e) => warn!(delivery = %delivery.id, error = %e, "could not record the outcome"),
        }
    }

    /// The outcome, and whether the system answered (a refusal is an answer; a transport
    /// failure is not).
    async fn send(&self, delivery: &ClaimedDelivery) -> (DeliveryOutcome, bool) {
        let Some(system) = self.systems.get(&delivery.target_system) else {
            let error = format!("no core system {:?} is configured", delivery.target_system);
            return (DeliveryOutcome::Dead { error }, true);
        };
        let application: Application = match serde_json::from_str(&delivery.payload) {
            Ok(app) => app,
            Err(e) => {
                return (
                    DeliveryOutcome::Dead { error: format!("stored application is unreadable: {e}") },
                    true,
                );
            }
        };
        let answer = system.deliver(&delivery.application_id, &application).await;
        let answered = !matches!(&answer, Err(e) if e.is_retryable());
        let outcome = match answer {
            Ok(receipt) => DeliveryOutcome::Delivered { receipt: receipt.reference },
            Err(e @ (DeliveryError::Rejected { .. } | DeliveryError::Unsupported { .. })) => {
                DeliveryOutcome::Rejected { reason: e.to_string() }
            }
            Err(e) if e.is_retryable() && (delivery.attempts as u32) < self.config.max_attempts => {
                DeliveryOutcome::Retry {
                    error: e.to_string(),
                    retry_at_ms: now_ms() + self.backoff_ms(delivery.attempts),
                }
            }
            Err(e) => DeliveryOutcome::Dead { error: e.to_string() },
        };
        (outcome, answered)
    }

    fn backoff_ms(&self, attempts: i32) -> i64 {
        let ms = backoff_ms(self.config.initial_backoff_ms, self.config.max_backoff_ms, attempts);
        i64::try_from(ms).unwrap_or(i64::MAX)
    }

    fn publish(&self, delivery: &ClaimedDelivery, outcome: &DeliveryOutcome) {
        use renkei_model::ApplicationStatus;
        let (status, receipt, error) = match outcome {
            DeliveryOutcome::Delivered { receipt } => {
                (ApplicationStatus::Delivered, receipt.clone(), String::new())
            }
            DeliveryOutcome::Rejected { reason } => {
                (ApplicationStatus::Rejected, String::new(), reason.clone())
            }
            DeliveryOutcome::Retry { error, .. } => {
                (ApplicationStatus::Submitted, String::new(), error.clone())
            }
            DeliveryOutcome::Dead { error } => {
                (ApplicationStatus::DeadLettered, String::new(), error.clone())
            }
        };
        let event = SessionEvent::now(SessionChange::Delivery {
            application_id: delivery.application_id.clone(),
            procedure_id: delivery.procedure_id.clone(),
            target_system: delivery.target_system.clone(),
            status,
            attempts: delivery.attempts as u32,
            receipt,
            last_error: error,
        });
        self.events.publish(&delivery.session_id, event);
    }
}

/// `initial × 2^(attempts−1)`, capped, with ±20 % jitter so retries of one outage spread out.
pub fn backoff_ms(initial_ms: u64, max_ms: u64, attempts: i32) -> u64 {
    let exp = attempts.saturating_sub(1).clamp(0, 30) as u32;
    let base = initial_ms.saturating_mul(1u64 << exp).min(max_ms);
    let jitter = fastrand::f64() * 0.4 + 0.8;
    (base as f64 * jitter) as u64
}
