//! The backyard work queue: applications of procedures processed at the backyard center
//! (行政事務センター) wait here, oldest first, until a worker claims, completes or returns them.
//!
//! Every change is a conditional update on the item's state, so two workers claiming the same
//! item — on one replica or several — cannot both win.

use diesel::prelude::*;

use super::deliveries;
use super::schema::{applications, work_items};
use super::{AnyConnection, Keyring, StorageError, now_ms};
use renkei_model::ApplicationStatus;

/// Where an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkState {
    Queued,
    Claimed,
    Completed,
    Returned,
}

impl WorkState {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkState::Queued => "queued",
            WorkState::Claimed => "claimed",
            WorkState::Completed => "completed",
            WorkState::Returned => "returned",
        }
    }

    pub fn parse(s: &str) -> Result<Self, StorageError> {
        [WorkState::Queued, WorkState::Claimed, WorkState::Completed, WorkState::Returned]
            .into_iter()
            .find(|w| w.as_str() == s)
            .ok_or_else(|| StorageError::Corrupt(format!("unknown work item state {s:?}")))
    }
}

#[derive(Insertable)]
#[diesel(table_name = work_items)]
pub(crate) struct NewWorkItem<'a> {
    pub id: &'a str,
    pub application_id: &'a str,
    pub session_id: &'a str,
    pub procedure_id: &'a str,
    pub department: &'a str,
    pub state: &'a str,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

pub(crate) fn insert(conn: &mut AnyConnection, item: &NewWorkItem<'_>) -> Result<(), StorageError> {
    diesel::insert_into(work_items::table).values(item).execute(conn)?;
    Ok(())
}

/// A work item as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = work_items)]
pub struct WorkItemRow {
    pub id: String,
    pub application_id: String,
    pub session_id: String,
    pub procedure_id: String,
    pub department: String,
    pub state: String,
    pub claimed_by: Option<String>,
    pub note: Option<String>,
    pub return_reason: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// An item with the application it carries (JSON) and where that application goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    pub row: WorkItemRow,
    pub payload: String,
    pub target_system: String,
}

/// Items in `state` (all when `None`) of `department` (all when `None`), oldest first.
/// Items in `state` (any when `None`) of `departments` (any when `None`), oldest first.
pub fn list(
    conn: &mut AnyConnection,
    keys: &Keyring,
    state: Option<WorkState>,
    departments: Option<&[String]>,
    limit: i64,
) -> Result<Vec<WorkItem>, StorageError> {
    let mut query = work_items::table
        .inner_join(applications::table)
        .select((WorkItemRow::as_select(), applications::payload, applications::target_system))
        .order((work_items::created_at_ms, work_items::id))
        .limit(limit)
        .into_boxed();
    if let Some(state) = state {
        query = query.filter(work_items::state.eq(state.as_str()));
    }
    if let Some(departments) = departments {
        query = query.filter(work_items::department.eq_any(departments.to_vec()));
    }
    let rows: Vec<(WorkItemRow, String, String)> = query.load(conn)?;
    rows.into_iter().map(|(row, payload, target_system)| opened(keys, row, &payload, target_system)).collect()
}

fn opened(
    keys: &Keyring,
    row: WorkItemRow,
    payload: &str,
    target_system: String,
) -> Result<WorkItem, StorageError> {
    Ok(WorkItem { row, payload: keys.open(crate::submissions::PAYLOAD, payload)?, target_system })
}

pub fn get(conn: &mut AnyConnection, keys: &Keyring, id: &str) -> Result<Option<WorkItem>, StorageError> {
    let row: Option<(WorkItemRow, String, String)> = work_items::table
        .inner_join(applications::table)
        .filter(work_items::id.eq(id))
        .select((WorkItemRow::as_select(), applications::payload, applications::target_system))
        .first(conn)
        .optional()?;
    row.map(|(row, payload, target_system)| opened(keys, row, &payload, target_system)).transpose()
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    NotFound,
    /// The item is not in a state that allows the change (e.g. claimed by someone else).
    State {
        state: String,
        claimed_by: Option<String>,
    },
}

/// Claim item `id` for `worker`, or — with no id — the oldest queued item (of `departments`).
/// `Ok(None)` when there is nothing to claim.
pub fn claim(
    conn: &mut AnyConnection,
    keys: &Keyring,
    id: Option<&str>,
    departments: Option<&[String]>,
    worker: &str,
) -> Result<Result<WorkItem, Refused>, StorageError> {
    let candidates: Vec<String> = match id {
        Some(id) => vec![id.to_owned()],
        None => {
            list(conn, keys, Some(WorkState::Queued), departments, 8)?.into_iter().map(|w| w.row.id).collect()
        }
    };
    if candidates.is_empty() {
        return Ok(Err(Refused::NotFound));
    }
    for candidate in &candidates {
        let changed = diesel::update(
            work_items::table
                .filter(work_items::id.eq(candidate))
                .filter(work_items::state.eq(WorkState::Queued.as_str())),
        )
        .set((
            work_items::state.eq(WorkState::Claimed.as_str()),
            work_items::claimed_by.eq(worker),
            work_items::updated_at_ms.eq(now_ms()),
        ))
        .execute(conn)?;
        if changed == 1 {
            return Ok(get(conn, keys, candidate)?.ok_or(Refused::NotFound));
        }
    }
    // Every candidate was taken meanwhile (or the one asked for is not queued).
    match id {
        Some(id) => refusal(conn, keys, id),
        None => Ok(Err(Refused::NotFound)),
    }
}

fn refusal(
    conn: &mut AnyConnection,
    keys: &Keyring,
    id: &str,
) -> Result<Result<WorkItem, Refused>, StorageError> {
    Ok(Err(match get(conn, keys, id)? {
        None => Refused::NotFound,
        Some(w) => Refused::State { state: w.row.state, claimed_by: w.row.claimed_by },
    }))
}

/// Complete an item `worker` holds: the application is processed; when `deliver` it also gets a
/// delivery to its core system, committed in the same transaction.
pub fn complete(
    conn: &mut AnyConnection,
    keys: &Keyring,
    id: &str,
    worker: &str,
    note: Option<&str>,
    deliver: bool,
) -> Result<Result<WorkItem, Refused>, StorageError> {
    let now = now_ms();
    let changed = diesel::update(
        work_items::table
            .filter(work_items::id.eq(id))
            .filter(work_items::state.eq(WorkState::Claimed.as_str()))
            .filter(work_items::claimed_by.eq(worker)),
    )
    .set((
        work_items::state.eq(WorkState::Completed.as_str()),
        work_items::note.eq(note),
        work_items::updated_at_ms.eq(now),
    ))
    .execute(conn)?;
    let item = match changed_to(conn, keys, id, changed, ApplicationStatus::Completed, now)? {
        Ok(item) => item,
        refused => return Ok(refused),
    };
    if deliver {
        // Completed at the backyard center, in a trace of its own.
        deliveries::insert_pending(conn, &item.row.application_id, &item.target_system, now, None)?;
    }
    Ok(Ok(item))
}

/// Return an item to the counter with `reason`: a queued item, or one `worker` holds.
pub fn return_to_counter(
    conn: &mut AnyConnection,
    keys: &Keyring,
    id: &str,
    worker: &str,
    reason: &str,
) -> Result<Result<WorkItem, Refused>, StorageError> {
    let now = now_ms();
    let queued = work_items::state.eq(WorkState::Queued.as_str());
    let held = work_items::state.eq(WorkState::Claimed.as_str()).and(work_items::claimed_by.eq(worker));
    let changed = diesel::update(work_items::table.filter(work_items::id.eq(id)).filter(queued.or(held)))
        .set((
            work_items::state.eq(WorkState::Returned.as_str()),
            work_items::claimed_by.eq(worker),
            work_items::return_reason.eq(reason),
            work_items::updated_at_ms.eq(now),
        ))
        .execute(conn)?;
    changed_to(conn, keys, id, changed, ApplicationStatus::Returned, now)
}

/// After a conditional update of item `id`: the refusal when it changed nothing, else the item,
/// with its application's status set to `status`.
fn changed_to(
    conn: &mut AnyConnection,
    keys: &Keyring,
    id: &str,
    changed: usize,
    status: ApplicationStatus,
    now: i64,
) -> Result<Result<WorkItem, Refused>, StorageError> {
    if changed == 0 {
        return refusal(conn, keys, id);
    }
    let item =
        get(conn, keys, id)?.ok_or_else(|| StorageError::Corrupt(format!("work item {id} vanished")))?;
    diesel::update(applications::table.find(&item.row.application_id))
        .set((applications::status.eq(status.as_str()), applications::updated_at_ms.eq(now)))
        .execute(conn)?;
    Ok(Ok(item))
}

/// Items of a session, oldest first.
pub fn of_session(conn: &mut AnyConnection, session_id: &str) -> Result<Vec<WorkItemRow>, StorageError> {
    Ok(work_items::table
        .filter(work_items::session_id.eq(session_id))
        .order((work_items::created_at_ms, work_items::id))
        .select(WorkItemRow::as_select())
        .load(conn)?)
}
