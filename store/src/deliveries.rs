//! The outbox: deliveries waiting for, in, or done with a core system.
//!
//! A delivery is claimed by setting `in_flight` with a lease. A worker that dies mid-delivery
//! leaves the lease to run out, and the delivery is claimed again and re-sent with the same
//! idempotency key: at-least-once towards the system, exactly-once for a system that honours
//! the key.

use diesel::prelude::*;

use super::schema::{applications, deliveries};
use super::{AnyConnection, Keyring, StorageError, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    Pending,
    InFlight,
    Delivered,
    Rejected,
    Dead,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 5] = [
        DeliveryState::Pending,
        DeliveryState::InFlight,
        DeliveryState::Delivered,
        DeliveryState::Rejected,
        DeliveryState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::InFlight => "in_flight",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Rejected => "rejected",
            DeliveryState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Result<Self, StorageError> {
        DeliveryState::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| StorageError::Corrupt(format!("unknown delivery state {s:?}")))
    }
}

/// A delivery as listed for operators.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = deliveries)]
pub struct DeliveryRow {
    pub id: String,
    pub application_id: String,
    pub target_system: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
    pub receipt: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A delivery claimed by a worker, with what it needs to send it (its fields in the order
/// [`claim`] selects them).
#[derive(Debug, Clone, Queryable)]
pub struct ClaimedDelivery {
    pub id: String,
    pub application_id: String,
    pub target_system: String,
    /// Attempts including this one.
    pub attempts: i32,
    pub session_id: String,
    pub procedure_id: String,
    /// The canonical application as JSON.
    pub payload: String,
    /// The W3C trace context of the call that committed the application, if it had one.
    pub traceparent: Option<String>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered {
        receipt: String,
    },
    /// Refused by the system: not retried.
    Rejected {
        reason: String,
    },
    /// Failed; try again at `retry_at_ms`.
    Retry {
        error: String,
        retry_at_ms: i64,
    },
    /// Failed and out of attempts: dead-lettered.
    Dead {
        error: String,
    },
}

impl DeliveryOutcome {
    /// The outcome's name in the access log.
    pub fn name(&self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered { .. } => "delivered",
            DeliveryOutcome::Rejected { .. } => "rejected",
            DeliveryOutcome::Retry { .. } => "failed, to be retried",
            DeliveryOutcome::Dead { .. } => "failed, dead-lettered",
        }
    }
}

/// Ids of deliveries due now: pending and due, or in flight with an expired lease.
/// Which deliveries a worker takes: one system's, or those of systems not in a list.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a> {
    Only(&'a str),
    NoneOf(&'a [String]),
}

macro_rules! due_ids {
    ($now:expr, $limit:expr, $target:expr) => {
        due_ids!(@ $now, $limit).filter($target)
    };
    (@ $now:expr, $limit:expr) => {
        deliveries::table
            .filter(
                deliveries::state
                    .eq(DeliveryState::Pending.as_str())
                    .and(deliveries::next_attempt_at_ms.le($now))
                    .or(deliveries::state
                        .eq(DeliveryState::InFlight.as_str())
                        .and(deliveries::lease_until_ms.lt($now))),
            )
            .order(deliveries::next_attempt_at_ms)
            .limit($limit)
            .select(deliveries::id)
    };
}

/// Claim up to `limit` due deliveries for `worker`, leasing them for `lease_ms`. Runs inside the
/// caller's write transaction. On PostgreSQL the due rows are locked with `FOR UPDATE SKIP
/// LOCKED`, so replicas claiming at the same moment take different rows; SQLite has one writer.
pub fn claim(
    conn: &mut AnyConnection,
    keys: &Keyring,
    worker: &str,
    targets: Targets<'_>,
    limit: i64,
    lease_ms: i64,
) -> Result<Vec<ClaimedDelivery>, StorageError> {
    let now = now_ms();
    let ids: Vec<String> = match (&mut *conn, targets) {
        (AnyConnection::Postgresql(pg), Targets::Only(system)) => {
            due_ids!(now, limit, deliveries::target_system.eq(system)).for_update().skip_locked().load(pg)?
        }
        (AnyConnection::Postgresql(pg), Targets::NoneOf(systems)) => {
            due_ids!(now, limit, deliveries::target_system.ne_all(systems))
                .for_update()
                .skip_locked()
                .load(pg)?
        }
        (AnyConnection::Sqlite(lite), Targets::Only(system)) => {
            due_ids!(now, limit, deliveries::target_system.eq(system)).load(lite)?
        }
        (AnyConnection::Sqlite(lite), Targets::NoneOf(systems)) => {
            due_ids!(now, limit, deliveries::target_system.ne_all(systems)).load(lite)?
        }
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(deliveries::table.filter(deliveries::id.eq_any(&ids)))
        .set((
            deliveries::state.eq(DeliveryState::InFlight.as_str()),
            deliveries::attempts.eq(deliveries::attempts + 1),
            deliveries::lease_until_ms.eq(Some(now + lease_ms)),
            deliveries::claimed_by.eq(Some(worker)),
            deliveries::updated_at_ms.eq(now),
        ))
        .execute(conn)?;
    let mut claimed: Vec<ClaimedDelivery> = deliveries::table
        .inner_join(applications::table)
        .filter(deliveries::id.eq_any(&ids))
        .order(deliveries::next_attempt_at_ms)
        .select((
            deliveries::id,
            deliveries::application_id,
            deliveries::target_system,
            deliveries::attempts,
            applications::session_id,
            applications::procedure_id,
            applications::payload,
            deliveries::traceparent,
        ))
        .load(conn)?;
    // The body is read sealed and opened here, for the worker only.
    for delivery in &mut claimed {
        delivery.payload = keys.open(crate::submissions::PAYLOAD, &delivery.payload)?;
    }
    Ok(claimed)
}

/// Record how an attempt ended — only if `worker` still holds the claim, so a worker whose lease
/// ran out cannot overwrite the outcome of the worker that took over. Returns whether it did.
pub fn finish(
    conn: &mut AnyConnection,
    delivery_id: &str,
    worker: &str,
    outcome: &DeliveryOutcome,
) -> Result<bool, StorageError> {
    use renkei_model::ApplicationStatus;
    let now = now_ms();
    let (state, next_at, error, receipt, app_status) = match outcome {
        DeliveryOutcome::Delivered { receipt } => {
            (DeliveryState::Delivered, None, None, Some(receipt.as_str()), Some(ApplicationStatus::Delivered))
        }
        DeliveryOutcome::Rejected { reason } => {
            (DeliveryState::Rejected, None, Some(reason.as_str()), None, Some(ApplicationStatus::Rejected))
        }
        DeliveryOutcome::Retry { error, retry_at_ms } => {
            (DeliveryState::Pending, Some(*retry_at_ms), Some(error.as_str()), None, None)
        }
        DeliveryOutcome::Dead { error } => {
            (DeliveryState::Dead, None, Some(error.as_str()), None, Some(ApplicationStatus::DeadLettered))
        }
    };
    let target = deliveries::table
        .filter(deliveries::id.eq(delivery_id))
        .filter(deliveries::state.eq(DeliveryState::InFlight.as_str()))
        .filter(deliveries::claimed_by.eq(worker));
    let updated = diesel::update(target)
        .set((
            deliveries::state.eq(state.as_str()),
            deliveries::lease_until_ms.eq(None::<i64>),
            deliveries::claimed_by.eq(None::<String>),
            deliveries::last_error.eq(error),
            deliveries::receipt.eq(receipt),
            deliveries::updated_at_ms.eq(now),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Ok(false);
    }
    if let Some(at) = next_at {
        diesel::update(deliveries::table.find(delivery_id))
            .set(deliveries::next_attempt_at_ms.eq(at))
            .execute(conn)?;
    }
    let (application_id, system, attempts, session_id): (String, String, i32, String) = deliveries::table
        .inner_join(applications::table)
        .filter(deliveries::id.eq(delivery_id))
        .select((
            deliveries::application_id,
            deliveries::target_system,
            deliveries::attempts,
            applications::session_id,
        ))
        .first(conn)?;
    if let Some(status) = app_status {
        diesel::update(applications::table.find(&application_id))
            .set((applications::status.eq(status.as_str()), applications::updated_at_ms.eq(now)))
            .execute(conn)?;
    }
    // Every outcome is in the access log, in this transaction: which application went to which
    // system, and how it ended (never the system's words, which may quote the application).
    let detail = format!("application {application_id} to {system}: {} (attempt {attempts})", outcome.name());
    let entry = crate::AuditEntry::new(&session_id, "", "delivery", None, Some(detail));
    crate::AuditEntry::insert_all(conn, &[crate::AuditEntry { staff_id: None, ..entry }])?;
    Ok(true)
}

/// Deliveries, newest first, optionally in one state.
pub fn list(
    conn: &mut AnyConnection,
    state: Option<DeliveryState>,
    limit: i64,
) -> Result<Vec<(DeliveryRow, String)>, StorageError> {
    let mut query = deliveries::table
        .inner_join(applications::table)
        .select((DeliveryRow::as_select(), applications::procedure_id))
        .order((deliveries::created_at_ms.desc(), deliveries::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(state) = state {
        query = query.filter(deliveries::state.eq(state.as_str()));
    }
    Ok(query.load(conn)?)
}

/// One delivery with its procedure id.
pub fn get(
    conn: &mut AnyConnection,
    delivery_id: &str,
) -> Result<Option<(DeliveryRow, String)>, StorageError> {
    Ok(deliveries::table
        .inner_join(applications::table)
        .filter(deliveries::id.eq(delivery_id))
        .select((DeliveryRow::as_select(), applications::procedure_id))
        .first(conn)
        .optional()?)
}

/// Put a dead or rejected delivery back in the queue, due now. Returns false when the delivery
/// is in another state (pending, in flight, delivered) and was left alone.
pub fn requeue(conn: &mut AnyConnection, delivery_id: &str) -> Result<bool, StorageError> {
    let now = now_ms();
    let target = deliveries::table
        .filter(deliveries::id.eq(delivery_id))
        .filter(deliveries::state.eq_any([DeliveryState::Dead.as_str(), DeliveryState::Rejected.as_str()]));
    let updated = diesel::update(target)
        .set((
            deliveries::state.eq(DeliveryState::Pending.as_str()),
            deliveries::next_attempt_at_ms.eq(now),
            deliveries::updated_at_ms.eq(now),
        ))
        .execute(conn)?;
    if updated == 1 {
        let application_id: String =
            deliveries::table.find(delivery_id).select(deliveries::application_id).first(conn)?;
        diesel::update(applications::table.find(application_id))
            .set((
                applications::status.eq(renkei_model::ApplicationStatus::Submitted.as_str()),
                applications::updated_at_ms.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(updated == 1)
}

/// Release every in-flight lease. Only for a SQLite database at start-up, where the one process
/// that could hold a lease is the one that died.
pub fn release_all_leases(conn: &mut AnyConnection) -> Result<usize, StorageError> {
    Ok(diesel::update(deliveries::table.filter(deliveries::state.eq(DeliveryState::InFlight.as_str())))
        .set((
            deliveries::state.eq(DeliveryState::Pending.as_str()),
            deliveries::lease_until_ms.eq(None::<i64>),
        ))
        .execute(conn)?)
}

/// How many deliveries are in `state`.
/// Extend `worker`'s lease on delivery `id` to `lease_ms` from now, while an attempt runs;
/// false when the lease is no longer the worker's.
pub fn renew(conn: &mut AnyConnection, id: &str, worker: &str, lease_ms: i64) -> Result<bool, StorageError> {
    let n = diesel::update(
        deliveries::table
            .filter(deliveries::id.eq(id))
            .filter(deliveries::state.eq(DeliveryState::InFlight.as_str()))
            .filter(deliveries::claimed_by.eq(worker)),
    )
    .set(deliveries::lease_until_ms.eq(Some(now_ms() + lease_ms)))
    .execute(conn)?;
    Ok(n == 1)
}

/// How many deliveries each system has in each state: (system, state, count).
pub fn by_system_and_state(conn: &mut AnyConnection) -> Result<Vec<(String, String, i64)>, StorageError> {
    Ok(deliveries::table
        .group_by((deliveries::target_system, deliveries::state))
        .select((deliveries::target_system, deliveries::state, diesel::dsl::count_star()))
        .order((deliveries::target_system, deliveries::state))
        .load(conn)?)
}

/// When the oldest delivery still waiting or in flight was created (ms), if there is one.
pub fn oldest_undelivered_ms(conn: &mut AnyConnection) -> Result<Option<i64>, StorageError> {
    Ok(deliveries::table
        .filter(deliveries::state.eq_any([DeliveryState::Pending.as_str(), DeliveryState::InFlight.as_str()]))
        .select(diesel::dsl::min(deliveries::created_at_ms))
        .first(conn)?)
}

pub fn count(conn: &mut AnyConnection, state: DeliveryState) -> Result<u64, StorageError> {
    let n: i64 = deliveries::table.filter(deliveries::state.eq(state.as_str())).count().get_result(conn)?;
    Ok(n as u64)
}

#[derive(Insertable)]
#[diesel(table_name = deliveries)]
struct DeliveryInsert<'a> {
    id: &'a str,
    application_id: &'a str,
    target_system: &'a str,
    state: &'a str,
    attempts: i32,
    next_attempt_at_ms: i64,
    created_at_ms: i64,
    updated_at_ms: i64,
    traceparent: Option<&'a str>,
}

/// A pending delivery of an application to its core system: the outbox row the workers take,
/// with the trace context its attempts continue.
pub(crate) fn insert_pending(
    conn: &mut AnyConnection,
    application_id: &str,
    target_system: &str,
    now: i64,
    traceparent: Option<&str>,
) -> Result<(), StorageError> {
    diesel::insert_into(deliveries::table)
        .values(DeliveryInsert {
            id: &uuid::Uuid::now_v7().to_string(),
            application_id,
            target_system,
            state: DeliveryState::Pending.as_str(),
            attempts: 0,
            next_attempt_at_ms: now,
            created_at_ms: now,
            updated_at_ms: now,
            traceparent,
        })
        .execute(conn)?;
    Ok(())
}
