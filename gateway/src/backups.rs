//! Scheduled backups of the embedded database (`renkei_store::backup`): one at start and every
//! `[backup].interval_s`, each verified as it is written, old generations pruned by the
//! business-day calendar. The age of the last verified backup is what `/readyz` and
//! `AdminService.Health` report; past twice the interval it is an error.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use renkei_store::backup::{self, Manifest};
use renkei_store::calendar::Calendar;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::storage::Db;

/// `[backup]`: where and how often (SQLite only; PostgreSQL is backed up by its own tooling).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Seconds between backups; 0 turns them off.
    pub interval_s: u64,
    /// Where generations are kept; `backups` in the data directory when absent.
    pub dir: Option<PathBuf>,
    /// Generations are kept for this many business days back (and never fewer than two).
    pub keep_business_days: usize,
    /// The city's closed days (`YYYY-MM-DD name` per line); Japan's national holidays when
    /// absent. Weekends and 12/29–1/3 are closed either way.
    pub holidays_file: Option<PathBuf>,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self { interval_s: 3600, dir: None, keep_business_days: 2, holidays_file: None }
    }
}

impl BackupConfig {
    pub fn dir(&self, data_dir: &std::path::Path) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| data_dir.join("backups"))
    }

    pub fn calendar(&self) -> anyhow::Result<Calendar> {
        match &self.holidays_file {
            Some(path) => {
                Calendar::from_file(path).map_err(|e| anyhow::anyhow!("[backup].holidays_file: {e}"))
            }
            None => Ok(Calendar::japan()),
        }
    }
}

/// The backups of a running gateway and what the last attempt left.
#[derive(Debug)]
pub struct Backups {
    dir: PathBuf,
    interval: Duration,
    keep_business_days: usize,
    calendar: Calendar,
    last: RwLock<(Option<Manifest>, Option<String>)>,
    started: std::time::Instant,
}

impl Backups {
    pub fn new(config: &BackupConfig, data_dir: &std::path::Path) -> anyhow::Result<Backups> {
        let dir = config.dir(data_dir);
        let last = backup::latest_verified(&dir).map_err(|e| anyhow::anyhow!("[backup].dir: {e}"))?;
        Ok(Backups {
            dir,
            interval: Duration::from_secs(config.interval_s.max(1)),
            keep_business_days: config.keep_business_days,
            calendar: config.calendar()?,
            last: RwLock::new((last, None)),
            started: std::time::Instant::now(),
        })
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Take one now, verify it, prune old generations; its manifest.
    pub async fn take(&self, db: &Db) -> Result<Manifest, String> {
        let (db2, dir) = (db.clone(), self.dir.clone());
        let taken = tokio::task::spawn_blocking(move || backup::take(&db2, &dir))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        let mut last = self.last.write().unwrap_or_else(|e| e.into_inner());
        match taken {
            Ok(manifest) => {
                info!(backup = %manifest.name, "backup taken and verified");
                *last = (Some(manifest.clone()), None);
                drop(last);
                match backup::prune(
                    &self.dir,
                    &self.calendar,
                    self.keep_business_days,
                    renkei_store::now_ms(),
                ) {
                    Ok(removed) if !removed.is_empty() => {
                        info!(removed = removed.len(), "old backup generations removed")
                    }
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "pruning old backups failed"),
                }
                Ok(manifest)
            }
            Err(e) => {
                error!(error = %e, "backup failed");
                last.1 = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Take a backup at start and then every interval, until `stop`.
    pub async fn run(self: Arc<Self>, db: Db, mut stop: watch::Receiver<bool>) {
        if self.calendar.outdated_for(chrono::Utc::now().date_naive()) {
            warn!("the holiday calendar ends before today: extend it ([backup].holidays_file)");
        }
        loop {
            let _ = self.take(&db).await;
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// Healthy while the last verified backup is younger than twice the interval; the detail
    /// names it and its age.
    pub fn health(&self) -> (bool, String) {
        let last = self.last.read().unwrap_or_else(|e| e.into_inner());
        let error = last.1.as_ref().map(|e| format!("; the last attempt failed: {e}")).unwrap_or_default();
        match &last.0 {
            // The first is taken at start: not overdue until two intervals have passed.
            None => {
                let overdue = self.started.elapsed() > self.interval * 2;
                let state = if overdue { "overdue: " } else { "" };
                (!overdue, format!("{state}no verified backup yet in {}{error}", self.dir.display()))
            }
            Some(m) => {
                let age = age(m);
                let overdue = age > self.interval * 2;
                let state = if overdue { "overdue: " } else { "" };
                (
                    !overdue,
                    format!("{state}last verified backup {} is {} s old{error}", m.name, age.as_secs()),
                )
            }
        }
    }

    /// Seconds since the last verified backup (`None` before the first).
    pub fn age_s(&self) -> Option<u64> {
        let last = self.last.read().unwrap_or_else(|e| e.into_inner());
        last.0.as_ref().map(|m| age(m).as_secs())
    }
}

/// How long ago backup `m` was last verified.
fn age(m: &Manifest) -> Duration {
    Duration::from_millis((renkei_store::now_ms() - m.verified_at_ms.unwrap_or(m.taken_at_ms)).max(0) as u64)
}
