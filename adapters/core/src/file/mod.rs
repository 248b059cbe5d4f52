//! File transfer: data files exchanged through a shared directory.
//!
//! Records arrive here already encoded in the system's layout (by its mapping); this module only
//! moves them: [`AtomicFile`] writes a data file and publishes it with its completion file, and
//! [`Marker`] reads and writes the marker files beside it.
//!
//! # The file convention
//!
//! The *inbox* is the directory renkei writes and the system reads. For a data file `NAME`:
//!
//! 1. The writer writes `.NAME.part`, flushes and fsyncs it, and links it to `NAME` only when
//!    every record is in (never replacing an existing `NAME`), then fsyncs the directory.
//!    Readers ignore names starting with `.`.
//! 2. It then writes the completion file `NAME.done` the same way. Its lines are
//!    `records=N` and `bytes=M`. A reader takes `NAME` only once `NAME.done` exists, and
//!    refuses it if `bytes` disagrees with the file's size.
//! 3. When the reader has taken every record, it writes `NAME.ack`: `status=accepted` or
//!    `status=refused`, `records=N` (records read), `rejected=R` (records reported as bad), for
//!    a refused file `reason=…`, and `announced_records=N` when the completion file promised
//!    another count. A file with an ack is never read again; the writer may then delete `NAME`,
//!    `NAME.done` and `NAME.ack`.

mod atomic;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use atomic::{AtomicFile, Marker, Written};

/// A file that cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {operation}: {source}")]
    Io { path: PathBuf, operation: &'static str, source: std::io::Error },
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
