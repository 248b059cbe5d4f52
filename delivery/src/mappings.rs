//! The mapping set in force, swapped atomically when an operator's edited files pass the check.
//!
//! Readers take a snapshot ([`LiveMappings::current`]) and keep using it for the whole call, so
//! a reload in the middle of a call never mixes two sets. A new set is loaded and checked
//! completely before the swap; a set with any problem is refused, the old one stays in force,
//! and the problems are logged and kept for AdminService (`ReloadMappings`, `Health`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use renkei_mappings::{MappingSet, Problems};
use tokio::sync::watch;
use tracing::{info, warn};

/// The outcome of one reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadOutcome {
    /// A new set is in force.
    pub reloaded: bool,
    /// Why the new set was refused: `file:line: message`, one per problem.
    pub problems: Vec<String>,
    /// The version of the set in force after the reload.
    pub version: String,
}

/// The mapping set in force and where it comes from.
#[derive(Debug)]
pub struct LiveMappings {
    dir: Option<PathBuf>,
    current: RwLock<Arc<MappingSet>>,
    /// The problems of the last refused reload, until a reload succeeds.
    refused: Mutex<Vec<String>>,
    /// One reload at a time.
    reloading: Mutex<()>,
    /// The directory's fingerprint taken just before the set in force was read from it, so an
    /// edit made while it was being read is still seen as new.
    read_fingerprint: Mutex<u64>,
}

fn problem_lines(dir: &Path, problems: &Problems) -> Vec<String> {
    problems
        .0
        .iter()
        .map(|p| renkei_mappings::Problem { file: dir.join(&p.file), ..p.clone() }.to_string())
        .collect()
}

impl LiveMappings {
    /// Load the set from `dir`, or the embedded default set.
    pub fn load(dir: Option<PathBuf>) -> anyhow::Result<LiveMappings> {
        let before = dir.as_deref().map_or(0, fingerprint);
        let set = match &dir {
            Some(d) => MappingSet::load_dir(d).map_err(|problems| {
                anyhow::anyhow!(
                    "mapping set {} has problems:\n{}",
                    d.display(),
                    problem_lines(d, &problems).join("\n")
                )
            })?,
            None => MappingSet::embedded()
                .map_err(|problems| anyhow::anyhow!("embedded mapping set: {problems}"))?,
        };
        let live = Self::new(dir, set);
        *live.read_fingerprint.lock().unwrap_or_else(|e| e.into_inner()) = before;
        Ok(live)
    }

    pub fn new(dir: Option<PathBuf>, set: MappingSet) -> LiveMappings {
        LiveMappings {
            dir,
            current: RwLock::new(Arc::new(set)),
            refused: Mutex::new(Vec::new()),
            reloading: Mutex::new(()),
            read_fingerprint: Mutex::new(0),
        }
    }

    /// The set in force. Keep the snapshot for the whole of a call.
    pub fn current(&self) -> Arc<MappingSet> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The operator's directory, if the gateway runs one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The problems that made the last reload fail, if the set in force is older than the files.
    pub fn refused_problems(&self) -> Vec<String> {
        self.refused.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Load and check the directory again; swap if it passes. Blocking (reads files).
    pub fn reload(&self) -> ReloadOutcome {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let Some(dir) = &self.dir else {
            return ReloadOutcome {
                reloaded: false,
                problems: vec![
                    "the gateway runs the built-in mapping set; start it with --mappings DIR to edit mappings while it runs"
                        .to_owned(),
                ],
                version: self.current().version().to_owned(),
            };
        };
        *self.read_fingerprint.lock().unwrap_or_else(|e| e.into_inner()) = fingerprint(dir);
        match MappingSet::load_dir(dir) {
            Ok(set) => {
                let version = set.version().to_owned();
                let previous = {
                    let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
                    std::mem::replace(&mut *current, Arc::new(set))
                };
                self.refused.lock().unwrap_or_else(|e| e.into_inner()).clear();
                if previous.version() != version {
                    info!(dir = %dir.display(), %version, previous = previous.version(), "mapping set reloaded");
                }
                ReloadOutcome { reloaded: true, problems: Vec::new(), version }
            }
            Err(problems) => {
                let lines = problem_lines(dir, &problems);
                let version = self.current().version().to_owned();
                warn!(
                    dir = %dir.display(),
                    in_force = %version,
                    "edited mapping set refused; the set in force stays:\n{}",
                    lines.join("\n")
                );
                *self.refused.lock().unwrap_or_else(|e| e.into_inner()) = lines.clone();
                ReloadOutcome { reloaded: false, problems: lines, version }
            }
        }
    }

    /// Watch the directory: every `interval`, reload when a file was added, removed or changed.
    /// Returns when `stop` turns true. Does nothing for the embedded set.
    pub async fn watch(self: Arc<Self>, interval: Duration, mut stop: watch::Receiver<bool>) {
        let Some(dir) = self.dir.clone() else { return };
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let seen = *self.read_fingerprint.lock().unwrap_or_else(|e| e.into_inner());
            let scan_dir = dir.clone();
            let now = tokio::task::spawn_blocking(move || fingerprint(&scan_dir)).await.unwrap_or(seen);
            if now == seen {
                continue;
            }
            let live = self.clone();
            let _ = tokio::task::spawn_blocking(move || live.reload()).await;
        }
    }
}

impl renkei_adapter_mapped::MappingSource for LiveMappings {
    fn current(&self) -> Arc<MappingSet> {
        LiveMappings::current(self)
    }
}

/// The paths and contents of every file under `dir`: changes when any file does, whatever the
/// file system's timestamp granularity. Compared only within this process, so the standard
/// hasher does. (A set is a few hundred kilobytes; reading it every few seconds costs nothing.)
fn fingerprint(dir: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut entries = Vec::new();
    collect(dir, &mut entries);
    entries.sort();
    let mut hasher = std::hash::DefaultHasher::new();
    entries.hash(&mut hasher);
    hasher.finish()
}

fn collect(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
}
