//! Applying the default mappings per record, against a baseline measured in the same run.
//!
//! The records are the 宛名 records of a synthetic population as the resident record's API sends
//! them (JSON, resident-record/atena@1). The mapping path reads each record into the canonical
//! model and writes it as an NHI member record (nhi/member@1: fixed-length Shift_JIS, names
//! shrunk to JIS X 0208); the baseline parses the same JSON with serde_json and serializes it
//! back. Run: `cargo bench -p renkei-mappings --bench apply`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use renkei_conformance::population::Population;
use renkei_mappings::{CanonicalRecord, MappingSet, Report};

const RECORDS: usize = 10_000;

fn atena_json(set: &MappingSet) -> Vec<Vec<u8>> {
    let atena = set.mapping_by_id("resident-record/atena@1").unwrap();
    let (mut system, mut report) = (atena.new_system(), Report::default());
    Population::generate(RECORDS, 1)
        .residents()
        .map(|r| {
            let canonical = CanonicalRecord::from_resident(atena.schema(), r);
            atena.to_system(&canonical, &mut system, &mut report).unwrap();
            let mut bytes = Vec::new();
            atena.encode(&system, &mut bytes).unwrap();
            bytes
        })
        .collect()
}

fn apply(c: &mut Criterion) {
    let set = MappingSet::embedded().unwrap();
    let records = atena_json(&set);
    let atena = set.mapping_by_id("resident-record/atena@1").unwrap();
    let nhi = set.mapping_by_id("nhi/member@1").unwrap();

    let mut group = c.benchmark_group("atena JSON → NHI member record");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.sample_size(20);
    group.bench_function("baseline: serde_json parse + serialize", |b| {
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            for r in &records {
                let value: serde_json::Value = serde_json::from_slice(r).unwrap();
                out.clear();
                serde_json::to_writer(&mut out, &value).unwrap();
                black_box(&out);
            }
        })
    });
    group.bench_function("mapping: atena@1 → canonical → nhi/member@1", |b| {
        let (mut system, mut canonical) = (atena.new_system(), atena.new_canonical());
        let (mut member, mut report) = (nhi.new_system(), Report::default());
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            for r in &records {
                atena.decode(r, &mut system).unwrap();
                atena.to_canonical_taking(&mut system, &mut canonical).unwrap();
                report.clear();
                nhi.to_system(&canonical, &mut member, &mut report).unwrap();
                out.clear();
                nhi.encode(&member, &mut out).unwrap();
                black_box(&out);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, apply);
criterion_main!(benches);
