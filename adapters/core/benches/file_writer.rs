//! Record file writing: renkei's writer (strict encoding, padding, atomic publication with
//! fsync and a completion file) against plain CSV writes of the same rows with the `csv` crate.
//! The "unpublished" case drops the writer instead of finishing it, to separate the cost per
//! record from the fixed cost of publishing a file (two fsyncs of files, two of the directory).
//!
//! `cargo bench -p renkei-adapter-core --bench file_writer`

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use renkei_adapter_core::file::{
    Charset, FieldSpec, Format, Pad, RecordFileWriter, RecordFormat, RecordLayout,
};

const RECORDS: usize = 10_000;

#[path = "../src/file/fixtures.rs"]
mod fixtures;

fn rows() -> Vec<Vec<String>> {
    fixtures::people(RECORDS)
}

/// Time `write` only; removing what it wrote is outside the measurement.
fn timed(dir: &Path, iters: u64, mut write: impl FnMut(&Path, &str)) -> Duration {
    let mut total = Duration::ZERO;
    for i in 0..iters {
        let name = format!("F{i}.DAT");
        let start = Instant::now();
        write(dir, &name);
        total += start.elapsed();
        for entry in fs::read_dir(dir).unwrap() {
            fs::remove_file(entry.unwrap().path()).unwrap();
        }
    }
    total
}

fn renkei_writer(dir: &Path, name: &str, format: &RecordFormat, layout: &RecordLayout, rows: &[Vec<String>]) {
    let mut w = RecordFileWriter::create(dir, name, format, layout).unwrap();
    for row in rows {
        w.write_record(row).unwrap();
    }
    w.finish().unwrap();
}

/// Encode and write, then drop the writer: no fsync, no publication, the temporary file goes.
fn renkei_unpublished(
    dir: &Path,
    name: &str,
    format: &RecordFormat,
    layout: &RecordLayout,
    rows: &[Vec<String>],
) {
    let mut w = RecordFileWriter::create(dir, name, format, layout).unwrap();
    for row in rows {
        w.write_record(row).unwrap();
    }
    drop(w);
}

fn plain_csv(dir: &Path, name: &str, rows: &[Vec<String>], fsync: bool) {
    let file = File::create(dir.join(name)).unwrap();
    let mut w = csv::Writer::from_writer(BufWriter::with_capacity(256 * 1024, file));
    for row in rows {
        w.write_record(row).unwrap();
    }
    let mut out = w.into_inner().map_err(|e| e.into_error()).unwrap();
    out.flush().unwrap();
    if fsync {
        out.get_ref().sync_all().unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let rows = rows();
    let layout = fixtures::layout();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("file_writer");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(30);
    group.bench_function("baseline: csv crate, UTF-8, no fsync", |b| {
        b.iter_custom(|iters| timed(dir.path(), iters, |d, n| plain_csv(d, n, &rows, false)))
    });
    group.bench_function("baseline: csv crate, UTF-8, fsync", |b| {
        b.iter_custom(|iters| timed(dir.path(), iters, |d, n| plain_csv(d, n, &rows, true)))
    });
    let csv_utf8 = RecordFormat::new(Format::Csv, Charset::Utf8);
    group.bench_function("renkei: CSV, UTF-8", |b| {
        b.iter_custom(|iters| timed(dir.path(), iters, |d, n| renkei_writer(d, n, &csv_utf8, &layout, &rows)))
    });
    let csv_sjis = RecordFormat::new(Format::Csv, Charset::Cp932);
    group.bench_function("renkei: CSV, Windows-31J", |b| {
        b.iter_custom(|iters| timed(dir.path(), iters, |d, n| renkei_writer(d, n, &csv_sjis, &layout, &rows)))
    });
    let fixed_sjis = RecordFormat::new(Format::Fixed, Charset::Cp932);
    group.bench_function("renkei: fixed-length, Windows-31J", |b| {
        b.iter_custom(|iters| {
            timed(dir.path(), iters, |d, n| renkei_writer(d, n, &fixed_sjis, &layout, &rows))
        })
    });
    group.bench_function("renkei: fixed-length, Windows-31J, unpublished", |b| {
        b.iter_custom(|iters| {
            timed(dir.path(), iters, |d, n| renkei_unpublished(d, n, &fixed_sjis, &layout, &rows))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
