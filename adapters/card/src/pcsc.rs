//! Readers and cards through pcsc-lite (pcscd): listing, connecting, and watching readers and
//! cards come and go with `SCardGetStatusChange`.

use std::ffi::CString;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

use crate::apdu::{CardChannel, Command, Response};
use crate::error::CardError;

/// A reader and whether a card is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    pub name: String,
    pub card_present: bool,
}

/// A change seen by [`PcscReaders::watch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    ReaderAdded { reader: String },
    ReaderRemoved { reader: String },
    CardInserted { reader: String },
    CardRemoved { reader: String },
}

impl ReaderEvent {
    pub fn reader(&self) -> &str {
        match self {
            ReaderEvent::ReaderAdded { reader }
            | ReaderEvent::ReaderRemoved { reader }
            | ReaderEvent::CardInserted { reader }
            | ReaderEvent::CardRemoved { reader } => reader,
        }
    }

    /// `reader_added`, `reader_removed`, `card_inserted`, `card_removed`.
    pub fn kind(&self) -> &'static str {
        match self {
            ReaderEvent::ReaderAdded { .. } => "reader_added",
            ReaderEvent::ReaderRemoved { .. } => "reader_removed",
            ReaderEvent::CardInserted { .. } => "card_inserted",
            ReaderEvent::CardRemoved { .. } => "card_removed",
        }
    }
}

/// A PC/SC context: the way to pcscd.
#[derive(Clone)]
pub struct PcscReaders {
    context: Context,
}

impl std::fmt::Debug for PcscReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PcscReaders")
    }
}

impl PcscReaders {
    /// Reach pcscd. Fails with [`CardError::ServiceUnavailable`] when it is not running.
    pub fn establish() -> Result<Self, CardError> {
        let context = Context::establish(Scope::User).map_err(|e| match e {
            pcsc::Error::NoService | pcsc::Error::ServiceStopped | pcsc::Error::CommError => {
                CardError::ServiceUnavailable(format!("{e}; start it with `pcscd` (Debian package pcscd)"))
            }
            other => CardError::from(other),
        })?;
        Ok(Self { context })
    }

    /// Every reader, with whether a card is in it.
    pub fn list(&self) -> Result<Vec<ReaderInfo>, CardError> {
        let names = match self.context.list_readers_owned() {
            Ok(names) => names,
            Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut states: Vec<ReaderState> =
            names.into_iter().map(|n| ReaderState::new(n, State::UNAWARE)).collect();
        if states.is_empty() {
            return Ok(Vec::new());
        }
        self.context.get_status_change(Duration::ZERO, &mut states)?;
        Ok(states
            .iter()
            .map(|s| ReaderInfo {
                name: s.name().to_string_lossy().into_owned(),
                card_present: s.event_state().contains(State::PRESENT)
                    && !s.event_state().contains(State::MUTE),
            })
            .collect())
    }

    /// Connect to the card in `reader`, or, with `None`, in the only reader that has one.
    pub fn connect(&self, reader: Option<&str>) -> Result<PcscCard, CardError> {
        let readers = self.list()?;
        if readers.is_empty() {
            return Err(CardError::NoReader);
        }
        let name = match reader {
            Some(name) => {
                let found = readers
                    .iter()
                    .find(|r| r.name == name)
                    .ok_or_else(|| CardError::ReaderNotFound { name: name.to_owned() })?;
                if !found.card_present {
                    return Err(CardError::NoCard { reader: found.name.clone() });
                }
                found.name.clone()
            }
            None => {
                let with_card: Vec<&ReaderInfo> = readers.iter().filter(|r| r.card_present).collect();
                match with_card.as_slice() {
                    [] => {
                        return Err(CardError::NoCard {
                            reader: readers.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", "),
                        });
                    }
                    [one] => one.name.clone(),
                    several => {
                        return Err(CardError::SeveralCards {
                            readers: several.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", "),
                        });
                    }
                }
            }
        };
        let c_name =
            CString::new(name.clone()).map_err(|_| CardError::ReaderNotFound { name: name.clone() })?;
        let card =
            self.context.connect(&c_name, ShareMode::Exclusive, Protocols::ANY).map_err(|e| match e {
                pcsc::Error::NoSmartcard | pcsc::Error::RemovedCard => {
                    CardError::NoCard { reader: name.clone() }
                }
                pcsc::Error::UnknownReader => CardError::ReaderNotFound { name: name.clone() },
                other => other.into(),
            })?;
        Ok(PcscCard { card: Some(card), reader: name })
    }

    /// Watch readers and cards until `stop` is set or the receiver is dropped; call it on a thread
    /// of its own (it blocks). Readers and cards already present are reported first.
    pub fn watch(
        &self,
        stop: &AtomicBool,
        mut emit: impl FnMut(ReaderEvent) -> bool,
    ) -> Result<(), CardError> {
        let mut states: Vec<ReaderState> = vec![ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE)];
        // What we last reported per reader: present, card in it.
        let mut known: Vec<(CString, bool)> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let names = match self.context.list_readers_owned() {
                Ok(names) => names,
                Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            // Readers that went away.
            let mut events = Vec::new();
            known.retain(|(name, _)| {
                let present = names.contains(name);
                if !present {
                    events.push(ReaderEvent::ReaderRemoved { reader: name.to_string_lossy().into_owned() });
                }
                present
            });
            states.retain(|s| {
                s.name() == pcsc::PNP_NOTIFICATION() || names.iter().any(|n| n.as_c_str() == s.name())
            });
            for name in &names {
                if !states.iter().any(|s| s.name() == name.as_c_str()) {
                    states.push(ReaderState::new(name.clone(), State::UNAWARE));
                }
            }
            for s in &mut states {
                s.sync_current_state();
            }
            match self.context.get_status_change(Duration::from_millis(500), &mut states) {
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(pcsc::Error::Cancelled) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            for s in states.iter().filter(|s| s.name() != pcsc::PNP_NOTIFICATION()) {
                let event_state = s.event_state();
                if event_state.intersects(State::UNKNOWN | State::IGNORE) {
                    continue;
                }
                let has_card = event_state.contains(State::PRESENT) && !event_state.contains(State::MUTE);
                let reader = s.name().to_string_lossy().into_owned();
                match known.iter_mut().find(|(n, _)| n.as_c_str() == s.name()) {
                    None => {
                        events.push(ReaderEvent::ReaderAdded { reader: reader.clone() });
                        if has_card {
                            events.push(ReaderEvent::CardInserted { reader });
                        }
                        known.push((s.name().to_owned(), has_card));
                    }
                    Some((_, had_card)) if *had_card != has_card => {
                        *had_card = has_card;
                        events.push(if has_card {
                            ReaderEvent::CardInserted { reader }
                        } else {
                            ReaderEvent::CardRemoved { reader }
                        });
                    }
                    Some(_) => {}
                }
            }
            for event in events {
                if !emit(event) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// A handle that makes a blocked [`PcscReaders::watch`] return at once.
    pub fn canceller(&self) -> Canceller {
        Canceller { context: self.context.clone(), stop: Arc::new(AtomicBool::new(false)) }
    }
}

/// Stops a watch from another thread.
#[derive(Clone)]
pub struct Canceller {
    context: Context,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for Canceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Canceller")
    }
}

impl Canceller {
    pub fn flag(&self) -> &AtomicBool {
        &self.stop
    }

    pub fn cancel(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.context.cancel();
    }
}

/// A connected card. Disconnecting resets it, so no verified PIN outlives the read.
pub struct PcscCard {
    card: Option<pcsc::Card>,
    reader: String,
}

impl std::fmt::Debug for PcscCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscCard").field("reader", &self.reader).finish()
    }
}

impl PcscCard {
    pub fn reader(&self) -> &str {
        &self.reader
    }
}

impl CardChannel for PcscCard {
    fn transmit(&mut self, command: &Command) -> Result<Response, CardError> {
        let card = self.card.as_ref().ok_or(CardError::Removed)?;
        let mut buffer = [0u8; pcsc::MAX_BUFFER_SIZE];
        let raw = card.transmit(&command.to_bytes(), &mut buffer)?;
        if raw.len() < 2 && card_left(card) {
            // Some readers (vpcd among them) pass an unanswered command on as an empty response
            // and only then notice the card has gone.
            return Err(CardError::Removed);
        }
        Response::from_bytes(raw)
    }
}

/// Whether the card has left the reader, waiting up to a second for the reader to notice.
fn card_left(card: &pcsc::Card) -> bool {
    for _ in 0..10 {
        match card.status2_owned() {
            Ok(s) if s.status().contains(pcsc::Status::PRESENT) => {}
            Ok(_) | Err(pcsc::Error::RemovedCard | pcsc::Error::NoSmartcard | pcsc::Error::ResetCard) => {
                return true;
            }
            Err(_) => return false,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

impl Drop for PcscCard {
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            let _ = card.disconnect(Disposition::ResetCard);
        }
    }
}
