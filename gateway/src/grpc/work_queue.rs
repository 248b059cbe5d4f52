//! The backyard work queue over AdminService: list, claim, complete, return. The worker is the
//! caller; a group limited to departments reaches only their items, and an application's body is
//! shown only to a caller who may review it. Every change is published to the session the
//! application came from, so the counter sees it, and written to the access log.

use renkei_model::{ApplicationStatus, Rule, ValidationError};
use renkei_proto::v1 as pb;
use tonic::Status;

use renkei_auth::{Permission, Principal, Reach};

use super::GatewayState;
use super::convert::ms_to_timestamp;
use super::status::{self, invalid_one};
use crate::storage::AuditEntry;
use crate::storage::work_items::{self, Refused, WorkItem, WorkState};
use renkei_delivery::events::{SessionChange, SessionEvent};

const DEFAULT_LIST_LIMIT: u32 = 100;
const MAX_LIST_LIMIT: u32 = 1000;
const MAX_REASON_CHARS: usize = 500;

fn state_to_proto(state: &str) -> pb::WorkItemState {
    match WorkState::parse(state) {
        Ok(WorkState::Queued) => pb::WorkItemState::Queued,
        Ok(WorkState::Claimed) => pb::WorkItemState::Claimed,
        Ok(WorkState::Completed) => pb::WorkItemState::Completed,
        Ok(WorkState::Returned) => pb::WorkItemState::Returned,
        Err(_) => pb::WorkItemState::Unspecified,
    }
}

/// `w` as `caller` may see it: the application's body only with `workqueue.review` in its
/// department.
fn to_proto(caller: &Principal, w: WorkItem) -> pb::WorkItem {
    let may_review = caller.reach(Permission::WorkQueueReview).is_some_and(|r| r.covers(&w.row.department));
    let row = w.row;
    pb::WorkItem {
        state: state_to_proto(&row.state) as i32,
        work_item_id: row.id,
        application_id: row.application_id,
        session_id: row.session_id,
        procedure_id: row.procedure_id,
        department: row.department,
        claimed_by: row.claimed_by.unwrap_or_default(),
        note: row.note.unwrap_or_default(),
        return_reason: row.return_reason.unwrap_or_default(),
        created_at: Some(ms_to_timestamp(row.created_at_ms)),
        updated_at: Some(ms_to_timestamp(row.updated_at_ms)),
        application_json: if may_review { w.payload } else { String::new() },
    }
}

/// The application status a work item's state shows at the counter.
pub(super) fn application_status(state: &str) -> ApplicationStatus {
    match WorkState::parse(state) {
        Ok(WorkState::Completed) => ApplicationStatus::Completed,
        Ok(WorkState::Returned) => ApplicationStatus::Returned,
        _ => ApplicationStatus::Submitted,
    }
}

/// The event the session sees for a work item.
pub(super) fn event(row: &work_items::WorkItemRow) -> SessionEvent {
    SessionEvent::now(SessionChange::Work {
        application_id: row.application_id.clone(),
        procedure_id: row.procedure_id.clone(),
        work_item_id: row.id.clone(),
        state: row.state.clone(),
        status: application_status(&row.state),
        reason: row.return_reason.clone().unwrap_or_default(),
    })
}

fn publish(state: &GatewayState, item: &WorkItem) {
    state.events.publish(&item.row.session_id, event(&item.row));
}

fn refused(r: Refused) -> Status {
    match r {
        Refused::NotFound => Status::not_found("work_item_id: no such work item (or nothing queued)"),
        Refused::State { state, claimed_by } => Status::failed_precondition(match claimed_by {
            Some(who) => format!("the work item is {state} (by {who})"),
            None => format!("the work item is {state}"),
        }),
    }
}

/// The departments `permission` reaches for `caller`, narrowed to `asked` when one is named
/// (`None`: every department).
fn departments(
    caller: &Principal,
    permission: Permission,
    asked: &str,
) -> Result<Option<Vec<String>>, Status> {
    let reach = caller.reach(permission).ok_or_else(|| denied(permission, asked))?;
    match (reach, asked) {
        (Reach::Everywhere, "") => Ok(None),
        (Reach::Departments(d), "") => Ok(Some(d.iter().cloned().collect())),
        (reach, asked) if reach.covers(asked) => Ok(Some(vec![asked.to_owned()])),
        _ => Err(denied(permission, asked)),
    }
}

fn denied(permission: Permission, department: &str) -> Status {
    Status::permission_denied(format!(
        "department: the caller's {permission} does not reach the department of this work item{}",
        if department.is_empty() { String::new() } else { format!(" ({department})") }
    ))
}

/// Item `id`, if `caller`'s `permission` reaches its department.
async fn reachable(
    state: &GatewayState,
    caller: &Principal,
    permission: Permission,
    id: &str,
) -> Result<WorkItem, Status> {
    let id = id.to_owned();
    let keys = state.db.keys().clone();
    let item = state
        .db
        .read(move |c| work_items::get(c, &keys, &id))
        .await
        .map_err(status::storage)?
        .ok_or_else(|| refused(Refused::NotFound))?;
    if !caller.reach(permission).is_some_and(|r| r.covers(&item.row.department)) {
        return Err(denied(permission, &item.row.department));
    }
    Ok(item)
}

async fn audit(
    state: &GatewayState,
    caller: &Principal,
    action: &str,
    item: &WorkItem,
) -> Result<(), Status> {
    let detail = format!("{} {}", item.row.id, item.row.procedure_id);
    state
        .audit(vec![AuditEntry::new(&item.row.session_id, &caller.subject, action, None, Some(detail))])
        .await
}

fn required(field: &str, value: &str) -> Result<String, Status> {
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid_one(field, ValidationError::new(Rule::Required)));
    }
    if v.chars().any(char::is_control) {
        return Err(invalid_one(field, ValidationError::new(Rule::ControlCharacter)));
    }
    Ok(v.to_owned())
}

pub(super) async fn list(
    state: &GatewayState,
    caller: &Principal,
    r: pb::ListWorkItemsRequest,
) -> Result<pb::ListWorkItemsResponse, Status> {
    let filter = match pb::WorkItemState::try_from(r.state) {
        Ok(pb::WorkItemState::Unspecified) => None,
        Ok(pb::WorkItemState::Queued) => Some(WorkState::Queued),
        Ok(pb::WorkItemState::Claimed) => Some(WorkState::Claimed),
        Ok(pb::WorkItemState::Completed) => Some(WorkState::Completed),
        Ok(pb::WorkItemState::Returned) => Some(WorkState::Returned),
        Err(_) => {
            return Err(invalid_one(
                "state",
                ValidationError::new(Rule::UnknownCode { table: "work item state" }),
            ));
        }
    };
    let limit = i64::from(match r.limit {
        0 => DEFAULT_LIST_LIMIT,
        n => n.min(MAX_LIST_LIMIT),
    });
    let reached = departments(caller, Permission::WorkQueueList, &r.department)?;
    let keys = state.db.keys().clone();
    let items = state
        .db
        .read(move |c| work_items::list(c, &keys, filter, reached.as_deref(), limit))
        .await
        .map_err(status::storage)?;
    let shown = items
        .iter()
        .filter(|w| caller.reach(Permission::WorkQueueReview).is_some_and(|r| r.covers(&w.row.department)))
        .count();
    let detail = format!("{} items, {shown} with their application", items.len());
    state
        .audit(vec![AuditEntry {
            session_id: None,
            ..AuditEntry::new("", &caller.subject, "list_work_items", None, Some(detail))
        }])
        .await?;
    Ok(pb::ListWorkItemsResponse { items: items.into_iter().map(|w| to_proto(caller, w)).collect() })
}

pub(super) async fn claim(
    state: &GatewayState,
    caller: &Principal,
    r: pb::ClaimWorkItemRequest,
) -> Result<pb::WorkItem, Status> {
    let worker = caller.subject.clone();
    let id = Some(r.work_item_id).filter(|i| !i.is_empty());
    let reached = match &id {
        Some(id) => {
            Some(vec![reachable(state, caller, Permission::WorkQueueReview, id).await?.row.department])
        }
        None => departments(caller, Permission::WorkQueueReview, &r.department)?,
    };
    let keys = state.db.keys().clone();
    let item = state
        .db
        .write(move |c| work_items::claim(c, &keys, id.as_deref(), reached.as_deref(), &worker))
        .await
        .map_err(status::storage)?
        .map_err(refused)?;
    audit(state, caller, "claim_work_item", &item).await?;
    publish(state, &item);
    Ok(to_proto(caller, item))
}

pub(super) async fn complete(
    state: &GatewayState,
    caller: &Principal,
    r: pb::CompleteWorkItemRequest,
) -> Result<pb::WorkItem, Status> {
    let id = required("work_item_id", &r.work_item_id)?;
    let worker = caller.subject.clone();
    let note = Some(r.note).filter(|n| !n.trim().is_empty());
    // A completed application goes on to its core system when this gateway delivers to it;
    // otherwise the center has keyed it in and it is done.
    let target = reachable(state, caller, Permission::WorkQueueReview, &id).await?.target_system;
    let deliver = !target.is_empty() && state.systems.contains_key(&target);
    let keys = state.db.keys().clone();
    let item = state
        .db
        .write(move |c| work_items::complete(c, &keys, &id, &worker, note.as_deref(), deliver))
        .await
        .map_err(status::storage)?
        .map_err(refused)?;
    if deliver {
        state.delivery_wakeup.notify_waiters();
    }
    audit(state, caller, "complete_work_item", &item).await?;
    publish(state, &item);
    Ok(to_proto(caller, item))
}

pub(super) async fn return_to_counter(
    state: &GatewayState,
    caller: &Principal,
    r: pb::ReturnWorkItemRequest,
) -> Result<pb::WorkItem, Status> {
    let id = required("work_item_id", &r.work_item_id)?;
    reachable(state, caller, Permission::WorkQueueReview, &id).await?;
    let worker = caller.subject.clone();
    let reason = required("reason", &r.reason)?;
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(invalid_one("reason", ValidationError::new(Rule::TooLong { max: MAX_REASON_CHARS })));
    }
    let keys = state.db.keys().clone();
    let item = state
        .db
        .write(move |c| work_items::return_to_counter(c, &keys, &id, &worker, &reason))
        .await
        .map_err(status::storage)?
        .map_err(refused)?;
    audit(state, caller, "return_work_item", &item).await?;
    publish(state, &item);
    Ok(to_proto(caller, item))
}
