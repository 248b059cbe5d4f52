//! Cards through the real stack: the card emulator connects to vpcd, pcscd sees a card in
//! "Virtual PCD 00 00", and the gateway reads it over PC/SC.
//!
//! pcscd must be running with the vsmartcard-vpcd driver (`.ci/run` starts it). When it is not
//! reachable these tests fail and say how to start it; `RENKEI_SKIP_PCSCD=1` skips them
//! explicitly. vpcd's port is one per machine, so the tests take turns ([`VPCD`]).

use std::time::Duration;

use renkei_adapter_card::pcsc::PcscReaders;
use renkei_adapter_intake::{PreEntry, PreEntryPerson, QrSigner};
use renkei_conformance::card_emulator::{
    CardImage, DEFAULT_VPCD, DriversLicense, EmulatedCard, InsertedCard, MyNumberCard, RemoveDuring,
    VPCD_READER,
};
use renkei_conformance::population::HardCase;
use renkei_model::{Date, LifeEvent, MojiText};
use renkei_proto::Authorized;
use renkei_proto::v1 as pb;
use renkei_proto::v1::card_service_client::CardServiceClient;
use renkei_proto::v1::counter_service_client::CounterServiceClient;
use tokio::sync::{Mutex, MutexGuard};
use tonic::Code;
use tonic_types::StatusExt;

use crate::harness::{Harness, SUPERVISOR};

/// One virtual reader per machine: one test at a time uses it.
static VPCD: Mutex<()> = Mutex::const_new(());

const PIN: &str = "1234";
const COUNTER: &str = "window-3";

/// The virtual reader, or `None` when the run opted out with RENKEI_SKIP_PCSCD=1.
async fn virtual_reader() -> Option<MutexGuard<'static, ()>> {
    if std::env::var("RENKEI_SKIP_PCSCD").is_ok_and(|v| v == "1") {
        eprintln!("RENKEI_SKIP_PCSCD=1: card tests through pcscd not run");
        return None;
    }
    let guard = VPCD.lock().await;
    let readers =
        tokio::task::spawn_blocking(|| PcscReaders::establish().and_then(|r| r.list())).await.unwrap();
    let hint = "Start pcscd with the vpcd driver (Debian packages pcscd and vsmartcard-vpcd): \
                `pcscd --foreground &` (.ci/run does), or set RENKEI_SKIP_PCSCD=1 to skip these tests";
    match readers {
        Ok(list) if list.iter().any(|r| r.name == VPCD_READER) => {}
        Ok(list) => panic!("pcscd is running but has no reader {VPCD_READER:?} (readers: {list:?}). {hint}"),
        Err(e) => panic!("pcscd is not reachable ({e}). {hint}"),
    }
    // A card left behind by an interrupted run would make this test's card a second one.
    wait_for_card(false).await;
    Some(guard)
}

/// Wait until pcscd sees (or no longer sees) a card in the virtual reader.
async fn wait_for_card(present: bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = tokio::task::spawn_blocking(|| {
            PcscReaders::establish()
                .and_then(|r| r.list())
                .map(|l| l.iter().any(|r| r.name == VPCD_READER && r.card_present))
                .unwrap_or(false)
        })
        .await
        .unwrap();
        if now == present {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "pcscd did not see the card {}",
            if present { "arrive" } else { "go" }
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn insert(card: CardImage, remove_during: Option<RemoveDuring>) -> InsertedCard {
    let inserted =
        InsertedCard::insert_with(EmulatedCard::new(card), DEFAULT_VPCD, remove_during).await.unwrap();
    wait_for_card(true).await;
    inserted
}

async fn remove(inserted: InsertedCard) -> EmulatedCard {
    let card = inserted.remove().await.unwrap();
    wait_for_card(false).await;
    card
}

/// The pre-entry service's key in these tests (synthetic, like everything here).
const QR_SECRET: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

fn qr_signer() -> QrSigner {
    QrSigner::from_hex("test", QR_SECRET).unwrap()
}

async fn start() -> Harness {
    Harness::start_with(|c| {
        c.card.counter_readers.insert(COUNTER.into(), VPCD_READER.into());
        c.intake.qr_keys.insert("test".into(), qr_signer().public_hex());
    })
    .await
}

/// Submit `evidence` in `session`: the identity and the 宛名番号 of the candidates.
async fn submit(
    counter: &mut renkei_proto::v1::counter_service_client::CounterServiceClient<Authorized>,
    session: &str,
    evidence: pb::submit_evidence_request::Evidence,
) -> (pb::IdentityEvidence, Vec<String>, Option<pb::PreEntry>) {
    let r = counter
        .submit_evidence(pb::SubmitEvidenceRequest { session_id: session.into(), evidence: Some(evidence) })
        .await
        .unwrap()
        .into_inner();
    (r.identity.unwrap(), r.candidates.into_iter().map(|c| c.atena_number).collect(), r.pre_entry)
}

/// The canonical identity: what every channel must agree on.
fn identity_key(i: &pb::IdentityEvidence) -> (String, Option<pb::CalendarDate>, i32, String) {
    let f = i.facts.clone().unwrap();
    (f.name, f.birth_date, f.sex, f.address)
}

async fn cards(h: &Harness) -> CardServiceClient<Authorized> {
    CardServiceClient::new(h.channel().await)
}

fn read_request(session_id: &str, pin: &str) -> pb::ReadCardRequest {
    pb::ReadCardRequest {
        session_id: session_id.into(),
        pin: pin.into(),
        reader: VPCD_READER.into(),
        ..Default::default()
    }
}

/// The ErrorInfo reason of a status, and its `tries_left` metadata if any.
fn reason(status: &tonic::Status) -> (String, Option<String>) {
    let info = status.get_details_error_info().expect("card errors carry an ErrorInfo");
    assert_eq!(info.domain, "renkei.v1");
    (info.reason, info.metadata.get("tries_left").cloned())
}

/// The next card event on a session's stream.
async fn next_card_event(stream: &mut tonic::Streaming<pb::SessionEvent>) -> pb::CardEvent {
    loop {
        let event = stream.message().await.unwrap().expect("session stream open");
        if let Some(pb::session_event::Event::Card(c)) = event.event {
            return c;
        }
    }
}

fn my_number_card(h: &Harness, case: HardCase) -> CardImage {
    CardImage::MyNumber(MyNumberCard::for_resident(h.population.hard_case(case).unwrap(), PIN))
}

#[tokio::test]
async fn card_read_through_pcscd_finds_the_resident_with_the_ivs_intact() {
    let Some(_vpcd) = virtual_reader().await else { return };
    let h = start().await;
    let mut counter = h.counter().await;
    let session = h.open_session(&mut counter).await;
    let mut watch = counter
        .watch_session(pb::WatchSessionRequest { session_id: session.clone() })
        .await
        .unwrap()
        .into_inner();
    let mut readers = cards(&h).await.watch_readers(pb::WatchReadersRequest {}).await.unwrap().into_inner();

    let inserted = insert(my_number_card(&h, HardCase::IvsName), None).await;
    let event = tokio::time::timeout(Duration::from_secs(10), next_card_event(&mut watch)).await.unwrap();
    assert_eq!((event.reader.as_str(), event.kind.as_str()), (VPCD_READER, "inserted"));
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let e = readers.message().await.unwrap().unwrap();
            if e.reader == VPCD_READER && e.kind == "card_inserted" {
                return e;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(seen.kind, "card_inserted");

    // Without a PIN: the kind and the tries left, nothing spent.
    let probe = cards(&h).await.read_card(read_request(&session, "")).await.unwrap().into_inner();
    assert_eq!((probe.card, probe.pin_tries_left, probe.facts), (pb::CardKind::MyNumberCard as i32, 3, None));

    let read = cards(&h).await.read_card(read_request(&session, PIN)).await.unwrap().into_inner();
    let facts = read.facts.unwrap();
    assert_eq!(
        facts.name, "葛\u{E0100}西\u{3000}太郎",
        "the IVS selector survives the chip, pcscd and the API"
    );
    assert_eq!(read.individual_number, "", "not asked for");
    let birth = facts.birth_date.clone().unwrap();
    assert_eq!((birth.year, birth.month, birth.day, birth.wareki.as_str()), (1989, 1, 8, "平成元年1月8日"));

    use pb::submit_evidence_request::Evidence;
    let card = Evidence::Card(pb::CardEvidence { card: read.card, facts: Some(facts) });
    let (by_card, found, _) = submit(&mut counter, &session, card).await;
    assert_eq!(found, [HardCase::IvsName.atena_number().as_str()]);
    assert_eq!(by_card.assurance, pb::AssuranceLevel::High as i32);

    // The same resident through a pre-entry QR code and through an OCR'd document.
    let kasai = h.population.hard_case(HardCase::IvsName).unwrap();
    let address = kasai.address.as_ref().unwrap().one_line();
    let entry = PreEntry {
        life_event: LifeEvent::MoveWithin,
        event_date: None,
        applicant: PreEntryPerson {
            name: kasai.name.full(),
            name_kana: None,
            birth_date: kasai.birth_date,
            sex: kasai.sex,
            relationship: Some(kasai.relationship.clone()),
        },
        address: Some(MojiText::new(address.clone()).unwrap()),
        new_address: None,
        members: Vec::new(),
        answers: Default::default(),
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let payload = qr_signer().encode(&entry, now, now + 3_600).unwrap();
    let (by_qr, found_qr, pre_entry) =
        submit(&mut counter, &session, Evidence::Qr(pb::QrEvidence { payload })).await;
    assert_eq!(pre_entry.unwrap().life_event, pb::LifeEvent::MoveWithin as i32);
    let expired = qr_signer().encode(&entry, now - 7_200, now - 3_600).unwrap();
    let e = counter
        .submit_evidence(pb::SubmitEvidenceRequest {
            session_id: session.clone(),
            evidence: Some(Evidence::Qr(pb::QrEvidence { payload: expired })),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.get_details_error_info().unwrap().reason.as_str()),
        (Code::InvalidArgument, "QR_EXPIRED")
    );
    let ocr_json = serde_json::json!({
        "engine": "test",
        "document_type": "drivers_license",
        "fields": {
            "name": {"value": kasai.name.full().as_str(), "confidence": 0.97},
            "birth_date": {"value": "平成元年1月8日", "confidence": 0.93},
            "sex": {"value": "男", "confidence": 0.99},
            "address": {"value": address, "confidence": 0.95},
        }
    });
    let (by_ocr, found_ocr, _) =
        submit(&mut counter, &session, Evidence::Ocr(pb::OcrEvidence { json: ocr_json.to_string() })).await;
    assert_eq!(identity_key(&by_qr), identity_key(&by_card), "QR and card give the same identity");
    assert_eq!(identity_key(&by_ocr), identity_key(&by_card), "OCR and card give the same identity");
    assert_eq!((found_qr, found_ocr), (found.clone(), found));
    assert_eq!(
        (by_card.channel.as_str(), by_qr.channel.as_str(), by_ocr.channel.as_str()),
        ("card", "qr", "ocr")
    );

    remove(inserted).await;
    let event = tokio::time::timeout(Duration::from_secs(10), next_card_event(&mut watch)).await.unwrap();
    assert_eq!(event.kind, "removed");
    // Open streams would hold the gateway's graceful shutdown.
    drop((watch, readers));
    h.gateway.shutdown().await.unwrap();
}

#[tokio::test]
async fn wrong_pins_count_down_the_last_try_waits_for_staff_and_a_blocked_card_says_so() {
    let Some(_vpcd) = virtual_reader().await else { return };
    let h = start().await;
    let session = h.open_session(&mut h.counter().await).await;
    let inserted = insert(my_number_card(&h, HardCase::ShowaLastDay), None).await;
    let mut c = cards(&h).await;

    for expected in ["2", "1"] {
        let e = c.read_card(read_request(&session, "0000")).await.unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        assert_eq!(reason(&e), ("WRONG_PIN".into(), Some(expected.into())));
        assert!(!e.message().contains("0000"), "{}", e.message());
    }
    // One try left: not even the right PIN is sent without staff's word.
    let e = c.read_card(read_request(&session, PIN)).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).0.as_str()), (Code::FailedPrecondition, "LAST_PIN_TRY"));
    let probe = c.read_card(read_request(&session, "")).await.unwrap().into_inner();
    assert_eq!(probe.pin_tries_left, 1, "the refused read spent nothing");

    let confirmed = pb::ReadCardRequest { staff_confirmed_last_try: true, ..read_request(&session, "0000") };
    let e = c.read_card(confirmed).await.unwrap_err();
    assert_eq!(reason(&e).0, "PIN_BLOCKED");
    let e = c.read_card(read_request(&session, PIN)).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).0.as_str()), (Code::FailedPrecondition, "PIN_BLOCKED"));
    assert_eq!(c.read_card(read_request(&session, "")).await.unwrap().into_inner().pin_tries_left, 0);
    let card = remove(inserted).await;
    assert_eq!(card.tries_left(), 0);
    h.gateway.shutdown().await.unwrap();
}

#[tokio::test]
async fn removal_mid_read_and_a_malformed_chip_get_their_own_errors() {
    let Some(_vpcd) = virtual_reader().await else { return };
    let h = start().await;
    let session = h.open_session(&mut h.counter().await).await;
    let mut c = cards(&h).await;

    // Pulled out during the second READ BINARY of file 0002.
    let inserted =
        insert(my_number_card(&h, HardCase::IvsName), Some(RemoveDuring { ins: 0xB0, nth: 2 })).await;
    let e = c.read_card(read_request(&session, PIN)).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).0.as_str()), (Code::Aborted, "CARD_REMOVED"), "{}", e.message());
    assert!(inserted.is_removed());
    remove(inserted).await;

    let mut corrupt = MyNumberCard::for_resident(h.population.hard_case(HardCase::IvsName).unwrap(), PIN);
    let name_at = corrupt.basic_facts_file.windows(2).position(|w| w == [0xDF, 0x22]).unwrap();
    corrupt.basic_facts_file[name_at + 2] = 0x80; // indefinite length
    let inserted = insert(CardImage::MyNumber(corrupt), None).await;
    let e = c.read_card(read_request(&session, PIN)).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).0.as_str()), (Code::DataLoss, "MALFORMED_CARD_DATA"));
    assert_eq!(
        e.message(),
        format!(
            "file 0002 (basic four facts): malformed data at byte {}: indefinite length (0x80) is not allowed",
            name_at + 2
        )
    );
    remove(inserted).await;
    h.gateway.shutdown().await.unwrap();
}

#[tokio::test]
async fn individual_numbers_only_for_permitted_staff_and_licenses_flag_gaiji() {
    let Some(_vpcd) = virtual_reader().await else { return };
    let h = start().await;
    let mut counter = h.counter().await;
    let session = h.open_session(&mut counter).await; // staff-042: not permitted
    let mut supervisor = CounterServiceClient::new(h.channel_as(SUPERVISOR).await);
    let permitted = supervisor
        .open_session(pb::OpenSessionRequest { counter_id: COUNTER.into() })
        .await
        .unwrap()
        .into_inner()
        .session_id;
    let mut c = cards(&h).await;

    let inserted = insert(my_number_card(&h, HardCase::IvsName), None).await;
    let ask = |s: &str| pb::ReadCardRequest { read_individual_number: true, ..read_request(s, PIN) };
    let e = c.read_card(ask(&session)).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let mut supervisor_cards = CardServiceClient::new(h.channel_as(SUPERVISOR).await);
    let read = supervisor_cards.read_card(ask(&permitted)).await.unwrap().into_inner();
    let expected = h.population.hard_case(HardCase::IvsName).unwrap().individual_number.clone().unwrap();
    assert_eq!(read.individual_number, expected.expose());
    remove(inserted).await;

    let saki = h.population.hard_case(HardCase::SakiVariant).unwrap();
    let license = DriversLicense::for_resident(saki, "5678", Date::from_ymd(2024, 3, 1).unwrap());
    let inserted = insert(CardImage::DriversLicense(license), None).await;
    let read = c.read_card(read_request(&session, "5678")).await.unwrap().into_inner();
    assert_eq!(read.card, pb::CardKind::DriversLicense as i32);
    let facts = read.facts.unwrap();
    assert_eq!(facts.name, "山〓\u{3000}健二", "﨑 is outside JIS X 0208: a marker, not a guess");
    assert_eq!(read.needs_confirmation, ["facts.name", "facts.sex"]);
    assert_eq!(facts.sex, pb::Sex::Unspecified as i32);
    remove(inserted).await;
    h.gateway.shutdown().await.unwrap();
}
