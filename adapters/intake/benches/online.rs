//! Online application XML: applications ingested per second through the built-in XML mapping
//! (stream, walk the layout, map, validate against the catalog), against a plain quick-xml event
//! scan of the same file as the baseline.
//!
//! cargo bench -p renkei-adapter-intake --bench online

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quick_xml::events::Event;
use renkei_adapter_intake::online::{OnlineIntake, OnlineLimits};
use renkei_conformance::population::Population;
use renkei_mappings::MappingSet;
use renkei_model::Resident;

const APPLICATIONS: usize = 1000;

/// A 児童手当 claim (two children) or a nursery application (three preferences, the
/// household), alternately, for synthetic residents.
fn application(i: usize, people: &[&Resident]) -> String {
    let p = |k: usize| people[(i * 3 + k) % people.len()];
    let name = |r: &Resident| r.name.full().to_string();
    let address = |r: &Resident| r.address.as_ref().map(|a| a.one_line().to_string()).unwrap_or_default();
    let birth = |r: &Resident| r.birth_date.to_string().replace('-', "");
    let (a, b, c) = (p(0), p(1), p(2));
    if i % 2 == 0 {
        format!(
            "<ShinseiData tetsuzukiCode=\"KOSODATE-0001\" uketsukeBango=\"R08{i:011}\">\
<ShinseiBi>2026-04-10</ShinseiBi><Shinseisha><AtenaBango>{}</AtenaBango></Shinseisha>\
<JidouTeate seikyuJiyu=\"1\"><Seikyusha><Shimei>{}</Shimei><SeinenGappi>{}</SeinenGappi><Jusho>{}</Jusho></Seikyusha>\
<Kodomo><AtenaBango>{}</AtenaBango><Shimei>{}</Shimei></Kodomo><Kodomo><AtenaBango>{}</AtenaBango><Shimei>{}</Shimei></Kodomo>\
<KodomoSu>2</KodomoSu><Nenkin>厚生年金</Nenkin><Koza><KinyuKikan>横浜信用金庫 鶴見支店</KinyuKikan><KinyuKikanCode>1280</KinyuKikanCode><ShitenCode>012</ShitenCode><KozaBango>1234567</KozaBango><Meigi>カサイ　タロウ</Meigi></Koza>\
<JiyuHasseiBi>20260401</JiyuHasseiBi></JidouTeate></ShinseiData>\n",
            a.atena_number,
            name(a),
            birth(a),
            address(a),
            b.atena_number,
            name(b),
            c.atena_number,
            name(c),
        )
    } else {
        format!(
            "<ShinseiData tetsuzukiCode=\"KOSODATE-0011\" uketsukeBango=\"R08{i:011}\">\
<ShinseiBi>2026-04-11</ShinseiBi><Shinseisha><AtenaBango>{}</AtenaBango></Shinseisha><Hoiku>\
<Jido><AtenaBango>{}</AtenaBango><Shimei>{}</Shimei><SeinenGappi>{}</SeinenGappi></Jido>\
<NinteiKubun>3号認定（3歳未満）</NinteiKubun><Hogosha><Shimei>{}</Shimei><Jusho>{}</Jusho><DenwaBango>045-000-0000</DenwaBango></Hogosha>\
<Kazoku><Member>{}（世帯主）</Member><Member>{}（子）</Member></Kazoku><HoikuJiyu>就労</HoikuJiyu><KiboBi>20261001</KiboBi>\
<KiboShisetsu><Dai1>鶴見中央保育園</Dai1><Dai2>豊岡保育園</Dai2><Dai3>生麦保育園</Dai3></KiboShisetsu></Hoiku></ShinseiData>\n",
            a.atena_number,
            b.atena_number,
            name(b),
            birth(b),
            name(a),
            address(a),
            name(a),
            name(b),
        )
    }
}

fn bench(c: &mut Criterion) {
    let population = Population::generate(500, 7);
    // Applicants have an address (the population also holds a person with no fixed address).
    let people: Vec<&Resident> = population.residents().filter(|r| r.address.is_some()).collect();
    let mut doc = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ShinseiDataList>\n");
    for i in 0..APPLICATIONS {
        doc.push_str(&application(i, &people));
    }
    doc.push_str("</ShinseiDataList>\n");
    let set = MappingSet::embedded().unwrap();
    let intake = OnlineIntake::new(&set, None, OnlineLimits::default()).unwrap();
    let check = intake.read("bench.xml", doc.as_bytes());
    assert_eq!(check.refused, [], "the benchmark file must be read whole");
    assert_eq!(check.applications.len(), APPLICATIONS);

    let mut group = c.benchmark_group("online_applications");
    group.throughput(Throughput::Elements(APPLICATIONS as u64));
    group.bench_function("baseline: quick-xml event scan", |b| {
        b.iter(|| {
            let mut reader = quick_xml::Reader::from_reader(doc.as_bytes());
            let mut buf = Vec::new();
            let mut events = 0u64;
            loop {
                match reader.read_event_into(&mut buf).unwrap() {
                    Event::Eof => break,
                    e => {
                        black_box(&e);
                        events += 1;
                    }
                }
                buf.clear();
            }
            black_box(events)
        })
    });
    group.bench_function("online intake (stream, map, validate)", |b| {
        b.iter(|| black_box(intake.read("bench.xml", doc.as_bytes())).applications.len())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
