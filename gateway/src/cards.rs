//! The gateway's card readers: one watcher thread on pcscd whose reader and card events go to
//! `CardService.WatchReaders` streams and to the `WatchSession` streams of the counter each
//! reader stands at; reads run on the blocking pool, one PC/SC connection per read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use renkei_adapter_card::pcsc::{PcscReaders, ReaderEvent};
use renkei_adapter_card::{CardError, CardReading, Counted, ReadRequest, read_card};
use tokio::sync::broadcast;
use tracing::{debug, info, warn};

use crate::config::CardConfig;
use renkei_delivery::events::{SessionChange, SessionEvent, SessionEvents};

/// Reader events a slow `WatchReaders` stream may fall behind by.
const BUFFER: usize = 256;

/// Readers, their cards, and the watcher keeping both current.
#[derive(Debug)]
pub struct CardReaders {
    events: broadcast::Sender<ReaderEvent>,
    /// Readers known now, and whether a card is in each.
    present: Arc<Mutex<BTreeMap<String, bool>>>,
    stop: Arc<AtomicBool>,
    canceller: Arc<Mutex<Option<renkei_adapter_card::pcsc::Canceller>>>,
    watcher: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl CardReaders {
    /// Start watching (when `config.watch`), sending card events of each counter's reader to the
    /// sessions watched at that counter. pcscd being down is not an error: the watcher retries.
    pub fn start(config: &CardConfig, sessions: SessionEvents) -> Arc<CardReaders> {
        let readers = Arc::new(CardReaders {
            events: broadcast::channel(BUFFER).0,
            present: Arc::default(),
            stop: Arc::new(AtomicBool::new(false)),
            canceller: Arc::default(),
            watcher: Mutex::new(None),
        });
        if config.watch {
            let counters_of_reader = invert(&config.counter_readers);
            let (events, present, stop, canceller) = (
                readers.events.clone(),
                readers.present.clone(),
                readers.stop.clone(),
                readers.canceller.clone(),
            );
            let handle = std::thread::Builder::new()
                .name("card-watch".into())
                .spawn(move || watch_loop(events, present, stop, canceller, sessions, counters_of_reader))
                .expect("spawning the card watcher thread");
            *readers.watcher.lock().expect("card readers lock") = Some(handle);
        }
        readers
    }

    /// Live reader events, and the state to start from (readers present and their cards).
    pub fn subscribe(&self) -> (Vec<ReaderEvent>, broadcast::Receiver<ReaderEvent>) {
        let receiver = self.events.subscribe();
        let present = self.present.lock().expect("card readers lock");
        let mut snapshot = Vec::new();
        for (reader, card) in present.iter() {
            snapshot.push(ReaderEvent::ReaderAdded { reader: reader.clone() });
            if *card {
                snapshot.push(ReaderEvent::CardInserted { reader: reader.clone() });
            }
        }
        (snapshot, receiver)
    }

    /// Read the card in `reader` (or the only reader with a card); also returns the APDUs sent.
    pub async fn read(
        &self,
        reader: Option<String>,
        request: ReadRequest,
    ) -> Result<(CardReading, u32), CardError> {
        tokio::task::spawn_blocking(move || {
            let readers = PcscReaders::establish()?;
            let card = readers.connect(reader.as_deref())?;
            let mut channel = Counted::new(card);
            let reading = read_card(&mut channel, &request)?;
            Ok((reading, channel.sent()))
        })
        .await
        .map_err(|e| CardError::Transport(format!("card read task failed: {e}")))?
    }

    /// Stop the watcher and wait for it.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(c) = self.canceller.lock().expect("card readers lock").as_ref() {
            c.cancel();
        }
        if let Some(handle) = self.watcher.lock().expect("card readers lock").take() {
            let _ = handle.join();
        }
    }
}

fn invert(counter_readers: &BTreeMap<String, String>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (counter, reader) in counter_readers {
        out.entry(reader.clone()).or_default().push(counter.clone());
    }
    out
}

fn watch_loop(
    events: broadcast::Sender<ReaderEvent>,
    present: Arc<Mutex<BTreeMap<String, bool>>>,
    stop: Arc<AtomicBool>,
    canceller: Arc<Mutex<Option<renkei_adapter_card::pcsc::Canceller>>>,
    sessions: SessionEvents,
    counters_of_reader: BTreeMap<String, Vec<String>>,
) {
    let mut reported_down = false;
    while !stop.load(Ordering::Relaxed) {
        let readers = match PcscReaders::establish() {
            Ok(r) => r,
            Err(e) => {
                if !reported_down {
                    info!(error = %e, "card readers unavailable; retrying");
                    reported_down = true;
                }
                sleep_unless_stopped(&stop, Duration::from_secs(2));
                continue;
            }
        };
        reported_down = false;
        let c = readers.canceller();
        *canceller.lock().expect("card readers lock") = Some(c.clone());
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // A new context starts from scratch: what the old one knew is reported again.
        present.lock().expect("card readers lock").clear();
        let result = readers.watch(&stop, |event| {
            debug!(reader = event.reader(), kind = event.kind(), "reader event");
            {
                let mut present = present.lock().expect("card readers lock");
                match &event {
                    ReaderEvent::ReaderAdded { reader } => {
                        present.insert(reader.clone(), false);
                    }
                    ReaderEvent::ReaderRemoved { reader } => {
                        present.remove(reader);
                    }
                    ReaderEvent::CardInserted { reader } => {
                        present.insert(reader.clone(), true);
                    }
                    ReaderEvent::CardRemoved { reader } => {
                        present.insert(reader.clone(), false);
                    }
                }
            }
            let card_kind = match &event {
                ReaderEvent::CardInserted { .. } => Some("inserted"),
                ReaderEvent::CardRemoved { .. } => Some("removed"),
                _ => None,
            };
            if let (Some(kind), Some(counters)) = (card_kind, counters_of_reader.get(event.reader())) {
                for counter in counters {
                    sessions.publish_to_counter(
                        counter,
                        SessionEvent::now(SessionChange::Card { reader: event.reader().to_owned(), kind }),
                    );
                }
            }
            let _ = events.send(event);
            true
        });
        if let Err(e) = result {
            warn!(error = %e, "card watch interrupted; restarting");
            sleep_unless_stopped(&stop, Duration::from_secs(1));
        }
    }
}

fn sleep_unless_stopped(stop: &AtomicBool, total: Duration) {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < total && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step);
        slept += step;
    }
}
