//! Everything that can go wrong between a reader and a card, each with its own variant so a
//! counter app can tell the resident the right thing. No message contains a PIN, an individual
//! number or any other data read from the card.

use crate::tlv::TlvError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// pcscd is not running or not reachable.
    #[error("the PC/SC service (pcscd) is not reachable: {0}")]
    ServiceUnavailable(String),
    #[error("no card reader is connected")]
    NoReader,
    #[error("no card reader is called {name:?}")]
    ReaderNotFound { name: String },
    #[error("no card is in reader {reader:?}")]
    NoCard { reader: String },
    #[error("cards are in several readers ({readers}); name the reader to read")]
    SeveralCards { readers: String },
    /// Neither the My Number card's input-assistance application nor a driver's license answered.
    #[error(
        "the card is not one this reader knows (no My Number card or driver's license application answered)"
    )]
    UnknownCard,
    /// The PIN was wrong; the card counts down.
    #[error("wrong PIN: {tries_left} tries left before the card blocks")]
    WrongPin { tries_left: u8 },
    /// One try is left and the request did not say staff confirmed spending it.
    #[error(
        "only one PIN try is left: staff must confirm before it is spent, since a wrong PIN blocks the card"
    )]
    LastTryNeedsConfirmation,
    #[error(
        "the PIN is blocked; the card must be reset at the municipality (My Number card) or the police (driver's license)"
    )]
    Blocked,
    /// A PIN is needed for what was asked.
    #[error("a PIN is required to read the card's facts")]
    PinRequired,
    /// The card left the reader (or was reset) before the read finished.
    #[error("the card was removed before the read finished; insert it again and retry")]
    Removed,
    /// A file's BER-TLV broke a rule.
    #[error("file {file}: malformed data {error}")]
    MalformedTlv { file: &'static str, error: TlvError },
    /// A field's value is not what the card specification allows.
    #[error("file {file}, {field}: {reason}")]
    BadField { file: &'static str, field: &'static str, reason: String },
    /// The card answered a status word the flow does not expect.
    #[error("{command} answered status {sw}")]
    Status { command: &'static str, sw: String },
    /// The reader or the link to it failed.
    #[error("reader failure: {0}")]
    Transport(String),
}

impl CardError {
    /// A stable, machine-readable reason (`WRONG_PIN`, `CARD_REMOVED`, …) for APIs.
    pub fn reason(&self) -> &'static str {
        match self {
            CardError::ServiceUnavailable(_) => "PCSC_UNAVAILABLE",
            CardError::NoReader => "NO_READER",
            CardError::ReaderNotFound { .. } => "READER_NOT_FOUND",
            CardError::NoCard { .. } => "NO_CARD",
            CardError::SeveralCards { .. } => "SEVERAL_CARDS",
            CardError::UnknownCard => "UNKNOWN_CARD",
            CardError::WrongPin { .. } => "WRONG_PIN",
            CardError::LastTryNeedsConfirmation => "LAST_PIN_TRY",
            CardError::Blocked => "PIN_BLOCKED",
            CardError::PinRequired => "PIN_REQUIRED",
            CardError::Removed => "CARD_REMOVED",
            CardError::MalformedTlv { .. } => "MALFORMED_CARD_DATA",
            CardError::BadField { .. } => "MALFORMED_CARD_DATA",
            CardError::Status { .. } => "CARD_STATUS",
            CardError::Transport(_) => "READER_FAILURE",
        }
    }
}

impl From<pcsc::Error> for CardError {
    fn from(e: pcsc::Error) -> Self {
        use pcsc::Error as E;
        match e {
            E::RemovedCard | E::ResetCard | E::NoSmartcard | E::UnpoweredCard | E::UnresponsiveCard => {
                CardError::Removed
            }
            E::NoReadersAvailable => CardError::NoReader,
            E::NoService | E::ServiceStopped => CardError::ServiceUnavailable(e.to_string()),
            other => CardError::Transport(other.to_string()),
        }
    }
}
