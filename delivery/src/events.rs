//! Session events (delivery status, card events) fanned out to `WatchSession` streams.
//!
//! In-process only: with several replicas, a watcher sees the deliveries its own replica made
//! plus the state it reads from the database when it subscribes. Card events belong to a counter
//! (its reader), so a watcher is also bound to its session's counter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use renkei_model::ApplicationStatus;
use tokio::sync::broadcast;

/// Something a session's watchers are told, in renkei's own terms; the gRPC layer turns it into
/// `renkei.v1.SessionEvent` (`grpc::convert::session_event_to_proto`), so what produces events
/// (the delivery workers, the card readers, the work queue) knows nothing of the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEvent {
    pub at_ms: i64,
    pub change: SessionChange,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChange {
    /// An application's delivery to its core system moved on.
    Delivery {
        application_id: String,
        procedure_id: String,
        target_system: String,
        status: ApplicationStatus,
        attempts: u32,
        receipt: String,
        last_error: String,
    },
    /// A card was put in or taken out of the counter's reader (`inserted`, `removed`).
    Card { reader: String, kind: &'static str },
    /// The application's item in the backyard work queue changed state.
    Work {
        application_id: String,
        procedure_id: String,
        work_item_id: String,
        state: String,
        status: ApplicationStatus,
        reason: String,
    },
}

impl SessionEvent {
    /// `change`, happening now.
    pub fn now(change: SessionChange) -> SessionEvent {
        SessionEvent { at_ms: renkei_store::now_ms(), change }
    }
}

/// Events a slow watcher may fall behind by before it misses some (it is told, and can re-read
/// the session's state).
const BUFFER: usize = 256;

#[derive(Debug, Clone, Default)]
pub struct SessionEvents {
    channels: Arc<Mutex<HashMap<String, broadcast::Sender<SessionEvent>>>>,
    /// Sessions watched at each counter, for events of the counter's card reader.
    counters: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

/// One watcher of a session. When the last one goes (dropped), the session's channel and its
/// counter binding go with it: a channel holds its whole buffer from the start, so channels
/// left behind by watchers that went away would add up.
#[derive(Debug)]
pub struct Watch {
    pub receiver: broadcast::Receiver<SessionEvent>,
    events: SessionEvents,
    session_id: String,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut channels = self.events.channels.lock().expect("session events lock");
        // This watcher's receiver is still counted until the fields drop after this body.
        if channels.get(&self.session_id).is_some_and(|sender| sender.receiver_count() <= 1) {
            channels.remove(&self.session_id);
            drop(channels);
            self.events.unbind(&self.session_id);
        }
    }
}

impl SessionEvents {
    pub fn subscribe(&self, session_id: &str) -> Watch {
        let mut channels = self.channels.lock().expect("session events lock");
        let receiver =
            channels.entry(session_id.to_owned()).or_insert_with(|| broadcast::channel(BUFFER).0).subscribe();
        Watch { receiver, events: self.clone(), session_id: session_id.to_owned() }
    }

    /// Sessions with a channel (someone watches them), for tests and metrics.
    pub fn watched(&self) -> usize {
        self.channels.lock().expect("session events lock").len()
    }

    /// Send `event` to the session's watchers, if any. Channels nobody watches are dropped here.
    pub fn publish(&self, session_id: &str, event: SessionEvent) {
        let mut channels = self.channels.lock().expect("session events lock");
        if let Some(sender) = channels.get(session_id)
            && sender.send(event).is_err()
        {
            channels.remove(session_id);
        }
    }

    /// The session has ended: drop its channel (its watchers' streams end) and its counter binding.
    pub fn forget(&self, session_id: &str) {
        self.channels.lock().expect("session events lock").remove(session_id);
        self.unbind(session_id);
    }

    fn unbind(&self, session_id: &str) {
        let mut counters = self.counters.lock().expect("session events lock");
        for sessions in counters.values_mut() {
            sessions.retain(|s| s != session_id);
        }
        counters.retain(|_, sessions| !sessions.is_empty());
    }

    /// Also send `session_id`'s watchers the events of `counter_id` (its card reader).
    pub fn bind_counter(&self, session_id: &str, counter_id: &str) {
        let mut counters = self.counters.lock().expect("session events lock");
        let sessions = counters.entry(counter_id.to_owned()).or_default();
        if !sessions.iter().any(|s| s == session_id) {
            sessions.push(session_id.to_owned());
        }
    }

    /// Send `event` to the watchers of every session bound to `counter_id`; sessions nobody
    /// watches any more are forgotten.
    pub fn publish_to_counter(&self, counter_id: &str, event: SessionEvent) {
        let sessions = {
            let counters = self.counters.lock().expect("session events lock");
            counters.get(counter_id).cloned().unwrap_or_default()
        };
        for session in &sessions {
            self.publish(session, event.clone());
        }
        let channels = self.channels.lock().expect("session events lock");
        let mut counters = self.counters.lock().expect("session events lock");
        if let Some(bound) = counters.get_mut(counter_id) {
            bound.retain(|s| channels.contains_key(s));
        }
    }
}
