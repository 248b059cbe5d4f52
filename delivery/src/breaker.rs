//! A circuit breaker per core system: after `breaker_failures` transport failures in a row the
//! system's workers stop sending for `breaker_open_ms`, then send one delivery as a probe
//! (half-open); its success closes the circuit, its failure opens it again. A refusal is an
//! answer, so it counts as the system working. Operators see the state in `/metrics`
//! (`renkei_circuit_state`) and the log.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::{info, warn};

/// Where a system's circuit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Deliveries go.
    Closed,
    /// One probe may go.
    HalfOpen,
    /// Nothing goes until the time is up.
    Open,
}

impl CircuitState {
    /// 0 closed, 1 half-open, 2 open: the metric's value.
    pub fn level(self) -> i64 {
        match self {
            CircuitState::Closed => 0,
            CircuitState::HalfOpen => 1,
            CircuitState::Open => 2,
        }
    }
}

#[derive(Debug, Default)]
struct Circuit {
    failures: u32,
    opened_at: Option<Instant>,
}

/// The circuits of every system, shared by its workers and read by the metrics.
#[derive(Debug)]
pub struct Breakers {
    failures: u32,
    open_for: Duration,
    circuits: Mutex<BTreeMap<String, Circuit>>,
}

impl Breakers {
    pub fn new(failures: u32, open_for: Duration) -> Breakers {
        Breakers { failures: failures.max(1), open_for, circuits: Mutex::new(BTreeMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Circuit>> {
        self.circuits.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn state_of(&self, circuit: &Circuit) -> CircuitState {
        match circuit.opened_at {
            None => CircuitState::Closed,
            Some(at) if at.elapsed() >= self.open_for => CircuitState::HalfOpen,
            Some(_) => CircuitState::Open,
        }
    }

    pub fn state(&self, system: &str) -> CircuitState {
        self.lock().get(system).map_or(CircuitState::Closed, |c| self.state_of(c))
    }

    /// How long `system`'s workers should wait before sending again (zero when they may).
    pub fn wait(&self, system: &str) -> Duration {
        match self.lock().get(system) {
            Some(Circuit { opened_at: Some(at), .. }) => self.open_for.saturating_sub(at.elapsed()),
            _ => Duration::ZERO,
        }
    }

    /// An attempt at `system` got an answer (`answered`) or failed in transport.
    pub fn record(&self, system: &str, answered: bool) {
        let mut circuits = self.lock();
        let circuit = circuits.entry(system.to_owned()).or_default();
        let before = self.state_of(circuit);
        if answered {
            if before != CircuitState::Closed {
                info!(system, "circuit closed: the system answers again");
            }
            *circuit = Circuit::default();
            return;
        }
        circuit.failures += 1;
        if before == CircuitState::HalfOpen
            || (before == CircuitState::Closed && circuit.failures >= self.failures)
        {
            warn!(
                system,
                failures = circuit.failures,
                open_ms = self.open_for.as_millis() as u64,
                "circuit open: deliveries to the system pause"
            );
            circuit.opened_at = Some(Instant::now());
        }
    }

    /// Every system's state, by name.
    pub fn states(&self) -> Vec<(String, CircuitState)> {
        self.lock().iter().map(|(name, c)| (name.clone(), self.state_of(c))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_failures_half_opens_after_the_time_and_a_probe_decides() {
        let b = Breakers::new(3, Duration::from_millis(40));
        b.record("nhi", false);
        b.record("nhi", false);
        assert_eq!(b.state("nhi"), CircuitState::Closed);
        b.record("nhi", true);
        b.record("nhi", false);
        b.record("nhi", false);
        assert_eq!(b.state("nhi"), CircuitState::Closed, "an answer resets the count");
        b.record("nhi", false);
        assert_eq!(b.state("nhi"), CircuitState::Open);
        assert!(b.wait("nhi") > Duration::ZERO);
        assert_eq!(b.state("tax"), CircuitState::Closed, "systems are apart");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(b.state("nhi"), CircuitState::HalfOpen);
        b.record("nhi", false);
        assert_eq!(b.state("nhi"), CircuitState::Open, "a failed probe opens it again");
        std::thread::sleep(Duration::from_millis(50));
        b.record("nhi", true);
        assert_eq!(b.state("nhi"), CircuitState::Closed);
    }
}
