use diesel::prelude::*;

use super::schema::sessions;
use super::{AnyConnection, StorageError};

/// A counter session as stored. It belongs to the staff member and terminal that opened it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub counter_id: String,
    /// Who opened it: the subject of the caller's token, never a value from the request.
    pub staff_id: String,
    pub opened_at_ms: i64,
    /// The terminal's client certificate subject under mutual TLS; empty without it.
    pub terminal_id: String,
    /// When it was last used, for the idle timeout (updated at most once a minute).
    pub last_used_at_ms: i64,
    pub closed_at_ms: Option<i64>,
    /// What a receipt's 2D code carries instead of the session id.
    pub receipt_ref: String,
}

impl SessionRow {
    /// A new open session with a fresh id and receipt reference (random, unrelated to the id).
    pub fn open(counter_id: &str, staff_id: &str, terminal_id: &str) -> SessionRow {
        let now = super::now_ms();
        SessionRow {
            id: uuid::Uuid::now_v7().to_string(),
            counter_id: counter_id.to_owned(),
            staff_id: staff_id.to_owned(),
            opened_at_ms: now,
            terminal_id: terminal_id.to_owned(),
            last_used_at_ms: now,
            closed_at_ms: None,
            receipt_ref: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    pub fn insert(&self, conn: &mut AnyConnection) -> Result<(), StorageError> {
        diesel::insert_into(sessions::table).values(self).execute(conn)?;
        Ok(())
    }

    pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<SessionRow>, StorageError> {
        Ok(sessions::table.find(id).select(SessionRow::as_select()).first(conn).optional()?)
    }

    /// Record a use of session `id` at `now_ms`.
    pub fn touch(conn: &mut AnyConnection, id: &str, now_ms: i64) -> Result<(), StorageError> {
        diesel::update(sessions::table.find(id)).set(sessions::last_used_at_ms.eq(now_ms)).execute(conn)?;
        Ok(())
    }

    /// End session `id`; true if it was open.
    pub fn close(conn: &mut AnyConnection, id: &str, now_ms: i64) -> Result<bool, StorageError> {
        let changed = diesel::update(sessions::table.find(id).filter(sessions::closed_at_ms.is_null()))
            .set(sessions::closed_at_ms.eq(Some(now_ms)))
            .execute(conn)?;
        Ok(changed == 1)
    }
}
