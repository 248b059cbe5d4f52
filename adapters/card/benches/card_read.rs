//! A full basic-facts read of a My Number card (identify, ask the tries left, verify the PIN,
//! read file 0002): APDUs and wall time through pcscd and vpcd, against the same read answered
//! in-process by the same emulated card (no PC/SC) as the baseline; and the vpcd cases again
//! with the emulator's delayed acknowledgements left on (before TCP_QUICKACK).
//!
//! Needs pcscd with the vsmartcard-vpcd driver (`pcscd --foreground &`), and nothing else using
//! vpcd's first slot.
//!
//! cargo bench -p renkei-adapter-card --bench card_read

use criterion::{Criterion, criterion_group, criterion_main};
use renkei_adapter_card::pcsc::PcscReaders;
use renkei_adapter_card::{CardChannel, CardError, Command, Counted, Pin, ReadRequest, Response, read_card};
use renkei_conformance::card_emulator::{
    CardImage, DEFAULT_VPCD, EmulatedCard, InsertedCard, MyNumberCard, VPCD_READER,
};
use renkei_conformance::population::{HardCase, Population};

struct InProcess(EmulatedCard);

impl CardChannel for InProcess {
    fn transmit(&mut self, command: &Command) -> Result<Response, CardError> {
        Response::from_bytes(&self.0.process(&command.to_bytes()))
    }
}

fn bench(c: &mut Criterion) {
    let population = Population::generate(HardCase::MIN_POPULATION, 1);
    let kasai = population.hard_case(HardCase::IvsName).unwrap();
    let card = EmulatedCard::new(CardImage::MyNumber(MyNumberCard::for_resident(kasai, "1234")));
    let request = ReadRequest { pin: Some(Pin::parse("1234").unwrap()), ..ReadRequest::default() };

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let inserted = runtime
        .block_on(InsertedCard::insert(card.clone(), DEFAULT_VPCD))
        .expect("pcscd with vpcd must be running for this benchmark");
    let readers = PcscReaders::establish().unwrap();
    wait_for_card(&readers, true);

    let mut in_process = Counted::new(InProcess(card));
    read_card(&mut in_process, &request).unwrap();
    let mut over_vpcd = Counted::new(readers.connect(Some(VPCD_READER)).unwrap());
    read_card(&mut over_vpcd, &request).unwrap();
    println!(
        "\nAPDUs per basic-facts read: in-process {}, over pcscd+vpcd {}",
        in_process.sent(),
        over_vpcd.sent()
    );
    drop(over_vpcd);

    let mut group = c.benchmark_group("my_number_basic_facts_read");
    group.sample_size(30);
    group.bench_function("baseline: in-process emulated card", |b| {
        b.iter(|| {
            let mut ch = InProcess(in_process_card(&population));
            read_card(&mut ch, &request).unwrap()
        })
    });
    group.bench_function("pcscd + vpcd: connect and read", |b| {
        b.iter(|| {
            let mut card = readers.connect(Some(VPCD_READER)).unwrap();
            read_card(&mut card, &request).unwrap()
        })
    });
    let mut connected = readers.connect(Some(VPCD_READER)).unwrap();
    group.bench_function("pcscd + vpcd: read on a connected card", |b| {
        b.iter(|| read_card(&mut connected, &request).unwrap())
    });
    drop(connected);
    let card = runtime.block_on(inserted.remove()).unwrap();
    wait_for_card(&readers, false);

    // The same card with the emulator's delayed acknowledgements left on (no TCP_QUICKACK):
    // what the link cost before, measured in the same run.
    let inserted = runtime.block_on(InsertedCard::insert_with_delayed_acks(card, DEFAULT_VPCD)).unwrap();
    wait_for_card(&readers, true);
    group.bench_function("pcscd + vpcd, delayed ACKs: connect and read", |b| {
        b.iter(|| {
            let mut card = readers.connect(Some(VPCD_READER)).unwrap();
            read_card(&mut card, &request).unwrap()
        })
    });
    let mut connected = readers.connect(Some(VPCD_READER)).unwrap();
    group.bench_function("pcscd + vpcd, delayed ACKs: read on a connected card", |b| {
        b.iter(|| read_card(&mut connected, &request).unwrap())
    });
    drop(connected);
    group.finish();
    runtime.block_on(inserted.remove()).unwrap();
}

/// Wait until pcscd sees the card in vpcd's slot (or sees it gone).
fn wait_for_card(readers: &PcscReaders, present: bool) {
    for _ in 0..100 {
        if readers.list().unwrap().iter().any(|r| r.name == VPCD_READER && r.card_present == present) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn in_process_card(population: &Population) -> EmulatedCard {
    let kasai = population.hard_case(HardCase::IvsName).unwrap();
    EmulatedCard::new(CardImage::MyNumber(MyNumberCard::for_resident(kasai, "1234")))
}

criterion_group!(benches, bench);
criterion_main!(benches);
