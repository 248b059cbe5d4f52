//! Bulk conversion: a whole file of one system's records through the canonical model into
//! another system's layout, streaming (memory stays bounded whatever the file's size).
//!
//! Records are read in batches; each batch is mapped on one of the worker threads and written
//! in input order. A record that does not map, or that the canonical model refuses (a 宛名番号
//! with a wrong check digit, an unknown 続柄), is reported with its line and never written; the
//! conversion goes on and says at the end how many failed and how many were refused.

use std::io::{self, BufRead, Write};
use std::sync::mpsc;

use crate::item::ApplyError;
use crate::mapping::{Mapping, Report};
use crate::spec::{Format, Separator};

/// Records per batch: large enough that handing batches between threads costs nothing, small
/// enough that a batch of long records stays a few megabytes.
const BATCH: usize = 4096;

/// Something a conversion tells its caller as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// So far: records read and bytes read.
    Progress { records: u64, bytes: u64 },
    /// A record that could not be converted (skipped).
    Failed { line: u64, error: &'a ApplyError },
    /// A record the canonical model refuses (not written): one event per broken rule, naming
    /// the canonical path and the rule, never the value.
    Refused { line: u64, path: &'a str, rule: &'a str },
    /// A record written with shrunk characters.
    Shrunk { line: u64, item: &'a str, from: &'a str, to: &'a str, how: &'a str },
}

/// Totals of a conversion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub records: u64,
    pub written: u64,
    pub failed: u64,
    /// Records the canonical model refuses (not written).
    pub refused: u64,
    /// Records with at least one shrunk character.
    pub shrunk: u64,
}

/// A conversion from one mapping's layout to another's.
#[derive(Debug)]
pub struct Conversion<'a> {
    from: &'a Mapping,
    to: &'a Mapping,
    threads: usize,
}

struct Done {
    index: u64,
    output: Vec<u8>,
    failures: Vec<(u64, ApplyError)>,
    refusals: Vec<(u64, Vec<(String, String)>)>,
    shrinks: Vec<(u64, String, String, String, String)>,
    written: u64,
    shrunk: u64,
    records: u64,
    bytes: u64,
}

impl<'a> Conversion<'a> {
    /// Both mappings must describe the same canonical kind, from the same set.
    pub fn new(from: &'a Mapping, to: &'a Mapping) -> Result<Conversion<'a>, String> {
        if from.kind != to.kind || from.schema() != to.schema() {
            return Err(format!(
                "{} maps {} records and {} maps {} records: a conversion goes through one canonical kind of one mapping set",
                from.id,
                from.kind.as_str(),
                to.id,
                to.kind.as_str()
            ));
        }
        if from.record_separator == Separator::None && from.format != Format::Fixed {
            return Err(format!("{}: records without a separator can only be fixed-length", from.id));
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Conversion { from, to, threads })
    }

    /// Worker threads (default: the machine's parallelism).
    #[must_use]
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Convert every record of `input` to `output`. Lines are counted from 1, the header line
    /// (if the source layout has one) included.
    pub fn run(
        &self,
        mut input: impl BufRead + Send,
        mut output: impl Write,
        mut events: impl FnMut(Event<'_>),
    ) -> io::Result<Totals> {
        let mut totals = Totals::default();
        let mut line_no: u64 = 0;
        let mut bytes_read: u64 = 0;
        if self.from.header {
            let mut header = Vec::new();
            bytes_read += input.read_until(b'\n', &mut header)? as u64;
            line_no += 1;
        }
        if let Some(header) = self.to.file_header() {
            output.write_all(&header)?;
        }
        let workers = self.threads;
        std::thread::scope(|scope| -> io::Result<()> {
            let (work_tx, work_rx) = mpsc::sync_channel::<(u64, u64, Vec<Vec<u8>>, u64)>(workers * 2);
            let work_rx = std::sync::Arc::new(std::sync::Mutex::new(work_rx));
            let (done_tx, done_rx) = mpsc::sync_channel::<Done>(workers * 2);
            for _ in 0..workers {
                let rx = work_rx.clone();
                let tx = done_tx.clone();
                scope.spawn(move || {
                    loop {
                        let job = rx.lock().map(|r| r.recv());
                        let Ok(Ok((index, first_line, records, bytes))) = job else { break };
                        if tx.send(self.convert_batch(index, first_line, records, bytes)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(done_tx);
            // The reader: batches of records to the workers.
            let reader = scope.spawn(move || -> io::Result<()> {
                let mut index = 0;
                loop {
                    let first_line = line_no + 1;
                    let mut batch = Vec::with_capacity(BATCH);
                    while batch.len() < BATCH {
                        let mut record = Vec::new();
                        let n = match self.from.record_separator {
                            Separator::None => {
                                record.resize(self.from.record_length().unwrap_or(0), 0);
                                read_exact_or_eof(&mut input, &mut record)?
                            }
                            _ => {
                                let n = input.read_until(b'\n', &mut record)?;
                                if record.ends_with(b"\n") {
                                    record.pop();
                                }
                                if record.ends_with(b"\r") {
                                    record.pop();
                                }
                                n
                            }
                        };
                        if n == 0 {
                            break;
                        }
                        bytes_read += n as u64;
                        line_no += 1;
                        batch.push(record);
                    }
                    if batch.is_empty() {
                        break;
                    }
                    let full = batch.len() == BATCH;
                    if work_tx.send((index, first_line, batch, bytes_read)).is_err() {
                        break;
                    }
                    index += 1;
                    if !full {
                        break;
                    }
                }
                drop(work_tx);
                Ok(())
            });
            // The writer (this thread): batches come back in any order and are written in input order.
            let mut pending = std::collections::BTreeMap::new();
            let mut next = 0u64;
            let mut t = Totals::default();
            for done in done_rx {
                pending.insert(done.index, done);
                while let Some(done) = pending.remove(&next) {
                    output.write_all(&done.output)?;
                    t.records += done.records;
                    t.written += done.written;
                    t.failed += done.failures.len() as u64;
                    t.refused += done.refusals.len() as u64;
                    t.shrunk += done.shrunk;
                    for (line, e) in &done.failures {
                        events(Event::Failed { line: *line, error: e });
                    }
                    for (line, broken) in &done.refusals {
                        for (path, rule) in broken {
                            events(Event::Refused { line: *line, path, rule });
                        }
                    }
                    for (line, item, from, to, how) in &done.shrinks {
                        events(Event::Shrunk { line: *line, item, from, to, how });
                    }
                    events(Event::Progress { records: t.records, bytes: done.bytes });
                    next += 1;
                }
            }
            output.flush()?;
            reader.join().map_err(|_| io::Error::other("the reader thread panicked"))??;
            totals = t;
            Ok(())
        })?;
        Ok(totals)
    }

    fn convert_batch(&self, index: u64, first_line: u64, records: Vec<Vec<u8>>, bytes: u64) -> Done {
        let (from, to) = (self.from, self.to);
        let mut system_in = from.new_system();
        let mut canonical = from.new_canonical();
        let mut system_out = to.new_system();
        let mut report = Report::default();
        let sep = to.record_separator.bytes();
        let mut done = Done {
            index,
            output: Vec::with_capacity(records.len() * (to.record_length().unwrap_or(200) + sep.len())),
            failures: Vec::new(),
            refusals: Vec::new(),
            shrinks: Vec::new(),
            written: 0,
            shrunk: 0,
            records: records.len() as u64,
            bytes,
        };
        for (i, record) in records.iter().enumerate() {
            let line = first_line + i as u64;
            if record.is_empty() && from.format != Format::Fixed {
                done.records -= 1;
                continue;
            }
            report.clear();
            let start = done.output.len();
            let read = from
                .decode(record, &mut system_in)
                .and_then(|()| from.to_canonical_taking(&mut system_in, &mut canonical));
            if read.is_ok()
                && let Err(broken) = canonical.validate()
            {
                let broken = broken.0.iter().map(|e| (e.path.to_string(), e.rule.to_string())).collect();
                done.refusals.push((line, broken));
                continue;
            }
            let result = read
                .and_then(|()| to.to_system(&canonical, &mut system_out, &mut report))
                .and_then(|()| to.encode(&system_out, &mut done.output));
            match result {
                Ok(()) => {
                    done.output.extend_from_slice(sep);
                    done.written += 1;
                    if !report.is_lossless() {
                        done.shrunk += 1;
                        for d in &report.degenerations {
                            done.shrinks.push((
                                line,
                                to.items[d.item].label(),
                                d.degeneration.from.clone(),
                                d.degeneration.to.clone(),
                                d.degeneration.how.to_string(),
                            ));
                        }
                    }
                }
                Err(e) => {
                    done.output.truncate(start);
                    done.failures.push((line, e.in_record(format!("line {line}"))));
                }
            }
        }
        done
    }
}

/// Fill `buf`, or return 0 at a clean end of input; a short last record is returned as read.
fn read_exact_or_eof(input: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    buf.truncate(filled);
    Ok(filled)
}
