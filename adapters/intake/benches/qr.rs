//! Pre-entry QR payloads: size for households of 1 to 8 people, and the time to make and read
//! one, against a plain serde_json round trip of the same pre-entry as the baseline.
//!
//! cargo bench -p renkei-adapter-intake --bench qr

use criterion::{Criterion, criterion_group, criterion_main};
use renkei_adapter_intake::{PreEntry, PreEntryPerson, QrSigner, QrVerifier, image};
use renkei_conformance::population::{HardCase, Population};
use renkei_model::{LifeEvent, MojiText, Resident};

const SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

fn person(r: &Resident) -> PreEntryPerson {
    PreEntryPerson {
        name: r.name.full(),
        name_kana: r.name.full_kana().map(|k| MojiText::new(k).unwrap()),
        birth_date: r.birth_date,
        sex: r.sex,
        relationship: Some(r.relationship.clone()),
    }
}

/// A move-in of the first `n` people of the synthetic household of ten, with the questionnaire
/// answers a move-in asks for.
fn household(n: usize) -> PreEntry {
    let population = Population::generate(HardCase::MIN_POPULATION, 1);
    let head = population.hard_case(HardCase::HouseholdOfTen).unwrap();
    let members = &population.household(&head.household_number).unwrap().members;
    let address = head.address.as_ref().unwrap().one_line();
    PreEntry {
        life_event: LifeEvent::MoveIn,
        event_date: Some(renkei_model::Date::from_ymd(2026, 11, 20).unwrap()),
        applicant: person(&members[0]),
        address: Some(MojiText::new("東京都世田谷区太子堂四丁目1番1号　キャロットタワー1203").unwrap()),
        new_address: Some(MojiText::new(address).unwrap()),
        members: members[1..n].iter().map(person).collect(),
        answers: [
            ("moving_from_municipality", "131121"),
            ("school_age_children", "yes"),
            ("national_health_insurance", "join"),
            ("child_allowance", "apply"),
            ("pension_type", "employee"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    }
}

fn bench(c: &mut Criterion) {
    let signer = QrSigner::from_hex("2026a", SECRET).unwrap();
    let verifier = QrVerifier::from_hex_keys(&[("2026a".to_owned(), signer.public_hex())].into()).unwrap();
    let (issued, expires) = (1_795_000_000, 1_796_209_600);

    println!("\npeople | JSON bytes | payload chars | QR version (level M)");
    for n in 1..=8 {
        let entry = household(n);
        let payload = signer.encode(&entry, issued, expires).unwrap();
        let json = serde_json::to_string(&entry).unwrap().len();
        let version = image::version_of(&image::qr_code(&payload).unwrap());
        println!("{n} | {json} | {} | {version}", payload.len());
    }

    let six = household(6);
    let payload = signer.encode(&six, issued, expires).unwrap();
    let mut group = c.benchmark_group("qr_household_of_6");
    group.bench_function("baseline: serde_json round trip", |b| {
        b.iter(|| {
            let json = serde_json::to_string(&six).unwrap();
            serde_json::from_str::<PreEntry>(&json).unwrap()
        })
    });
    group.bench_function("make payload (encode, deflate, sign)", |b| {
        b.iter(|| signer.encode(&six, issued, expires).unwrap())
    });
    group.bench_function("read payload (verify, inflate, decode)", |b| {
        b.iter(|| verifier.decode(&payload, issued + 1).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
