use diesel::prelude::*;

use super::schema::sessions;
use super::{AnyConnection, StorageError};

/// A counter session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub counter_id: String,
    pub staff_id: String,
    pub opened_at_ms: i64,
}

impl SessionRow {
    pub fn insert(&self, conn: &mut AnyConnection) -> Result<(), StorageError> {
        diesel::insert_into(sessions::table).values(self).execute(conn)?;
        Ok(())
    }

    pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<SessionRow>, StorageError> {
        Ok(sessions::table.find(id).select(SessionRow::as_select()).first(conn).optional()?)
    }
}
