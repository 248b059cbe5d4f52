//! Pick-up killed with SIGKILL mid-file, restarted, and checked for lost and repeated records.
//!
//! The parent test re-runs this test binary as a child process that picks up three files
//! slowly, kills it at unpredictable points a few times, then lets a last child finish.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tests::{fixed_sjis, layout, people};
use super::*;

const ENV_DIR: &str = "RENKEI_PICKUP_CRASH_DIR";
const ENV_MODE: &str = "RENKEI_PICKUP_CRASH_MODE";
const FILES: usize = 3;
const PER_FILE: usize = 2000;
const BATCH: usize = 40;
const KILLS: usize = 3;

fn file_name(i: usize) -> String {
    format!("JUMIN_DIFF_{i:02}.DAT")
}

/// The caller's own storage, kept transactionally: each batch and its progress are appended in
/// one write and fsynced; on open, a batch whose progress line did not make it is cut off.
struct Journal {
    file: File,
    committed: HashMap<String, Progress>,
}

impl Journal {
    fn open(path: &Path) -> Self {
        let text = fs::read(path).unwrap_or_default();
        let mut keep = 0;
        let mut committed = HashMap::new();
        let mut start = 0;
        for (i, &b) in text.iter().enumerate() {
            if b != b'\n' {
                continue;
            }
            let line = &text[start..i];
            if let Some(json) = line.strip_prefix(b"P\t") {
                let progress: Progress = serde_json::from_slice(json).unwrap();
                committed.insert(progress.file.name.clone(), progress);
                keep = i + 1;
            }
            start = i + 1;
        }
        let file = OpenOptions::new().create(true).append(true).open(path).unwrap();
        file.set_len(keep as u64).unwrap();
        file.sync_all().unwrap();
        Self { file, committed }
    }
}

impl PickupSink for Journal {
    fn resume_point(&mut self, file: &FileKey) -> Result<Option<Progress>, pickup::SinkError> {
        Ok(self.committed.get(&file.name).cloned())
    }

    fn accept(&mut self, batch: Batch) -> Result<(), pickup::SinkError> {
        std::thread::sleep(Duration::from_millis(1));
        let mut out = record_lines(&batch);
        out.extend_from_slice(b"P\t");
        out.extend_from_slice(&serde_json::to_vec(&batch.progress)?);
        out.push(b'\n');
        self.file.write_all(&out)?;
        self.file.sync_data()?;
        self.committed.insert(batch.progress.file.name.clone(), batch.progress);
        Ok(())
    }
}

fn record_lines(batch: &Batch) -> Vec<u8> {
    let mut out = Vec::new();
    for r in &batch.records {
        out.extend_from_slice(
            format!("R\t{}\t{}\t{}\n", batch.progress.file.name, r.number, r.fields.join("\u{1f}"))
                .as_bytes(),
        );
    }
    out
}

/// The child: pick everything up from `outbox`, with progress in the journal or in a progress
/// file. Run only by the parent test, which sets the environment.
#[test]
#[ignore = "run as a child process by pickup_survives_sigkill_mid_file"]
fn pickup_child() {
    let Ok(dir) = std::env::var(ENV_DIR) else { return };
    let dir = PathBuf::from(dir);
    let outbox = dir.join("outbox");
    let pickup = Pickup::new(&outbox, &fixed_sjis(), &layout(), BATCH).unwrap();
    match std::env::var(ENV_MODE).as_deref() {
        Ok("journal") => {
            let mut journal = Journal::open(&dir.join("journal"));
            pickup.run(&mut journal).unwrap();
        }
        _ => {
            let delivered_path = dir.join("delivered");
            // A batch cut by the kill may have left half a line: cut it (its progress was not saved).
            let text = fs::read(&delivered_path).unwrap_or_default();
            let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let mut delivered = OpenOptions::new().create(true).append(true).open(&delivered_path).unwrap();
            delivered.set_len(keep as u64).unwrap();
            let mut sink = WithProgressFile {
                progress: ProgressFile::open(&dir.join("progress.json")).unwrap(),
                handler: |batch: &Batch| -> Result<(), pickup::SinkError> {
                    std::thread::sleep(Duration::from_millis(1));
                    delivered.write_all(&record_lines(batch))?;
                    delivered.sync_data()?;
                    Ok(())
                },
            };
            pickup.run(&mut sink).unwrap();
        }
    }
}

fn spawn_child(dir: &Path, mode: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["file::crash_tests::pickup_child", "--exact", "--ignored", "--test-threads=1", "-q"])
        .env(ENV_DIR, dir)
        .env(ENV_MODE, mode)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn size(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

/// (file, record number) → fields, in the order they were stored.
fn stored(path: &Path) -> Vec<((String, u64), String)> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("R\t"))
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            let (file, number, fields) =
                (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
            ((file.to_owned(), number.parse().unwrap()), fields.to_owned())
        })
        .collect()
}

/// Start children and kill them as `log` grows, then let one finish; returns what was stored.
fn crash_and_finish(dir: &Path, mode: &str, log: &Path) -> Vec<((String, u64), String)> {
    let total = (FILES * PER_FILE) as u64;
    for kill in 1..=KILLS {
        let before = size(log);
        let mut child = spawn_child(dir, mode);
        let deadline = Instant::now() + Duration::from_secs(60);
        // Let it store a few dozen batches, then kill it wherever it is.
        while size(log) < before + 150_000 {
            assert!(
                child.try_wait().unwrap().is_none(),
                "{mode}: child {kill} finished before it was killed"
            );
            assert!(Instant::now() < deadline, "{mode}: child {kill} made no progress");
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let so_far = stored(log).len() as u64;
        assert!(so_far < total, "{mode}: killed after everything was stored; the test proves nothing");
    }
    let status = spawn_child(dir, mode).wait().unwrap();
    assert!(status.success(), "{mode}: the last child failed");
    stored(log)
}

fn setup(dir: &Path) -> Vec<Vec<String>> {
    let outbox = dir.join("outbox");
    fs::create_dir(&outbox).unwrap();
    let rows = people(FILES * PER_FILE);
    for (i, chunk) in rows.chunks(PER_FILE).enumerate() {
        let mut w = RecordFileWriter::create(&outbox, &file_name(i), &fixed_sjis(), &layout()).unwrap();
        for row in chunk {
            w.write_record(row).unwrap();
        }
        w.finish().unwrap();
    }
    rows
}

fn expected(rows: &[Vec<String>]) -> HashMap<(String, u64), String> {
    rows.chunks(PER_FILE)
        .enumerate()
        .flat_map(|(i, chunk)| {
            chunk.iter().enumerate().map(move |(n, row)| ((file_name(i), n as u64 + 1), row.join("\u{1f}")))
        })
        .collect()
}

fn assert_acknowledged(dir: &Path) {
    for i in 0..FILES {
        let ack = fs::read_to_string(dir.join("outbox").join(format!("{}.ack", file_name(i)))).unwrap();
        assert_eq!(ack, format!("status=accepted\nrecords={PER_FILE}\nrejected=0\n"));
    }
}

#[test]
fn pickup_survives_sigkill_mid_file() {
    // Progress stored with the records: every record exactly once.
    let dir = tempfile::tempdir().unwrap();
    let rows = setup(dir.path());
    let stored_records = crash_and_finish(dir.path(), "journal", &dir.path().join("journal"));
    let expected = expected(&rows);
    assert_eq!(stored_records.len(), expected.len(), "no record lost, none stored twice");
    let by_key: HashMap<_, _> = stored_records.into_iter().collect();
    assert_eq!(by_key, expected);
    assert_acknowledged(dir.path());

    // Progress in a progress file after the handler: nothing lost; a repeat is at most the
    // batch in flight at each kill, with the same record numbers and content.
    let dir = tempfile::tempdir().unwrap();
    let rows = setup(dir.path());
    let delivered = crash_and_finish(dir.path(), "progress-file", &dir.path().join("delivered"));
    let mut by_key: HashMap<(String, u64), String> = HashMap::new();
    let mut repeats = 0;
    for (key, fields) in delivered {
        if let Some(previous) = by_key.insert(key, fields.clone()) {
            assert_eq!(previous, fields, "a repeated record is the same record");
            repeats += 1;
        }
    }
    assert!(repeats <= KILLS * BATCH, "{repeats} repeats");
    assert_eq!(by_key, super::crash_tests::expected(&rows), "no record lost");
    assert_acknowledged(dir.path());
}
