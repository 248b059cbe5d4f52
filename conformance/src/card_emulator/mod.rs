//! A smart card emulator for tests and the demo: the My Number card's input-assistance
//! application and the driver's license, loaded from a synthetic resident, reached by pcscd
//! through vpcd (the vsmartcard virtual reader) over loopback TCP.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use renkei_conformance::card_emulator::{CardImage, EmulatedCard, InsertedCard, MyNumberCard, DEFAULT_VPCD};
//! use renkei_conformance::population::{HardCase, Population};
//!
//! let population = Population::generate(30, 1);
//! let kasai = population.hard_case(HardCase::IvsName).unwrap();
//! let card = EmulatedCard::new(CardImage::MyNumber(MyNumberCard::for_resident(kasai, "1234")));
//! let inserted = InsertedCard::insert(card, DEFAULT_VPCD).await?; // pcscd now sees a card
//! let card = inserted.remove().await?;                             // and now it does not
//! # Ok(()) }
//! ```

mod card;
mod vpcd;

pub use card::{
    ATR, CardImage, DriversLicense, EmulatedCard, INPUT_ASSIST_AID, LICENSE_DETAILS_LEN, LICENSE_DF1_AID,
    MAX_TRIES, MyNumberCard, PinFile, license_text,
};
pub use vpcd::{DEFAULT_VPCD, InsertedCard, RemoveDuring, VPCD_READER};
