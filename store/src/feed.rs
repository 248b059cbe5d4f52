//! The change-feed hub's tables: the journal of the resident record's changes, the cursor of the
//! source and of each subscriber, and the quarantine.
//!
//! Every cursor move is conditional on the caller holding the row's lease, so two replicas
//! sharing a PostgreSQL database never work the same subscriber at once, and a replica that
//! lost its lease cannot move a cursor it no longer owns.

use diesel::prelude::*;

use super::schema::{feed_changes, feed_cursors, feed_quarantine};
use super::{AnyConnection, Keyring, StorageError, now_ms};

/// The sealed column a change's resident is kept in ([`crate::sealed`]).
pub const RESIDENT: &str = "feed_changes.resident";

/// The cursor row of the source (the last seq taken from the resident record).
pub const SOURCE: &str = "source";

/// One change as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = feed_changes)]
pub struct JournalEntry {
    pub seq: i64,
    /// 異動事由 in renkei's code (`move_within`).
    pub reason: String,
    /// The day of the change, `YYYYMMDD`.
    pub change_date: String,
    /// The canonical resident after the change, JSON.
    pub resident: String,
    pub received_at_ms: i64,
}

/// Where a reader of the feed is.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = feed_cursors)]
pub struct CursorRow {
    pub name: String,
    pub position: i64,
    pub pending_to: Option<i64>,
    pub leased_by: Option<String>,
    pub lease_until_ms: i64,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub updated_at_ms: i64,
}

/// A change a subscriber's mapping refused.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = feed_quarantine)]
pub struct QuarantineRow {
    pub subscriber: String,
    pub seq: i64,
    pub error: String,
    pub created_at_ms: i64,
}

/// Take (or renew) the lease on cursor `name` for `owner`, creating the row at `start` when it
/// does not exist yet. Returns the row when the lease is `owner`'s, `None` when another holder's
/// lease is still running.
pub fn lease(
    conn: &mut AnyConnection,
    name: &str,
    owner: &str,
    lease_ms: i64,
    start: i64,
) -> Result<Option<CursorRow>, StorageError> {
    let now = now_ms();
    let exists = feed_cursors::table.find(name).count().get_result::<i64>(conn)? > 0;
    if !exists {
        diesel::insert_into(feed_cursors::table)
            .values((
                feed_cursors::name.eq(name),
                feed_cursors::position.eq(start),
                feed_cursors::updated_at_ms.eq(now),
            ))
            .execute(conn)?;
    }
    let taken = diesel::update(
        feed_cursors::table.find(name).filter(
            feed_cursors::leased_by
                .is_null()
                .or(feed_cursors::leased_by.eq(owner))
                .or(feed_cursors::lease_until_ms.lt(now)),
        ),
    )
    .set((feed_cursors::leased_by.eq(owner), feed_cursors::lease_until_ms.eq(now + lease_ms)))
    .execute(conn)?;
    if taken == 0 {
        return Ok(None);
    }
    Ok(Some(feed_cursors::table.find(name).select(CursorRow::as_select()).first(conn)?))
}

/// Give up `owner`'s lease on `name` (on shutdown), so another replica need not wait for it to
/// run out.
pub fn release(conn: &mut AnyConnection, name: &str, owner: &str) -> Result<(), StorageError> {
    diesel::update(feed_cursors::table.find(name).filter(feed_cursors::leased_by.eq(owner)))
        .set((feed_cursors::leased_by.eq(None::<String>), feed_cursors::lease_until_ms.eq(0)))
        .execute(conn)?;
    Ok(())
}

/// Every cursor, the source first.
pub fn cursors(conn: &mut AnyConnection) -> Result<Vec<CursorRow>, StorageError> {
    let mut rows: Vec<CursorRow> =
        feed_cursors::table.select(CursorRow::as_select()).order(feed_cursors::name).load(conn)?;
    rows.sort_by_key(|r| r.name != SOURCE);
    Ok(rows)
}

/// Append changes taken from the source and move the source's cursor past them, in the caller's
/// transaction, as `owner`. Changes at or before the cursor are already in the journal and are
/// skipped; a change after a gap is refused, so no subscriber can pass a change that has not
/// arrived. Each of `subscribers` without a cursor yet gets one at the source's position before
/// these changes, so it receives them. Returns how many were new and the source's position after
/// them, or `None` if `owner` no longer holds the source's lease.
pub fn append(
    conn: &mut AnyConnection,
    keys: &Keyring,
    owner: &str,
    subscribers: &[String],
    entries: &[JournalEntry],
) -> Result<Option<(usize, i64)>, StorageError> {
    let Some(row) = feed_cursors::table
        .find(SOURCE)
        .filter(feed_cursors::leased_by.eq(owner))
        .select(CursorRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let known: Vec<String> = feed_cursors::table
        .filter(feed_cursors::name.eq_any(subscribers))
        .select(feed_cursors::name)
        .load(conn)?;
    for name in subscribers.iter().filter(|n| !known.contains(n)) {
        diesel::insert_into(feed_cursors::table)
            .values((
                feed_cursors::name.eq(name),
                feed_cursors::position.eq(row.position),
                feed_cursors::updated_at_ms.eq(now_ms()),
            ))
            .execute(conn)?;
    }
    let mut position = row.position;
    let mut added = 0;
    for entry in entries {
        if entry.seq <= position {
            continue;
        }
        if entry.seq != position + 1 {
            return Err(StorageError::Gap { expected: position + 1, got: entry.seq });
        }
        let sealed = JournalEntry { resident: keys.seal(RESIDENT, &entry.resident)?, ..entry.clone() };
        diesel::insert_into(feed_changes::table).values(&sealed).execute(conn)?;
        position = entry.seq;
        added += 1;
    }
    if added > 0 {
        set_position(conn, SOURCE, owner, position, None)?;
    }
    Ok(Some((added, position)))
}

/// Move `owner`'s cursor `name` to `position` with `pending_to`, clearing the error. Returns
/// false when the lease is no longer `owner`'s (nothing is changed then).
pub fn set_position(
    conn: &mut AnyConnection,
    name: &str,
    owner: &str,
    position: i64,
    pending_to: Option<i64>,
) -> Result<bool, StorageError> {
    let n = diesel::update(feed_cursors::table.find(name).filter(feed_cursors::leased_by.eq(owner)))
        .set((
            feed_cursors::position.eq(position),
            feed_cursors::pending_to.eq(pending_to),
            feed_cursors::attempts.eq(0),
            feed_cursors::last_error.eq(None::<String>),
            feed_cursors::updated_at_ms.eq(now_ms()),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Record a failed attempt on `owner`'s cursor `name`; returns the attempts so far.
pub fn record_failure(
    conn: &mut AnyConnection,
    name: &str,
    owner: &str,
    error: &str,
) -> Result<i32, StorageError> {
    diesel::update(feed_cursors::table.find(name).filter(feed_cursors::leased_by.eq(owner)))
        .set((
            feed_cursors::attempts.eq(feed_cursors::attempts + 1),
            feed_cursors::last_error.eq(error),
            feed_cursors::updated_at_ms.eq(now_ms()),
        ))
        .execute(conn)?;
    Ok(feed_cursors::table.find(name).select(feed_cursors::attempts).first(conn)?)
}

/// The seq of the last of the (at most `limit`) entries after `after`: where a batch ends. Only
/// the seqs are read — the residents stay sealed until the batch itself is.
pub fn batch_end(conn: &mut AnyConnection, after: i64, limit: i64) -> Result<Option<i64>, StorageError> {
    let seqs: Vec<i64> = feed_changes::table
        .filter(feed_changes::seq.gt(after))
        .order(feed_changes::seq)
        .limit(limit)
        .select(feed_changes::seq)
        .load(conn)?;
    Ok(seqs.last().copied())
}

/// Journal entries with `after < seq <= through`, oldest first, at most `limit`.
pub fn entries(
    conn: &mut AnyConnection,
    keys: &Keyring,
    after: i64,
    through: i64,
    limit: i64,
) -> Result<Vec<JournalEntry>, StorageError> {
    let rows: Vec<JournalEntry> = feed_changes::table
        .filter(feed_changes::seq.gt(after).and(feed_changes::seq.le(through)))
        .order(feed_changes::seq)
        .limit(limit)
        .select(JournalEntry::as_select())
        .load(conn)?;
    rows.into_iter().map(|e| Ok(JournalEntry { resident: keys.open(RESIDENT, &e.resident)?, ..e })).collect()
}

/// The newest seq in the journal's source cursor (0 before anything arrived).
pub fn source_position(conn: &mut AnyConnection) -> Result<i64, StorageError> {
    Ok(feed_cursors::table.find(SOURCE).select(feed_cursors::position).first(conn).optional()?.unwrap_or(0))
}

/// Keep `rows` out of their subscriber's deliveries (again-quarantined changes keep their first
/// reason).
pub fn quarantine(conn: &mut AnyConnection, rows: &[QuarantineRow]) -> Result<(), StorageError> {
    for row in rows {
        let known =
            feed_quarantine::table.find((&row.subscriber, row.seq)).count().get_result::<i64>(conn)? > 0;
        if !known {
            diesel::insert_into(feed_quarantine::table).values(row).execute(conn)?;
        }
    }
    Ok(())
}

/// A subscriber's quarantined changes, oldest first.
pub fn quarantined(conn: &mut AnyConnection, subscriber: &str) -> Result<Vec<QuarantineRow>, StorageError> {
    Ok(feed_quarantine::table
        .filter(feed_quarantine::subscriber.eq(subscriber))
        .order(feed_quarantine::seq)
        .select(QuarantineRow::as_select())
        .load(conn)?)
}

/// Drop journal entries every one of `subscribers` has taken; returns how many went.
pub fn prune(conn: &mut AnyConnection, subscribers: &[String]) -> Result<usize, StorageError> {
    if subscribers.is_empty() {
        return Ok(0);
    }
    let positions: Vec<i64> = feed_cursors::table
        .filter(feed_cursors::name.eq_any(subscribers))
        .select(feed_cursors::position)
        .load(conn)?;
    // A subscriber without a row yet has taken nothing.
    if positions.len() < subscribers.len() {
        return Ok(0);
    }
    let Some(min) = positions.into_iter().min() else {
        return Ok(0);
    };
    Ok(diesel::delete(feed_changes::table.filter(feed_changes::seq.le(min))).execute(conn)?)
}
