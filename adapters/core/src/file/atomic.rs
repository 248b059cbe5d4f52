//! Files that appear under their name only when complete, and the marker files beside them.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::FileError;

/// A file written under a hidden temporary name (`.NAME.part`) and published as `NAME` by
/// [`AtomicFile::commit`]: fsync the data, link it to its name (failing rather than replacing a
/// file already there), remove the temporary name, fsync the directory. Dropped without a commit,
/// the temporary file is removed, so a reader never sees a partial file under the real name.
#[derive(Debug)]
pub struct AtomicFile {
    dir: PathBuf,
    name: String,
    temp: PathBuf,
    out: Option<BufWriter<File>>,
    written: u64,
}

impl AtomicFile {
    pub fn create(dir: &Path, name: &str) -> Result<Self, FileError> {
        if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\']) {
            return Err(FileError::Config(format!("file name {name:?}: a plain name not starting with '.'")));
        }
        let temp = dir.join(format!(".{name}.part"));
        // A temporary file left by a crash is ours and incomplete: start again.
        match fs::remove_file(&temp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(FileError::io(&temp, "remove stale temporary file")(e)),
        }
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(FileError::io(&temp, "create"))?;
        Ok(Self {
            dir: dir.to_owned(),
            name: name.to_owned(),
            temp,
            out: Some(BufWriter::with_capacity(256 * 1024, file)),
            written: 0,
        })
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.written
    }

    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn append(&mut self, bytes: &[u8]) -> Result<(), FileError> {
        Write::write_all(self, bytes).map_err(FileError::io(&self.temp, "write"))
    }

    /// Publish the data file, then its completion file `NAME.done` with the record and byte
    /// counts: the one way a data file is handed to a system.
    pub fn publish(self, records: u64) -> Result<Written, FileError> {
        let (bytes, dir, name) = (self.written, self.dir.clone(), self.name.clone());
        let path = self.commit()?;
        Marker::Done.write(&dir, &name, &[("records", records.to_string()), ("bytes", bytes.to_string())])?;
        Ok(Written { path, records, bytes })
    }

    /// Make the file durable and visible under its name; returns its path.
    pub fn commit(mut self) -> Result<PathBuf, FileError> {
        let out = self.out.take().ok_or_else(|| FileError::Config("commit twice".into()))?;
        let file = out.into_inner().map_err(|e| FileError::io(&self.temp, "flush")(e.into_error()))?;
        file.sync_all().map_err(FileError::io(&self.temp, "fsync"))?;
        drop(file);
        let target = self.dir.join(&self.name);
        fs::hard_link(&self.temp, &target).map_err(FileError::io(&target, "publish"))?;
        fs::remove_file(&self.temp).map_err(FileError::io(&self.temp, "remove temporary name"))?;
        sync_dir(&self.dir)?;
        Ok(target)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let out = self.out.as_mut().ok_or_else(|| io::Error::other("write after commit"))?;
        let n = out.write(bytes)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.as_mut().map_or(Ok(()), |out| out.flush())
    }
}

/// What was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub records: u64,
    pub bytes: u64,
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Make a directory's entries (a new name, a rename) durable.
fn sync_dir(dir: &Path) -> Result<(), FileError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(FileError::io(dir, "fsync directory"))
}

/// The marker files beside a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// `NAME.done`: the data file is complete.
    Done,
    /// `NAME.ack`: the reader has taken the data file.
    Ack,
}

impl Marker {
    pub fn suffix(self) -> &'static str {
        match self {
            Marker::Done => ".done",
            Marker::Ack => ".ack",
        }
    }

    pub fn path(self, dir: &Path, data_name: &str) -> PathBuf {
        dir.join(format!("{data_name}{}", self.suffix()))
    }

    /// Write the marker for `data_name` atomically with `key=value` lines.
    pub fn write(self, dir: &Path, data_name: &str, lines: &[(&str, String)]) -> Result<PathBuf, FileError> {
        let mut file = AtomicFile::create(dir, &format!("{data_name}{}", self.suffix()))?;
        file.append(Self::encode(lines).as_bytes())?;
        file.commit()
    }

    /// A marker's text: one `key=value` pair per line.
    pub fn encode(lines: &[(&str, String)]) -> String {
        let mut text = String::new();
        for (key, value) in lines {
            text.push_str(key);
            text.push('=');
            // A value never spans lines: the format is one pair per line.
            text.push_str(&value.replace(['\r', '\n'], " "));
            text.push('\n');
        }
        text
    }

    /// The `key=value` pairs of a marker; lines without `=` are ignored.
    pub fn read(self, dir: &Path, data_name: &str) -> Result<Vec<(String, String)>, FileError> {
        let path = self.path(dir, data_name);
        let text = fs::read_to_string(&path).map_err(FileError::io(&path, "read"))?;
        Ok(text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect())
    }
}
