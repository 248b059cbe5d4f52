//! renkei's device adapter: identity cards read through PC/SC (pcsc-lite and pcscd).
//!
//! The one entry point for a whole read is [`read_card`]: it identifies the card by selecting
//! applications (never by ATR), asks the PIN tries left without spending one, refuses to spend
//! the last try unless staff confirmed it, verifies the PIN and reads the holder's facts:
//! - My Number card, input-assistance application ([`mynumber`]): the basic four facts (file
//!   0002), and the individual number (file 0001) only when the request asks for it — whether the
//!   caller's role permits that is the caller's decision;
//! - driver's license ([`license`]): common data and, with PIN1, name, reading, address and birth
//!   date, decoded from JIS X 0208 with 外字 kept as markers ([`jis`]).
//!
//! Cards are reached through a [`CardChannel`]: [`pcsc::PcscReaders`] connects to a reader; tests
//! use an emulated card in-process or behind vpcd. Every file is parsed with strict BER-TLV
//! ([`tlv`]). Errors ([`CardError`]) tell wrong PIN (with tries left), last try, blocked card,
//! removed card, unknown card and malformed data apart; PINs and individual numbers never reach
//! a log or an error message.

pub mod apdu;
mod error;
mod file;
pub mod jis;
pub mod license;
pub mod mynumber;
pub mod pcsc;
mod pin;
pub mod tlv;

use renkei_model::{BasicFacts, CardKind, FieldPath, IndividualNumber, MojiText, Sex};

pub use apdu::{CardChannel, Command, Counted, Response, Sw};
pub use error::CardError;
pub use pin::Pin;

/// What to do with the card in the reader.
#[derive(Debug, Clone, Default)]
pub struct ReadRequest {
    /// The resident's PIN. Without one, only the card kind and the tries left are read.
    pub pin: Option<Pin>,
    /// Staff confirmed that the last PIN try may be spent.
    pub staff_confirmed_last_try: bool,
    /// Also read the individual number (My Number card only).
    pub read_individual_number: bool,
}

/// What a read found.
#[derive(Debug, Clone, PartialEq)]
pub struct CardReading {
    pub card: CardKind,
    /// PIN tries left when the card was checked, before this request's PIN was tried.
    pub pin_tries_left: u8,
    /// The holder's facts (only when a PIN was given and verified).
    pub facts: Option<BasicFacts>,
    /// Facts staff must confirm against the printed card (a license name with 外字), as paths.
    pub needs_confirmation: Vec<FieldPath>,
    pub individual_number: Option<IndividualNumber>,
    /// The license's own data, for a driver's license.
    pub license: Option<LicenseReading>,
}

/// A driver's license read in full.
#[derive(Debug, Clone, PartialEq)]
pub struct LicenseReading {
    pub common: license::CommonData,
    pub details: Option<license::LicenseDetails>,
}

/// Identify the card and read it as `request` says.
pub fn read_card<C: CardChannel + ?Sized>(
    ch: &mut C,
    request: &ReadRequest,
) -> Result<CardReading, CardError> {
    if mynumber::select(ch)? {
        return read_my_number_card(ch, request);
    }
    if license::select_df1(ch)? {
        return read_drivers_license(ch, request);
    }
    Err(CardError::UnknownCard)
}

fn read_my_number_card<C: CardChannel + ?Sized>(
    ch: &mut C,
    request: &ReadRequest,
) -> Result<CardReading, CardError> {
    let tries = mynumber::pin_tries_left(ch)?;
    let mut reading = CardReading {
        card: CardKind::MyNumberCard,
        pin_tries_left: tries,
        facts: None,
        needs_confirmation: Vec::new(),
        individual_number: None,
        license: None,
    };
    let Some(pin) = &request.pin else {
        return Ok(reading);
    };
    mynumber::verify_pin(ch, pin, tries, request.staff_confirmed_last_try)?;
    let facts = mynumber::read_basic_facts(ch)?;
    reading.facts = Some(BasicFacts {
        name: facts.name,
        name_kana: None,
        address: Some(facts.address).filter(|a| !a.is_empty()),
        birth_date: facts.birth_date,
        sex: facts.sex,
    });
    if request.read_individual_number {
        reading.individual_number = Some(mynumber::read_individual_number(ch)?);
    }
    Ok(reading)
}

fn read_drivers_license<C: CardChannel + ?Sized>(
    ch: &mut C,
    request: &ReadRequest,
) -> Result<CardReading, CardError> {
    let common = license::read_common_data(ch)?;
    let tries = license::pin1_tries_left(ch)?;
    let mut reading = CardReading {
        card: CardKind::DriversLicense,
        pin_tries_left: tries,
        facts: None,
        needs_confirmation: Vec::new(),
        individual_number: None,
        license: Some(LicenseReading { common, details: None }),
    };
    let Some(pin) = &request.pin else {
        return Ok(reading);
    };
    license::verify_pin1(ch, pin, tries, request.staff_confirmed_last_try)?;
    let details = license::read_details(ch)?;
    let moji = |t: &jis::JisText| MojiText::new(t.to_plain()).expect("decoded JIS X 0208 has no controls");
    for (field, text) in [("facts.name", &details.name), ("facts.address", &details.address)] {
        if text.has_markers() {
            reading.needs_confirmation.push(FieldPath::field(field));
        }
    }
    // The license does not record sex: staff take it from the resident record or ask.
    reading.needs_confirmation.push(FieldPath::field("facts.sex"));
    reading.facts = Some(BasicFacts {
        name: moji(&details.name),
        name_kana: Some(moji(&details.reading)).filter(|k| !k.is_empty()),
        address: Some(moji(&details.address)).filter(|a| !a.is_empty()),
        birth_date: details.birth_date,
        sex: Sex::NotKnown,
    });
    if let Some(l) = reading.license.as_mut() {
        l.details = Some(details);
    }
    Ok(reading)
}

/// Tries left on PIN reference `p2`, by VERIFY without data (spends nothing).
fn pin_status<C: CardChannel + ?Sized>(ch: &mut C, p2: u8) -> Result<u8, CardError> {
    let command = Command::verify(p2, None);
    let sw = ch.transmit(&command)?.sw;
    match (sw, sw.tries_left()) {
        (_, Some(n)) => Ok(n),
        (Sw::BLOCKED, _) => Ok(0),
        // Already verified in this card session: the counter was reset.
        (Sw::OK, _) => Ok(u8::MAX),
        (sw, None) => Err(CardError::status(&command, sw)),
    }
}

/// VERIFY `pin` against reference `p2`, refusing to spend the last try without confirmation.
fn verify<C: CardChannel + ?Sized>(
    ch: &mut C,
    p2: u8,
    pin: &Pin,
    tries_left: u8,
    staff_confirmed_last_try: bool,
) -> Result<(), CardError> {
    match tries_left {
        0 => return Err(CardError::Blocked),
        1 if !staff_confirmed_last_try => return Err(CardError::LastTryNeedsConfirmation),
        _ => {}
    }
    let command = Command::verify(p2, Some(pin));
    let sw = ch.transmit(&command)?.sw;
    match (sw, sw.tries_left()) {
        (Sw::OK, _) => Ok(()),
        (_, Some(0)) | (Sw::BLOCKED, _) => Err(CardError::Blocked),
        (_, Some(n)) => Err(CardError::WrongPin { tries_left: n }),
        (sw, None) => Err(CardError::status(&command, sw)),
    }
}

#[cfg(test)]
mod tests {
    use renkei_conformance::card_emulator::{CardImage, DriversLicense, EmulatedCard, MyNumberCard};
    use renkei_conformance::population::{HardCase, Population};
    use renkei_model::{Date, Resident};

    use super::*;

    /// The emulated card answering in-process, as a reader would pass it through.
    struct InProcess(EmulatedCard);

    impl CardChannel for InProcess {
        fn transmit(&mut self, command: &Command) -> Result<Response, CardError> {
            Response::from_bytes(&self.0.process(&command.to_bytes()))
        }
    }

    fn resident(case: HardCase) -> Resident {
        Population::generate(HardCase::MIN_POPULATION, 1).hard_case(case).unwrap().clone()
    }

    fn my_number_card(case: HardCase) -> Counted<InProcess> {
        let image = CardImage::MyNumber(MyNumberCard::for_resident(&resident(case), "1234"));
        Counted::new(InProcess(EmulatedCard::new(image)))
    }

    fn with_pin(pin: &str) -> ReadRequest {
        ReadRequest { pin: Some(Pin::parse(pin).unwrap()), ..ReadRequest::default() }
    }

    #[test]
    fn reads_the_basic_facts_with_the_ivs_intact_in_few_apdus() {
        let mut card = my_number_card(HardCase::IvsName);
        let reading = read_card(&mut card, &with_pin("1234")).unwrap();
        let facts = reading.facts.unwrap();
        assert_eq!(facts.name.as_str(), "葛\u{E0100}西\u{3000}太郎");
        assert_eq!(facts.birth_date, Date::from_ymd(1989, 1, 8).unwrap());
        assert_eq!(facts.sex, Sex::Male);
        assert!(facts.address.unwrap().as_str().starts_with("神奈川県横浜市"));
        assert_eq!(reading.card, CardKind::MyNumberCard);
        assert_eq!(reading.pin_tries_left, 3);
        assert!(reading.individual_number.is_none(), "not asked for");
        // SELECT AP, SELECT PIN, VERIFY (tries), SELECT PIN, VERIFY, SELECT 0002, READ header,
        // READ rest.
        assert_eq!(card.sent(), 8);
    }

    #[test]
    fn every_synthetic_resident_reads_in_eight_apdus() {
        // The header read and one more READ BINARY cover file 0002 for the longest name and
        // address of the population (the benchmark's APDU figure depends on it).
        let population = Population::generate(10_000, 1);
        let mut longest = 0;
        for r in population.residents() {
            let image = MyNumberCard::for_resident(r, "1234");
            longest = longest.max(image.basic_facts_file.len());
            let mut card = Counted::new(InProcess(EmulatedCard::new(CardImage::MyNumber(image))));
            let reading = read_card(&mut card, &with_pin("1234")).unwrap();
            assert_eq!(reading.facts.unwrap().name, r.name.full());
            assert_eq!(card.sent(), 8, "{}", r.atena_number);
        }
        assert!(longest <= usize::from(tlv::HEADER_READ) + 255, "{longest}");
        let kasai = MyNumberCard::for_resident(&resident(HardCase::IvsName), "1234");
        assert_eq!(kasai.basic_facts_file.len(), 130);
    }

    #[test]
    fn individual_number_only_when_asked() {
        let expected = resident(HardCase::IvsName).individual_number.unwrap();
        let mut card = my_number_card(HardCase::IvsName);
        let request = ReadRequest { read_individual_number: true, ..with_pin("1234") };
        let reading = read_card(&mut card, &request).unwrap();
        assert_eq!(reading.individual_number, Some(expected));
        assert!(!format!("{reading:?}").contains(reading.individual_number.as_ref().unwrap().expose()));
    }

    #[test]
    fn wrong_pins_count_down_the_last_try_needs_staff_and_then_the_card_blocks() {
        let mut card = my_number_card(HardCase::ShowaLastDay);
        assert_eq!(read_card(&mut card, &ReadRequest::default()).unwrap().pin_tries_left, 3);
        assert_eq!(
            read_card(&mut card, &with_pin("0000")).unwrap_err(),
            CardError::WrongPin { tries_left: 2 }
        );
        assert_eq!(
            read_card(&mut card, &with_pin("0000")).unwrap_err(),
            CardError::WrongPin { tries_left: 1 }
        );
        // The last try is not spent without staff's word, not even with the right PIN.
        let before = card.sent();
        assert_eq!(read_card(&mut card, &with_pin("1234")).unwrap_err(), CardError::LastTryNeedsConfirmation);
        assert_eq!(card.into_inner().0.tries_left(), 1);
        let _ = before;

        let mut card = my_number_card(HardCase::ShowaLastDay);
        for _ in 0..2 {
            let _ = read_card(&mut card, &with_pin("0000"));
        }
        let confirmed = ReadRequest { staff_confirmed_last_try: true, ..with_pin("0000") };
        assert_eq!(read_card(&mut card, &confirmed).unwrap_err(), CardError::Blocked);
        assert_eq!(read_card(&mut card, &with_pin("1234")).unwrap_err(), CardError::Blocked);
        assert_eq!(read_card(&mut card, &ReadRequest::default()).unwrap().pin_tries_left, 0);
    }

    #[test]
    fn confirmed_last_try_with_the_right_pin_reads_and_resets_the_counter() {
        let mut card = my_number_card(HardCase::ShowaLastDay);
        for _ in 0..2 {
            let _ = read_card(&mut card, &with_pin("0000"));
        }
        let confirmed = ReadRequest { staff_confirmed_last_try: true, ..with_pin("1234") };
        let reading = read_card(&mut card, &confirmed).unwrap();
        assert_eq!(reading.pin_tries_left, 1);
        assert!(reading.facts.is_some());
        assert_eq!(card.into_inner().0.tries_left(), 3);
    }

    #[test]
    fn malformed_basic_facts_are_refused_with_the_offset() {
        let mut image = MyNumberCard::for_resident(&resident(HardCase::IvsName), "1234");
        image.basic_facts_file[2] = 0x80; // indefinite length
        let mut card = InProcess(EmulatedCard::new(CardImage::MyNumber(image)));
        let e = read_card(&mut card, &with_pin("1234")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "file 0002 (basic four facts): malformed data at byte 2: indefinite length (0x80) is not allowed"
        );
    }

    #[test]
    fn unknown_cards_are_named() {
        struct Nothing;
        impl CardChannel for Nothing {
            fn transmit(&mut self, _: &Command) -> Result<Response, CardError> {
                Response::from_bytes(&[0x6A, 0x82])
            }
        }
        assert_eq!(read_card(&mut Nothing, &ReadRequest::default()).unwrap_err(), CardError::UnknownCard);
    }

    #[test]
    fn drivers_license_keeps_gaiji_as_markers_for_staff() {
        let r = resident(HardCase::SakiVariant);
        let image = DriversLicense::for_resident(&r, "5678", Date::from_ymd(2024, 3, 1).unwrap());
        let mut card = Counted::new(InProcess(EmulatedCard::new(CardImage::DriversLicense(image))));
        let reading = read_card(&mut card, &with_pin("5678")).unwrap();
        assert_eq!(reading.card, CardKind::DriversLicense);
        let license = reading.license.unwrap();
        assert_eq!(license.common.spec_version, "008");
        let details = license.details.unwrap();
        assert_eq!(details.name.to_string(), "山(外字1)\u{3000}健二");
        assert_eq!(details.birth_date, r.birth_date);
        let facts = reading.facts.unwrap();
        assert_eq!(facts.name.as_str(), "山〓\u{3000}健二");
        let paths: Vec<&str> = reading.needs_confirmation.iter().map(FieldPath::as_str).collect();
        assert_eq!(paths, ["facts.name", "facts.sex"]);
        assert_eq!(card.into_inner().0.tries_left(), 3);
    }
}
