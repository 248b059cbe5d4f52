use diesel::prelude::*;

use super::schema::audit_log;
use super::{AnyConnection, StorageError, now_ms};

/// One line of the access log: who did what to whom. `subject` is a 宛名番号, never an
/// individual number; `detail` never holds personal data.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: String,
    pub at_ms: i64,
    pub session_id: Option<String>,
    pub staff_id: Option<String>,
    pub action: String,
    pub subject: Option<String>,
    pub detail: Option<String>,
}

impl AuditEntry {
    pub fn new(
        session_id: &str,
        staff_id: &str,
        action: &str,
        subject: Option<&str>,
        detail: Option<String>,
    ) -> Self {
        AuditEntry {
            id: uuid::Uuid::now_v7().to_string(),
            at_ms: now_ms(),
            session_id: Some(session_id.to_owned()),
            staff_id: Some(staff_id.to_owned()),
            action: action.to_owned(),
            subject: subject.map(str::to_owned),
            detail,
        }
    }

    pub fn insert_all(conn: &mut AnyConnection, entries: &[AuditEntry]) -> Result<(), StorageError> {
        // One statement per row: diesel's multi-backend connection has no batch insert.
        for entry in entries {
            diesel::insert_into(audit_log::table).values(entry).execute(conn)?;
        }
        Ok(())
    }

    /// The entries of a session, oldest first.
    pub fn for_session(conn: &mut AnyConnection, session_id: &str) -> Result<Vec<AuditEntry>, StorageError> {
        Ok(audit_log::table
            .filter(audit_log::session_id.eq(session_id))
            .order((audit_log::at_ms, audit_log::id))
            .select(AuditEntry::as_select())
            .load(conn)?)
    }
}
