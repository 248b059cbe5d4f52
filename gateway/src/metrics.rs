//! `/metrics` in the Prometheus text format, through the `prometheus` crate: the latency of every
//! RPC by method and code (observed by the guard), and — read from the database at each scrape,
//! so every replica reports the same — deliveries by system and state, the outbox's depth and the
//! age of its oldest undelivered application, the change-feed hub's lag per subscriber, and the
//! age of the last verified backup.

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use renkei_delivery::breaker::Breakers;

use crate::backups::Backups;
use crate::storage::{Db, StorageError, deliveries, feed};

/// The gateway's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    rpc: HistogramVec,
    deliveries: IntGaugeVec,
    queue_depth: IntGauge,
    oldest_undelivered: Gauge,
    hub_lag: IntGaugeVec,
    backup_age: GaugeVec,
    circuit: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("renkei".into()), None).expect("a valid prefix");
        let rpc = HistogramVec::new(
            HistogramOpts::new(
                "rpc_duration_seconds",
                "Time to answer a gRPC call, by method and status code",
            )
            // From a cached lookup (~1 ms) to a core system's timeout (10 s).
            .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["method", "code"],
        )
        .expect("valid metric");
        let deliveries = IntGaugeVec::new(
            Opts::new("deliveries", "Deliveries to core systems, by system and state"),
            &["system", "state"],
        )
        .expect("valid metric");
        let queue_depth =
            IntGauge::new("delivery_queue_depth", "Deliveries waiting or in flight").expect("valid metric");
        let oldest_undelivered = Gauge::new(
            "oldest_undelivered_seconds",
            "Age of the oldest delivery waiting or in flight (0 when none)",
        )
        .expect("valid metric");
        let hub_lag = IntGaugeVec::new(
            Opts::new("hub_lag_changes", "Changes journaled but not yet delivered to a hub subscriber"),
            &["subscriber"],
        )
        .expect("valid metric");
        let backup_age = GaugeVec::new(
            Opts::new("backup_age_seconds", "Age of the last verified backup (-1 before the first)"),
            &["dir"],
        )
        .expect("valid metric");
        let circuit = IntGaugeVec::new(
            Opts::new("circuit_state", "A core system's circuit: 0 closed, 1 half-open (probing), 2 open"),
            &["system"],
        )
        .expect("valid metric");
        for metric in [
            Box::new(circuit.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(rpc.clone()),
            Box::new(deliveries.clone()),
            Box::new(queue_depth.clone()),
            Box::new(oldest_undelivered.clone()),
            Box::new(hub_lag.clone()),
            Box::new(backup_age.clone()),
        ] {
            registry.register(metric).expect("each metric registered once");
        }
        Metrics { registry, rpc, deliveries, queue_depth, oldest_undelivered, hub_lag, backup_age, circuit }
    }

    /// One answered call of `method`, as [`method_label`] names it
    /// (`renkei.v1.CounterService/OpenSession`). A path under a served prefix that no method
    /// answers (UNIMPLEMENTED) is counted as `unknown` too.
    pub fn observe_rpc(&self, method: &str, code: tonic::Code, seconds: f64) {
        let method = if code == tonic::Code::Unimplemented { "unknown" } else { method };
        self.rpc.with_label_values(&[method, &format!("{code:?}")]).observe(seconds);
    }

    /// The text exposition, with the database's figures read now.
    pub async fn render(
        &self,
        db: &Db,
        backups: Option<&Backups>,
        breakers: &Breakers,
        systems: &[String],
    ) -> Result<String, StorageError> {
        for system in systems {
            self.circuit.with_label_values(&[system]).set(breakers.state(system).level());
        }
        let (by_state, oldest, lags) = db
            .read(|c| {
                let by_state = deliveries::by_system_and_state(c)?;
                let oldest = deliveries::oldest_undelivered_ms(c)?;
                let source = feed::source_position(c)?;
                let lags: Vec<(String, i64)> = feed::cursors(c)?
                    .into_iter()
                    .filter(|cursor| cursor.name != feed::SOURCE)
                    .map(|cursor| (cursor.name, (source - cursor.position).max(0)))
                    .collect();
                Ok((by_state, oldest, lags))
            })
            .await?;
        self.deliveries.reset();
        // Every configured system has every state, 0 when it has none: a series that appears
        // only once a first delivery dies cannot be watched with `increase()`.
        for system in systems {
            for state in deliveries::DeliveryState::ALL {
                self.deliveries.with_label_values(&[system, state.as_str()]).set(0);
            }
        }
        let mut depth = 0;
        for (system, state, n) in by_state {
            if state == deliveries::DeliveryState::Pending.as_str()
                || state == deliveries::DeliveryState::InFlight.as_str()
            {
                depth += n;
            }
            self.deliveries.with_label_values(&[&system, &state]).set(n);
        }
        self.queue_depth.set(depth);
        let age = oldest.map_or(0.0, |at| ((renkei_store::now_ms() - at).max(0) as f64) / 1000.0);
        self.oldest_undelivered.set(age);
        self.hub_lag.reset();
        for (subscriber, lag) in lags {
            self.hub_lag.with_label_values(&[&subscriber]).set(lag);
        }
        if let Some(backups) = backups {
            let age = backups.age_s().map_or(-1.0, |s| s as f64);
            self.backup_age.with_label_values(&[&backups.dir().display().to_string()]).set(age);
        }
        let mut out = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .map_err(|e| StorageError::Setup(format!("encoding metrics: {e}")))?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// The name a call is counted and traced under: its method, for one renkei serves, and
/// `unknown` for any other path. Any caller can send any path; a name per path would let them
/// grow the registry (and a trace backend's index) without bound.
pub fn method_label(path: &str) -> &str {
    match renkei_auth::permissions::access_for(path) {
        Some(_) => path.trim_start_matches('/'),
        None => "unknown",
    }
}
