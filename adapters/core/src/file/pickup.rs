//! Picking files up from a system's outbox, resumably.
//!
//! # The guarantee
//!
//! [`Pickup::run`] hands every record of every complete file to a [`PickupSink`] in batches.
//! Each [`Batch`] carries the [`Progress`] *after* it; the sink's
//! [`resume_point`](PickupSink::resume_point) returns the last progress it stored for a file,
//! and reading resumes exactly there (a byte offset on a record boundary). So:
//!
//! - **Exactly once**, when the sink stores the batch and its progress in one durable step
//!   (one database transaction, one fsynced append): after a crash the sink either has both
//!   or neither, and reading resumes right after the last stored batch.
//! - **At least once, never lost**, with [`WithProgressFile`]: the handler runs, then the
//!   progress file is replaced atomically (write, fsync, rename, fsync the directory). A crash
//!   between the two hands the last batch out again, with the same record numbers, so a
//!   handler that keys its writes by (file, record number) — as the outbox keys deliveries by
//!   idempotency key — still records each once.
//!
//! A file is acknowledged (`NAME.ack`) only after its last batch was accepted; a file that has
//! an ack is never read again. Progress is tied to the file's name, size and modification time,
//! so a new file under an old name starts from the beginning.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::atomic::{Marker, sync_dir};
use super::{FileError, Record, RecordError, RecordFormat, RecordLayout, RecordReader};

/// Which file a progress belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileKey {
    pub name: String,
    pub bytes: u64,
    /// Modification time, nanoseconds since the epoch.
    pub modified_ns: u64,
}

/// How far a file has been read: everything before `offset` has been handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub file: FileKey,
    pub offset: u64,
    /// Records handed out, good and bad.
    pub records: u64,
    /// Of those, records reported as bad.
    pub rejected: u64,
    /// The file has been read to its end (or refused); only the ack remains to be written.
    pub complete: bool,
    /// Why the rest of the file was refused, if it was.
    #[serde(default)]
    pub refused: Option<String>,
}

/// Records read from one file since the last batch, and where reading stands after them.
#[derive(Debug, Clone)]
pub struct Batch {
    pub records: Vec<Record>,
    /// Records that could not be read, each naming its field and rule: set them aside (they are
    /// not handed out again).
    pub rejected: Vec<RecordError>,
    pub progress: Progress,
}

/// The error a sink may return; it stops the run, and nothing after the last accepted batch
/// counts as read.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Where picked-up records go, and where progress is kept. See the module documentation for
/// what each way of storing progress guarantees.
pub trait PickupSink {
    /// The progress last stored for `file`, if any.
    fn resume_point(&mut self, file: &FileKey) -> Result<Option<Progress>, SinkError>;

    /// Take a batch and store its progress with it.
    fn accept(&mut self, batch: Batch) -> Result<(), SinkError>;

    /// The file has been acknowledged and will not be read again: its progress may go.
    fn acknowledged(&mut self, _file: &FileKey) -> Result<(), SinkError> {
        Ok(())
    }
}

/// What one run did with each file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PickupReport {
    pub files: Vec<FileOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOutcome {
    pub name: String,
    /// Records handed out in this run, good and bad.
    pub records: u64,
    pub rejected: Vec<RecordError>,
    /// The file (or its rest) was refused, and why.
    pub refused: Option<String>,
    /// The completion file announced a different number of records than were read.
    pub announced_records: Option<u64>,
}

/// Why a run stopped before its end. Progress up to the last accepted batch stands.
#[derive(Debug, thiserror::Error)]
pub enum PickupError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{file}: the sink failed: {source}")]
    Sink { file: String, source: SinkError },
}

/// Picks up complete files from one outbox directory.
#[derive(Debug, Clone)]
pub struct Pickup {
    dir: PathBuf,
    format: RecordFormat,
    layout: RecordLayout,
    batch_records: usize,
}

impl Pickup {
    pub fn new(
        dir: &Path,
        format: &RecordFormat,
        layout: &RecordLayout,
        batch_records: usize,
    ) -> Result<Self, FileError> {
        format.validate().map_err(FileError::Config)?;
        if batch_records == 0 {
            return Err(FileError::Config("batch_records must be at least 1".into()));
        }
        Ok(Self { dir: dir.to_owned(), format: format.clone(), layout: layout.clone(), batch_records })
    }

    /// Data files that have a completion file and no ack, by name.
    pub fn ready(&self) -> Result<Vec<FileKey>, FileError> {
        let mut ready = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(FileError::io(&self.dir, "list"))? {
            let entry = entry.map_err(FileError::io(&self.dir, "list"))?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            if name.starts_with('.')
                || name.ends_with(Marker::Done.suffix())
                || name.ends_with(Marker::Ack.suffix())
            {
                continue;
            }
            if !Marker::Done.path(&self.dir, &name).exists() || Marker::Ack.path(&self.dir, &name).exists() {
                continue;
            }
            let meta = entry.metadata().map_err(FileError::io(entry.path(), "stat"))?;
            if !meta.is_file() {
                continue;
            }
            let modified_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            ready.push(FileKey { name, bytes: meta.len(), modified_ns });
        }
        ready.sort();
        Ok(ready)
    }

    /// Read every ready file to its end into `sink`, acknowledging each.
    pub fn run(&self, sink: &mut dyn PickupSink) -> Result<PickupReport, PickupError> {
        let mut report = PickupReport::default();
        for key in self.ready()? {
            report.files.push(self.take(&key, sink)?);
        }
        Ok(report)
    }

    fn take(&self, key: &FileKey, sink: &mut dyn PickupSink) -> Result<FileOutcome, PickupError> {
        let sink_error = |source| PickupError::Sink { file: key.name.clone(), source };
        let mut outcome = FileOutcome {
            name: key.name.clone(),
            records: 0,
            rejected: Vec::new(),
            refused: None,
            announced_records: None,
        };
        let resume = sink.resume_point(key).map_err(sink_error)?.filter(|p| {
            let same = p.file == *key;
            if !same {
                tracing::warn!(file = %key.name, "stored progress is for an earlier file of this name; reading from the start");
            }
            same
        });
        let mut progress = resume.unwrap_or_else(|| Progress {
            file: key.clone(),
            offset: 0,
            records: 0,
            rejected: 0,
            complete: false,
            refused: None,
        });
        let announced = self.announced(key)?;
        if !progress.complete {
            if let Some(bytes) = announced.bytes.filter(|b| *b != key.bytes) {
                progress.complete = true;
                progress.refused = Some(format!(
                    "the completion file announces {bytes} bytes, the file has {} (truncated?)",
                    key.bytes
                ));
                sink.accept(Batch { records: Vec::new(), rejected: Vec::new(), progress: progress.clone() })
                    .map_err(sink_error)?;
            } else {
                self.read(key, &mut progress, &mut outcome, sink)?;
            }
        }
        outcome.refused = progress.refused.clone();
        if let Some(n) = announced.records.filter(|n| *n != progress.records && progress.refused.is_none()) {
            tracing::warn!(file = %key.name, announced = n, read = progress.records, "record count differs from the completion file");
            outcome.announced_records = Some(n);
        }
        let mut ack = vec![
            ("status", if progress.refused.is_some() { "refused" } else { "accepted" }.to_owned()),
            ("records", progress.records.to_string()),
            ("rejected", progress.rejected.to_string()),
        ];
        if let Some(reason) = &progress.refused {
            ack.push(("reason", reason.clone()));
        }
        if let Some(n) = outcome.announced_records {
            ack.push(("announced_records", n.to_string()));
        }
        match Marker::Ack.write(&self.dir, &key.name, &ack) {
            Ok(_) => {}
            // Written before a crash that came before the sink heard of it.
            Err(FileError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
        sink.acknowledged(key).map_err(sink_error)?;
        Ok(outcome)
    }

    fn read(
        &self,
        key: &FileKey,
        progress: &mut Progress,
        outcome: &mut FileOutcome,
        sink: &mut dyn PickupSink,
    ) -> Result<(), PickupError> {
        let sink_error = |source| PickupError::Sink { file: key.name.clone(), source };
        let path = self.dir.join(&key.name);
        let mut reader = match RecordReader::open(
            &path,
            &key.name,
            &self.format,
            &self.layout,
            progress.offset,
            progress.records,
        ) {
            Ok(reader) => reader,
            Err(FileError::Refused { reason, .. }) => {
                progress.complete = true;
                progress.refused = Some(reason);
                let batch = Batch { records: Vec::new(), rejected: Vec::new(), progress: progress.clone() };
                return sink.accept(batch).map_err(sink_error);
            }
            Err(e) => return Err(e.into()),
        };
        let mut batch = Batch { records: Vec::new(), rejected: Vec::new(), progress: progress.clone() };
        loop {
            let item = reader.next();
            let at_end = item.is_none();
            match item {
                None => {}
                Some(Ok(Ok(record))) => batch.records.push(record),
                Some(Ok(Err(bad))) => {
                    tracing::warn!(%bad, "record set aside");
                    progress.rejected += 1;
                    outcome.rejected.push(bad.clone());
                    batch.rejected.push(bad);
                }
                Some(Err(FileError::Refused { reason, .. })) => {
                    progress.refused = Some(reason);
                }
                Some(Err(e)) => return Err(e.into()),
            }
            let refused = progress.refused.is_some();
            let full = batch.records.len() + batch.rejected.len() >= self.batch_records;
            if at_end || refused || full {
                progress.offset = reader.offset();
                outcome.records += reader.records() - progress.records;
                progress.records = reader.records();
                progress.complete = at_end || refused;
                batch.progress = progress.clone();
                let next = Batch { records: Vec::new(), rejected: Vec::new(), progress: progress.clone() };
                sink.accept(std::mem::replace(&mut batch, next)).map_err(sink_error)?;
                if progress.complete {
                    return Ok(());
                }
            }
        }
    }

    fn announced(&self, key: &FileKey) -> Result<Announced, FileError> {
        let mut announced = Announced::default();
        for (k, v) in Marker::Done.read(&self.dir, &key.name)? {
            match k.as_str() {
                "records" => announced.records = v.parse().ok(),
                "bytes" => announced.bytes = v.parse().ok(),
                _ => {}
            }
        }
        Ok(announced)
    }
}

#[derive(Debug, Default)]
struct Announced {
    records: Option<u64>,
    bytes: Option<u64>,
}

/// Progress kept in a small JSON file, replaced atomically on every save.
#[derive(Debug)]
pub struct ProgressFile {
    path: PathBuf,
    entries: BTreeMap<String, Progress>,
}

impl ProgressFile {
    /// Open (or start) the progress file at `path`.
    pub fn open(path: &Path) -> Result<Self, FileError> {
        let entries = match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| FileError::Refused {
                file: path.display().to_string(),
                reason: format!("unreadable progress file: {e}"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(FileError::io(path, "read")(e)),
        };
        Ok(Self { path: path.to_owned(), entries })
    }

    pub fn get(&self, file: &FileKey) -> Option<&Progress> {
        self.entries.get(&file.name)
    }

    /// Record `progress` and make it durable before returning.
    pub fn save(&mut self, progress: &Progress) -> Result<(), FileError> {
        self.entries.insert(progress.file.name.clone(), progress.clone());
        self.write()
    }

    pub fn forget(&mut self, file: &FileKey) -> Result<(), FileError> {
        if self.entries.remove(&file.name).is_some() {
            self.write()?;
        }
        Ok(())
    }

    fn write(&self) -> Result<(), FileError> {
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let temp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec(&self.entries).map_err(|e| FileError::Config(e.to_string()))?;
        let mut file = fs::File::create(&temp).map_err(FileError::io(&temp, "create"))?;
        file.write_all(&bytes).map_err(FileError::io(&temp, "write"))?;
        file.sync_all().map_err(FileError::io(&temp, "fsync"))?;
        fs::rename(&temp, &self.path).map_err(FileError::io(&self.path, "replace"))?;
        sync_dir(dir)
    }
}

/// A sink made of a record handler and a [`ProgressFile`]: at least once, with stable record
/// numbers for the handler to deduplicate on (see the module documentation).
#[derive(Debug)]
pub struct WithProgressFile<F> {
    pub progress: ProgressFile,
    pub handler: F,
}

impl<F> PickupSink for WithProgressFile<F>
where
    F: FnMut(&Batch) -> Result<(), SinkError>,
{
    fn resume_point(&mut self, file: &FileKey) -> Result<Option<Progress>, SinkError> {
        Ok(self.progress.get(file).cloned())
    }

    fn accept(&mut self, batch: Batch) -> Result<(), SinkError> {
        (self.handler)(&batch)?;
        self.progress.save(&batch.progress)?;
        Ok(())
    }

    fn acknowledged(&mut self, file: &FileKey) -> Result<(), SinkError> {
        Ok(self.progress.forget(file)?)
    }
}
