//! File transfer: record files exchanged through shared directories.
//!
//! Records arrive here already mapped to the system's layout (rows of field values in
//! [`RecordLayout`] order); this module only frames, encodes and moves them. CSV and
//! fixed-length files are written with [`RecordFileWriter`]; XML files with
//! [`crate::xml::XmlRecordWriter`] over an [`AtomicFile`], then [`AtomicFile::publish`]. All
//! three are picked up with [`Pickup`]; an XML record's fields are the layout's names looked up
//! below the record element (`AtenaNo`, `Shimei/Kana`, `@seq`).
//!
//! # The file convention
//!
//! Each direction has a directory: the *inbox* (renkei writes, the system reads) and the
//! *outbox* (the system writes, renkei reads). For a data file `NAME`:
//!
//! 1. The writer writes `.NAME.part`, flushes and fsyncs it, and links it to `NAME` only when
//!    every record is in (never replacing an existing `NAME`), then fsyncs the directory.
//!    Readers ignore names starting with `.`.
//! 2. It then writes the completion file `NAME.done` the same way. Its lines are
//!    `records=N` and `bytes=M` (both optional: an empty `NAME.done` is accepted from systems
//!    that only touch a trigger file). A reader takes `NAME` only once `NAME.done` exists, and
//!    refuses it if `bytes` disagrees with the file's size.
//! 3. When the reader has taken every record (and stored where it got to), it writes
//!    `NAME.ack`: `status=accepted` or `status=refused`, `records=N` (records read),
//!    `rejected=R` (records reported as bad), for a refused file `reason=…`, and
//!    `announced_records=N` when the completion file promised another count. A file with an
//!    ack is never read again; the writer may then delete `NAME`, `NAME.done` and `NAME.ack`.
//!
//! # Resuming after a crash
//!
//! Reading hands out records in batches with a [`Progress`] (byte offset and record count
//! after the batch) that the caller stores *with* the batch; on restart the reader seeks to the
//! stored offset. See [`pickup`] for the exact guarantee.

mod atomic;
pub mod pickup;
mod reader;
mod writer;

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
pub(crate) mod tests;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use atomic::{AtomicFile, Marker, Written};
pub use pickup::{
    Batch, FileKey, Pickup, PickupReport, PickupSink, Progress, ProgressFile, WithProgressFile,
};
pub use reader::{Record, RecordReader};
/// The charset of record files: the one mappings use ([`renkei_mappings::Charset`]); record
/// files take `utf-8`, `shift_jis` (JIS X 0208 as JIS maps it) and `cp932` (Windows-31J).
pub use renkei_mappings::Charset;
pub use writer::{RecordFileWriter, WriteError};

/// How records are framed and encoded in a file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecordFormat {
    pub format: Format,
    pub charset: Charset,
    /// What ends a record: `crlf` (the default), `lf`, or `none` for fixed-length records
    /// written back to back.
    #[serde(default)]
    pub terminator: Terminator,
    /// CSV only: the first line names the fields (checked against the layout when reading).
    #[serde(default)]
    pub header: bool,
    /// XML only: the path of the record elements, `/Root/Record`.
    #[serde(default)]
    pub record_path: Option<String>,
}

impl RecordFormat {
    /// A format with the defaults: CRLF, no header.
    pub fn new(format: Format, charset: Charset) -> Self {
        Self { format, charset, terminator: Terminator::default(), header: false, record_path: None }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.charset == Charset::JisX0208 {
            return Err(
                "records.charset: jis_x0208 records are written and read through a mapping file".into()
            );
        }
        match self.format {
            Format::Csv if self.terminator == Terminator::None => {
                Err("records.terminator: CSV records need a line terminator".into())
            }
            Format::Xml if self.record_path.is_none() => Err("records.record_path is needed for XML".into()),
            Format::Fixed | Format::Xml if self.header => Err("records.header applies to CSV only".into()),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// RFC 4180 CSV: fields quoted when they hold a comma, a quote or a line break.
    Csv,
    /// Fixed-length records: every field padded to its width in bytes of the charset.
    Fixed,
    /// XML records ([`crate::xml`]).
    Xml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Terminator {
    #[default]
    Crlf,
    Lf,
    None,
}

impl Terminator {
    pub(crate) fn bytes(self) -> &'static [u8] {
        match self {
            Terminator::Crlf => b"\r\n",
            Terminator::Lf => b"\n",
            Terminator::None => b"",
        }
    }
}

/// The fields of one record type, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecordLayout {
    pub fields: Vec<FieldSpec>,
}

/// One field: its name (what errors and CSV headers call it) and, for fixed-length records, its
/// width and padding.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: String,
    /// Width in bytes of the file's charset; needed for fixed-length records.
    #[serde(default)]
    pub width: Option<usize>,
    #[serde(default)]
    pub pad: Pad,
}

/// How a fixed-length field is filled up to its width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pad {
    /// Left-aligned, half-width spaces after the value (半角スペース).
    #[default]
    Space,
    /// Right-aligned digits with leading zeros (数字項目); the value must be ASCII digits. An
    /// empty value is written blank (spaces) and read back empty; leading zeros are kept when
    /// reading, since codes such as 宛名番号 carry them.
    Zero,
    /// Left-aligned, ideographic spaces U+3000 after the value (全角スペース); an odd byte left
    /// over is a half-width space.
    Ideographic,
}

impl FieldSpec {
    pub fn new(name: impl Into<String>, width: usize, pad: Pad) -> Self {
        Self { name: name.into(), width: Some(width), pad }
    }
}

impl RecordLayout {
    pub fn new(fields: Vec<FieldSpec>) -> Self {
        Self { fields }
    }

    /// The record length of a fixed-length record, terminator excluded, or the first field
    /// without a width.
    pub(crate) fn fixed_width(&self) -> Result<usize, String> {
        self.fields.iter().try_fold(0, |sum, f| match f.width {
            Some(w) if w > 0 => Ok(sum + w),
            _ => Err(format!("field {}: fixed-length records need a width", f.name)),
        })
    }
}

/// A record that cannot be written or read as it is. It names the file, the record (1-based,
/// header excluded), the field when one is to blame, and the rule; never the value, which may
/// be personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RecordError {
    pub file: String,
    pub record: u64,
    pub field: Option<String>,
    pub rule: String,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: record {}", self.file, self.record)?;
        if let Some(field) = &self.field {
            write!(f, ", field {field}")?;
        }
        write!(f, ": {}", self.rule)
    }
}

/// A whole file that cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {operation}: {source}")]
    Io { path: PathBuf, operation: &'static str, source: std::io::Error },
    /// The file as a whole breaks the convention or the format; nothing more is read from it.
    #[error("{file}: refused: {reason}")]
    Refused { file: String, reason: String },
    #[error("configuration: {0}")]
    Config(String),
}

impl FileError {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        operation: &'static str,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| FileError::Io { path, operation, source }
    }
}
