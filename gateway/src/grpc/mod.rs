//! The renkei.v1 services over tonic.

mod admin;
mod auth;
mod card;
pub mod convert;
mod counter;
pub mod guard;
mod intake;
mod online;
mod planning;
pub mod status;
mod submit;
mod work_queue;

use std::sync::Arc;

use renkei_adapter_intake::{OcrIntake, OnlineLimits, QrVerifier};
use renkei_adapter_resident_record::ResidentRecordClient;
use renkei_auth::{Authenticator, Permission, Principal};
use renkei_model::{Rule, ValidationError};
use tokio::sync::Notify;
use tonic::Status;

pub use admin::AdminApi;
pub use auth::AuthApi;
pub use card::CardApi;
pub use counter::CounterApi;
pub use planning::Documents;

use crate::cards::CardReaders;
use crate::config::CardConfig;
use crate::storage::{AuditEntry, Db, SessionRow, Visit, now_ms};
use renkei_delivery::events::SessionEvents;
use renkei_delivery::mappings::LiveMappings;
use renkei_delivery::systems::Systems;

/// What every service shares.
#[derive(Debug)]
pub struct GatewayState {
    pub db: Db,
    /// The mapping set in force; take [`LiveMappings::current`] once per call.
    pub mappings: Arc<LiveMappings>,
    pub resident_record: Arc<ResidentRecordClient>,
    pub systems: Arc<Systems>,
    pub events: SessionEvents,
    /// Wakes the delivery workers after a commit.
    pub delivery_wakeup: Arc<Notify>,
    /// The font and heading of printed documents.
    pub documents: planning::Documents,
    /// Card readers.
    pub cards: Arc<CardReaders>,
    pub card_config: CardConfig,
    /// Pre-entry QR keys and the OCR confidence threshold.
    pub qr: QrVerifier,
    pub ocr: OcrIntake,
    /// Size limits of online application files.
    pub online_limits: OnlineLimits,
    /// Who is calling: logins, tokens, groups.
    pub auth: Arc<Authenticator>,
    /// Scheduled backups (the embedded database with `[backup].interval_s` above 0).
    pub backups: Option<Arc<crate::backups::Backups>>,
    /// What `/metrics` reports; the guard observes every call.
    pub metrics: crate::metrics::Metrics,
    /// Each core system's circuit, kept by the delivery workers.
    pub breakers: Arc<renkei_delivery::breaker::Breakers>,
}

impl GatewayState {
    /// The open session `id` as `caller` may use it, or the status to answer with. A session is
    /// its opener's; another staff member needs `session.take_over`, and each takeover is
    /// logged. One unused for `[auth].session_idle_s` is ended here. In the row returned,
    /// `staff_id` is the caller: whoever acts in the session is who the access log names.
    pub async fn session(&self, caller: &Principal, id: &str) -> Result<SessionRow, Status> {
        if id.is_empty() {
            return Err(status::invalid_one("session_id", ValidationError::new(Rule::Required)));
        }
        let id = id.to_owned();
        let row = {
            let id = id.clone();
            self.db.read(move |c| SessionRow::find(c, &id)).await.map_err(status::storage)?
        };
        let ended = || Status::not_found("session_id: no open session has this id");
        let mut row = row.filter(|r| r.closed_at_ms.is_none()).ok_or_else(ended)?;
        let now = now_ms();
        let idle_ms = (self.auth.config().session_idle_s as i64) * 1000;
        if now - row.last_used_at_ms > idle_ms {
            let id = id.clone();
            self.db.write(move |c| SessionRow::close(c, &id, now)).await.map_err(status::storage)?;
            self.events.forget(&row.id);
            return Err(Status::not_found(format!(
                "session_id: the session ended after {} minutes unused; open a new one",
                idle_ms / 60_000
            )));
        }
        let mut audit = Vec::new();
        if row.staff_id != caller.subject {
            if !caller.allows(Permission::SessionTakeOver) {
                return Err(Status::permission_denied(
                    "session_id: the session belongs to another staff member; using it needs the permission \
                     session.take_over",
                ));
            }
            audit.push(AuditEntry::new(
                &row.id,
                &caller.subject,
                "take_over_session",
                None,
                Some(row.staff_id.clone()),
            ));
        }
        // A write per call would serialise the counter on SQLite's one writer: the idle clock
        // moves at most once a minute.
        if now - row.last_used_at_ms > 60_000 || !audit.is_empty() {
            let id = id.clone();
            self.db
                .write(move |c| {
                    SessionRow::touch(c, &id, now)?;
                    AuditEntry::insert_all(c, &audit)
                })
                .await
                .map_err(status::storage)?;
        }
        row.staff_id = caller.subject.clone();
        Ok(row)
    }

    /// What session `id`'s visit holds so far.
    pub async fn visit(&self, id: &str) -> Result<Visit, Status> {
        let id = id.to_owned();
        let keys = self.db.keys().clone();
        self.db.read(move |c| Visit::load(c, &keys, &id)).await.map_err(status::storage)
    }

    /// Change what session `id`'s visit holds, in one transaction with reading it.
    pub async fn update_visit(
        &self,
        id: &str,
        change: impl FnOnce(&mut Visit) + Send + 'static,
    ) -> Result<(), Status> {
        let (id, keys) = (id.to_owned(), self.db.keys().clone());
        self.db
            .write(move |c| {
                let mut visit = Visit::load(c, &keys, &id)?;
                change(&mut visit);
                visit.save(c, &keys, &id)
            })
            .await
            .map_err(status::storage)
    }

    /// Write access-log entries; a read that cannot be logged is not answered.
    pub async fn audit(&self, entries: Vec<AuditEntry>) -> Result<(), Status> {
        if entries.is_empty() {
            return Ok(());
        }
        self.db.write(move |c| AuditEntry::insert_all(c, &entries)).await.map_err(status::storage)
    }
}

/// Send what `live` receives to a streaming response through `tx`, converted by `convert`, until
/// the client goes away or the channel closes. A watcher that fell behind is told how many
/// events it missed (`what`, e.g. "session events") and the stream ends, so it can watch again.
pub(crate) async fn forward_live<T: Clone, U>(
    live: &mut tokio::sync::broadcast::Receiver<T>,
    tx: tokio::sync::mpsc::Sender<Result<U, Status>>,
    convert: impl Fn(T) -> U,
    what: &str,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        tokio::select! {
            _ = tx.closed() => return,
            received = live.recv() => match received {
                Ok(event) => {
                    if tx.send(Ok(convert(event))).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    let status = Status::data_loss(format!(
                        "{missed} {what} were missed; watch again to re-read the current state"
                    ));
                    let _ = tx.send(Err(status)).await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
        }
    }
}
