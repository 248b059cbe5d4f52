//! The file-transfer side of a simulator: take `{interface}-{key}.{ext}` files from the inbox once
//! their completion file is there, and acknowledge each with `NAME.ack` beside it.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use renkei_adapter_core::file::{AtomicFile, FileError, Marker};

use super::{Shared, Taken};
use crate::faults::Fault;

/// How often the inbox is looked at.
const POLL: Duration = Duration::from_millis(20);

/// An acknowledgement waiting to be written: delayed by a fault, or refused by a full disk.
struct PendingAck {
    due: Instant,
    lines: Vec<(&'static str, String)>,
}

pub(super) async fn watch(shared: Arc<Shared>, inbox: PathBuf, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut pending: HashMap<String, PendingAck> = HashMap::new();
    loop {
        if *stop.borrow() {
            return;
        }
        let shared = shared.clone();
        let dir = inbox.clone();
        let mut work = std::mem::take(&mut pending);
        pending = tokio::task::spawn_blocking(move || {
            poll(&shared, &dir, &mut work);
            work
        })
        .await
        .unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => {}
        }
    }
}

fn poll(shared: &Shared, inbox: &Path, pending: &mut HashMap<String, PendingAck>) {
    let Ok(entries) = std::fs::read_dir(inbox) else { return };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.') && !n.ends_with(".done") && !n.ends_with(".ack"))
        .filter(|n| Marker::Done.path(inbox, n).exists() && !Marker::Ack.path(inbox, n).exists())
        .collect();
    names.sort();
    for name in names {
        if let Some(ack) = pending.get(&name) {
            if ack.due <= Instant::now() && write_ack(shared, inbox, &name, &ack.lines) {
                pending.remove(&name);
            }
            continue;
        }
        if let Some(lines) = take(shared, inbox, &name, pending) {
            if !write_ack(shared, inbox, &name, &lines) {
                pending.insert(name, PendingAck { due: Instant::now(), lines });
            }
        }
    }
}

/// Read and record one file; the acknowledgement to write now, if any (a delayed one goes to
/// `pending`).
fn take(
    shared: &Shared,
    inbox: &Path,
    name: &str,
    pending: &mut HashMap<String, PendingAck>,
) -> Option<Vec<(&'static str, String)>> {
    let fault = shared.faults.next();
    let failed = |reason: &str| Some(vec![("status", "failed".to_owned()), ("reason", reason.to_owned())]);
    match fault {
        Some(Fault::Unavailable) => return failed("unavailable"),
        Some(Fault::DiskFull) => return failed("no space left on device"),
        _ => {}
    }
    let Some((interface, key)) = split_name(shared, name) else {
        return Some(refused("the file name names no interface of this system"));
    };
    let body = match std::fs::read(inbox.join(name)) {
        Ok(body) => body,
        Err(e) => return failed(&format!("cannot read the file: {e}")),
    };
    let announced = Marker::Done.read(inbox, name).ok().and_then(|lines| {
        lines.into_iter().find(|(k, _)| k == "bytes").and_then(|(_, v)| v.parse::<usize>().ok())
    });
    if announced.is_some_and(|bytes| bytes != body.len()) {
        return Some(refused("the completion file announces another size (truncated?)"));
    }
    let taken = shared.take(&interface, &key, &body, "file");
    let lines = match &taken {
        Taken::Refused(detail) => refused(detail),
        Taken::Accepted(r) | Taken::Replayed(r) => {
            let replay = matches!(taken, Taken::Replayed(_)) || fault == Some(Fault::DuplicateAck);
            vec![
                ("status", if replay { "duplicate" } else { "accepted" }.to_owned()),
                ("reference", r.reference.clone()),
            ]
        }
    };
    match fault {
        Some(Fault::LoseResponse) if !matches!(taken, Taken::Refused(_)) => failed("unavailable"),
        Some(Fault::Latency(d) | Fault::Timeout(d)) => {
            pending.insert(name.to_owned(), PendingAck { due: Instant::now() + d, lines });
            None
        }
        // Recorded, but the system stops before acknowledging: the next poll finds the file
        // again, without an acknowledgement, and answers it from the record.
        Some(Fault::DropConnection) => None,
        Some(Fault::Malformed) => Some(lines.into_iter().filter(|(k, _)| *k != "status").collect()),
        _ => Some(lines),
    }
}

fn refused(detail: &str) -> Vec<(&'static str, String)> {
    vec![("status", "refused".to_owned()), ("reason", detail.to_owned())]
}

/// `kisai-henko-0190….csv` → (`kisai-henko`, `0190…`): the longest interface of the system the
/// name starts with.
fn split_name(shared: &Shared, name: &str) -> Option<(String, String)> {
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    crate::receiver::layouts::of_system(shared.kind.name())
        .map(|l| l.interface)
        .filter(|i| stem.len() > i.len() + 1 && stem.starts_with(*i) && stem.as_bytes()[i.len()] == b'-')
        .max_by_key(|i| i.len())
        .map(|i| (i.to_owned(), stem[i.len() + 1..].to_owned()))
}

/// Write `NAME.ack` on the simulator's disk; false when it could not be written (full disk).
fn write_ack(shared: &Shared, inbox: &Path, name: &str, lines: &[(&'static str, String)]) -> bool {
    let text = Marker::encode(lines);
    let result =
        AtomicFile::create(inbox, &format!("{name}{}", Marker::Ack.suffix())).and_then(|mut file| {
            shared.disk.writer(&mut file).write_all(text.as_bytes()).map_err(|source| FileError::Io {
                path: inbox.join(name),
                operation: "write acknowledgement",
                source,
            })?;
            file.commit()
        });
    match result {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(system = shared.kind.name(), file = name, error = %e, "acknowledgement not written; trying again");
            false
        }
    }
}
