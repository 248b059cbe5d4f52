//! Session events (delivery status, card events) fanned out to `WatchSession` streams.
//!
//! In-process only: with several replicas, a watcher sees the deliveries its own replica made
//! plus the state it reads from the database when it subscribes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use renkei_proto::v1::SessionEvent;
use tokio::sync::broadcast;

/// Events a slow watcher may fall behind by before it misses some (it is told, and can re-read
/// the session's state).
const BUFFER: usize = 256;

#[derive(Debug, Clone, Default)]
pub struct SessionEvents {
    channels: Arc<Mutex<HashMap<String, broadcast::Sender<SessionEvent>>>>,
}

impl SessionEvents {
    pub fn subscribe(&self, session_id: &str) -> broadcast::Receiver<SessionEvent> {
        let mut channels = self.channels.lock().expect("session events lock");
        channels.entry(session_id.to_owned()).or_insert_with(|| broadcast::channel(BUFFER).0).subscribe()
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
}
