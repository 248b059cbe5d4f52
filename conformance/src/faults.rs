//! Fault injection shared by every simulator: what a core system can do wrong, queued per
//! request (REST) or per file (file transfer), and a full disk for the files a simulator writes.
//!
//! A test queues faults on a simulator's handle before or during a run (`inject`); each request
//! or file takes the next one. What each fault does on each transport:
//!
//! | fault | REST | file transfer |
//! |---|---|---|
//! | `Latency(d)` | answers `d` later, otherwise as usual | acknowledges `d` later |
//! | `Unavailable` | 503 without looking at the request | `status=failed`, nothing recorded |
//! | `LoseResponse` | records, then answers 503 | records, then `status=failed` |
//! | `Timeout(d)` | records, then holds the answer for `d` | records, acknowledges `d` later |
//! | `DropConnection` | records, then drops the connection with no answer | records, then stops before the acknowledgement (written at the next poll, as after a restart) |
//! | `DuplicateAck` | records, answers 200 as if the key had been seen | records, `status=duplicate` |
//! | `Malformed` | records, answers 2xx with a body that is not the interface's | records, acknowledgement without a status |
//! | `DiskFull` | 507 without looking at the request | — (use [`Disk::set_space`]) |
//!
//! A full disk for file transfer is [`Disk`]: every file a simulator writes goes through a
//! [`QuotaWriter`] that fails with [`io::ErrorKind::StorageFull`] (ENOSPC) once the space left
//! is used up, exactly as a write on a full file system does.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// One thing a core system does wrong with one request or file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Latency(Duration),
    Unavailable,
    LoseResponse,
    Timeout(Duration),
    DropConnection,
    DuplicateAck,
    Malformed,
    DiskFull,
}

impl Fault {
    /// Every kind, with `d` for the timed ones (tests iterate over them).
    pub fn all(d: Duration) -> [Fault; 8] {
        [
            Fault::Latency(d),
            Fault::Unavailable,
            Fault::LoseResponse,
            Fault::Timeout(d),
            Fault::DropConnection,
            Fault::DuplicateAck,
            Fault::Malformed,
            Fault::DiskFull,
        ]
    }

    /// Whether the request is looked at (and recorded) at all.
    pub fn handles_request(self) -> bool {
        !matches!(self, Fault::Unavailable | Fault::DiskFull)
    }
}

impl Fault {
    /// Faults as a tester writes them on the command line, comma-separated, in the order the
    /// requests or files take them: `unavailable`, `lose-response`, `drop`, `duplicate-ack`,
    /// `malformed`, `disk-full`, `latency=200ms`, `timeout=5s`.
    pub fn parse_list(spec: &str) -> Result<Vec<Fault>, String> {
        let duration = |value: &str| -> Result<Duration, String> {
            let (number, unit) =
                value.split_at(value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len()));
            let n: u64 = number.parse().map_err(|_| format!("{value:?}: write a duration as 200ms or 5s"))?;
            match unit {
                "ms" => Ok(Duration::from_millis(n)),
                "s" => Ok(Duration::from_secs(n)),
                _ => Err(format!("{value:?}: write a duration as 200ms or 5s")),
            }
        };
        spec.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|entry| match entry.split_once('=') {
                Some(("latency", d)) => duration(d).map(Fault::Latency),
                Some(("timeout", d)) => duration(d).map(Fault::Timeout),
                None if entry == "unavailable" => Ok(Fault::Unavailable),
                None if entry == "lose-response" => Ok(Fault::LoseResponse),
                None if entry == "drop" => Ok(Fault::DropConnection),
                None if entry == "duplicate-ack" => Ok(Fault::DuplicateAck),
                None if entry == "malformed" => Ok(Fault::Malformed),
                None if entry == "disk-full" => Ok(Fault::DiskFull),
                _ => Err(format!(
                    "{entry:?} is no fault (unavailable, lose-response, drop, duplicate-ack, malformed, disk-full, latency=D, timeout=D)"
                )),
            })
            .collect()
    }
}

/// Faults waiting for the next requests, shared by a simulator and its handle.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    queue: Arc<Mutex<VecDeque<Fault>>>,
}

impl Faults {
    /// The next request or file gets `fault` (faults queue up, one each).
    pub fn inject(&self, fault: Fault) {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).push_back(fault);
    }

    /// The fault for the request or file at hand, if one is queued.
    pub fn next(&self) -> Option<Fault> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).pop_front()
    }

    /// Faults not yet taken.
    pub fn pending(&self) -> usize {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// What a REST handler does about `fault` before looking at the request: wait, or answer at
/// once without handling it.
pub async fn before(fault: Option<Fault>) -> Option<Response> {
    match fault? {
        Fault::Latency(d) => {
            tokio::time::sleep(d).await;
            None
        }
        Fault::Unavailable => Some(error_response(StatusCode::SERVICE_UNAVAILABLE, "unavailable")),
        Fault::DiskFull => Some(error_response(StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage")),
        _ => None,
    }
}

/// What becomes of the answer to a request that was handled. `DuplicateAck` is the handler's
/// business (it answers 200); `Malformed` replaces the body with `malformed`.
pub async fn after(fault: Option<Fault>, response: Response, malformed: &'static [u8]) -> Response {
    match fault {
        Some(Fault::LoseResponse) => error_response(StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        Some(Fault::Timeout(d)) => {
            tokio::time::sleep(d).await;
            response
        }
        Some(Fault::DropConnection) => {
            // Unwinding the connection's task closes the socket with no answer, as when the
            // system crashes mid-request; resume_unwind skips the panic hook, so nothing is
            // printed.
            std::panic::resume_unwind(Box::new("simulated dropped connection"))
        }
        Some(Fault::Malformed) if response.status().is_success() => {
            let (parts, _) = response.into_parts();
            Response::from_parts(parts, axum::body::Body::from(malformed))
        }
        _ => response,
    }
}

fn error_response(status: StatusCode, error: &'static str) -> Response {
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], format!("{{\"error\":\"{error}\"}}"))
        .into_response()
}

/// The free space of a simulator's disk: unlimited, or a number of bytes that writes use up.
#[derive(Debug, Clone, Default)]
pub struct Disk {
    space: Arc<Mutex<Option<u64>>>,
}

impl Disk {
    /// `Some(bytes)`: writes beyond that many bytes fail with ENOSPC; `None`: no limit.
    pub fn set_space(&self, space: Option<u64>) {
        *self.space.lock().unwrap_or_else(PoisonError::into_inner) = space;
    }

    /// `inner` writing on this disk.
    pub fn writer<W: Write>(&self, inner: W) -> QuotaWriter<W> {
        QuotaWriter { inner, disk: self.clone() }
    }
}

/// A writer on a [`Disk`]: a write that does not fit in the space left fails whole with
/// [`io::ErrorKind::StorageFull`] and writes nothing.
#[derive(Debug)]
pub struct QuotaWriter<W> {
    inner: W,
    disk: Disk,
}

impl<W: Write> Write for QuotaWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut space = self.disk.space.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(left) = space.as_mut() {
            let needed = buf.len() as u64;
            if needed > *left {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "No space left on device"));
            }
            *left -= needed;
        }
        drop(space);
        self.inner.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_fails_writes_with_enospc() {
        let disk = Disk::default();
        let mut out = Vec::new();
        disk.set_space(Some(5));
        let mut w = disk.writer(&mut out);
        w.write_all(b"abc").unwrap();
        let e = w.write_all(b"def").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        disk.set_space(None);
        disk.writer(&mut out).write_all(b"def").unwrap();
        assert_eq!(out, b"abcdef");
    }

    #[test]
    fn fault_lists_parse_as_written_and_name_what_is_wrong() {
        assert_eq!(
            Fault::parse_list("unavailable, latency=200ms,timeout=5s,drop").unwrap(),
            [
                Fault::Unavailable,
                Fault::Latency(Duration::from_millis(200)),
                Fault::Timeout(Duration::from_secs(5)),
                Fault::DropConnection
            ]
        );
        assert!(Fault::parse_list("").unwrap().is_empty());
        assert!(Fault::parse_list("latency=fast").unwrap_err().contains("200ms"));
        assert!(Fault::parse_list("gremlins").unwrap_err().starts_with("\"gremlins\" is no fault"));
    }

    #[test]
    fn faults_are_taken_in_order() {
        let faults = Faults::default();
        faults.inject(Fault::Unavailable);
        faults.inject(Fault::Malformed);
        assert_eq!(faults.next(), Some(Fault::Unavailable));
        assert_eq!(faults.pending(), 1);
        assert_eq!(faults.next(), Some(Fault::Malformed));
        assert_eq!(faults.next(), None);
    }
}
