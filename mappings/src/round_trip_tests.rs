//! Round trips of the synthetic population through the default mappings: canonical → system →
//! canonical gives back every value a mapping declares lossless (IVS and MJ+ names included),
//! and every lossy shrink is reported.

use renkei_conformance::population::{HardCase, Population};
use renkei_model::Resident;

use crate::charset::Shrink;
use crate::{CanonicalRecord, Mapping, MappingSet, Report};

fn population() -> Population {
    Population::generate(3_000, 11)
}

/// canonical → system → bytes → system → canonical, as an adapter would run it.
fn through(m: &Mapping, resident: &Resident) -> (CanonicalRecord, CanonicalRecord, Report, Vec<u8>) {
    let canonical = CanonicalRecord::from_resident(m.schema(), resident);
    let mut system = m.new_system();
    let mut report = Report::default();
    m.to_system(&canonical, &mut system, &mut report)
        .unwrap_or_else(|e| panic!("{}: {}: {e}", m.id, resident.atena_number));
    let mut bytes = Vec::new();
    m.encode(&system, &mut bytes).unwrap();
    let mut read = m.new_system();
    m.decode(&bytes, &mut read).unwrap_or_else(|e| panic!("{}: {}: {e}", m.id, resident.atena_number));
    assert_eq!(read, system, "{}: the record reads back as written", m.id);
    let mut back = m.new_canonical();
    m.to_canonical(&read, &mut back).unwrap();
    (canonical, back, report, bytes)
}

#[test]
fn utf8_mappings_give_every_resident_back_exactly() {
    let set = MappingSet::embedded().unwrap();
    let population = population();
    for id in ["resident-record/atena@1", "resident-record/atena-extract@1"] {
        let m = set.mapping_by_id(id).unwrap();
        for resident in population.residents() {
            let (_, back, report, _) = through(m, resident);
            assert!(report.is_lossless(), "{id}: UTF-8 needs no shrink");
            let back = back.to_resident().unwrap_or_else(|e| panic!("{id}: {}: {e}", resident.atena_number));
            // The resident record's 宛名 record never carries the individual number.
            let expected = Resident { individual_number: None, ..resident.clone() };
            assert_eq!(back, expected, "{id}: {}", resident.atena_number);
        }
    }
    let kasai = population.hard_case(HardCase::IvsName).unwrap();
    assert_eq!(kasai.name.family.as_str(), "葛\u{E0100}西");
}

#[test]
fn the_change_feed_carries_the_reason_and_date() {
    let set = MappingSet::embedded().unwrap();
    let m = set.mapping_by_id("resident-record/atena-diff@1").unwrap();
    let resident = Resident {
        individual_number: None,
        ..population().hard_case(HardCase::PrivateUseName).unwrap().clone()
    };
    let mut canonical = CanonicalRecord::from_resident(m.schema(), &resident);
    canonical.set_change("move_within", renkei_model::Date::from_ymd(2026, 11, 21).unwrap());
    let (mut system, mut report) = (m.new_system(), Report::default());
    m.to_system(&canonical, &mut system, &mut report).unwrap();
    let json = m.system_to_json(&system);
    assert_eq!(json["jiyu"], "転居");
    assert_eq!(json["idou_date"], "20261121");
    assert_eq!(json["record"]["shi"].as_str().unwrap(), resident.name.family.as_str());
    let mut back = m.new_canonical();
    m.to_canonical(&system, &mut back).unwrap();
    assert_eq!(back, canonical);
}

#[test]
fn shift_jis_layout_keeps_lossless_items_and_reports_every_shrink() {
    let set = MappingSet::embedded().unwrap();
    let m = set.mapping_by_id("nhi/member@1").unwrap();
    let population = population();
    let mut shrunk = 0;
    for resident in population.residents() {
        let (canonical, _, report, bytes) = through(m, resident);
        assert_eq!(bytes.len(), m.record_length().unwrap());
        let mut system = m.new_system();
        m.decode(&bytes, &mut system).unwrap();
        let failures = m.round_trip_failures(&canonical, &system, &report);
        assert!(failures.is_empty(), "{}: {failures:?}", resident.atena_number);
        if !report.is_lossless() {
            shrunk += 1;
        }
    }
    assert!(shrunk >= 5, "the hard cases include names outside JIS X 0208");

    let shrink_of = |case: HardCase| {
        let (_, _, report, _) = through(m, population.hard_case(case).unwrap());
        report
            .degenerations
            .iter()
            .map(|d| (d.degeneration.from.clone(), d.degeneration.to.clone(), d.degeneration.how))
            .collect::<Vec<_>>()
    };
    assert_eq!(shrink_of(HardCase::IvsName), [("葛\u{E0100}".into(), "葛".into(), Shrink::SelectorDropped)]);
    assert_eq!(shrink_of(HardCase::TakaVariant), [("髙".into(), "高".into(), Shrink::ShrinkMap)]);
    assert_eq!(shrink_of(HardCase::SakiVariant), [("﨑".into(), "崎".into(), Shrink::ShrinkMap)]);
    assert_eq!(shrink_of(HardCase::PrivateUseName), [("\u{F0101}".into(), "〓".into(), Shrink::Replaced)]);

    // A JIS X 0208 name comes back exactly, and the record is lossless.
    let plain = population.residents().find(|r| r.name.family.as_str() == "田村").unwrap();
    let (canonical, back, report, _) = through(m, plain);
    assert!(report.is_lossless());
    for path in
        ["name.family", "name.given", "name.family_kana", "birth_date", "relationship", "address.town"]
    {
        assert_eq!(back.get(path), canonical.get(path), "{path}");
    }
}

#[test]
fn a_character_read_differently_by_other_decoders_is_shrunk_and_reported_with_its_item() {
    let set = MappingSet::embedded().unwrap();
    let m = set.mapping_by_id("nhi/member@1").unwrap();
    assert_eq!(m.charset, crate::Charset::ShiftJis);
    let population = population();
    let mut resident = population
        .residents()
        .find(|r| r.address.is_some() && through(m, r).2.is_lossless())
        .expect("a resident with an address in JIS X 0208")
        .clone();
    let address = resident.address.as_mut().unwrap();
    // ～ U+FF5E is Windows-31J's 0x8160; a strict Shift_JIS decoder reads 0x8160 as 〜 U+301C.
    address.banchi = renkei_model::MojiText::new("1～3番").unwrap();
    let (canonical, back, report, bytes) = through(m, &resident);
    let [d] = &report.degenerations[..] else { panic!("{:?}", report.degenerations) };
    assert_eq!(m.items[d.item].label(), "K01-018 住所（番地） (banchi)");
    assert_eq!((d.degeneration.from.as_str(), d.degeneration.to.as_str()), ("～", "〜"));
    assert_eq!(d.degeneration.how, Shrink::Counterpart);
    assert!(bytes.windows(2).any(|w| w == [0x81, 0x60]));
    assert_eq!(back.get("address.banchi").unwrap().to_text(), "1〜3番");
    let mut system = m.new_system();
    m.decode(&bytes, &mut system).unwrap();
    assert_eq!(m.round_trip_failures(&canonical, &system, &report), Vec::<String>::new());
}

#[test]
fn debug_output_masks_the_individual_number() {
    let set = MappingSet::embedded().unwrap();
    let resident = population().hard_case(HardCase::IvsName).unwrap().clone();
    let digits =
        resident.individual_number.as_ref().expect("the population gives numbers").expose().to_owned();
    let canonical = CanonicalRecord::from_resident(set.schema(crate::CanonicalKind::Resident), &resident);
    let shown = format!("{canonical:?}");
    assert!(!shown.contains(&digits), "{shown}");
    assert!(shown.contains("\"individual_number\": \"************\""), "{shown}");
}

#[test]
fn files_framed_by_a_layout_split_back_into_its_records() {
    let set = MappingSet::embedded().unwrap();
    let residents: Vec<_> = population().residents().take(3).cloned().collect();
    for id in ["nhi/member@1", "resident-record/atena-extract@1", "resident-record/atena@1"] {
        let m = set.mapping_by_id(id).unwrap();
        let mut file = m.file_header().unwrap_or_default();
        let mut records = Vec::new();
        for resident in &residents {
            let (_, _, _, bytes) = through(m, resident);
            file.extend_from_slice(&bytes);
            file.extend_from_slice(m.file_separator());
            records.push(bytes);
        }
        let split = m.split_file(&file).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(split, records.iter().map(Vec::as_slice).collect::<Vec<_>>(), "{id}");
    }
    let fixed = set.mapping_by_id("nhi/member@1").unwrap();
    let e = fixed.split_file(b"short").unwrap_err();
    assert!(e.rule.contains("not a whole number"), "{e}");
}
