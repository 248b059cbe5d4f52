//! renkei's own staff accounts and their logins. Passwords arrive here already hashed (argon2id,
//! by renkei-auth); a login keeps only the SHA-256 of its refresh token.

use diesel::prelude::*;

use super::schema::{logins, users};
use super::{AnyConnection, StorageError};

/// A staff account (or a service principal such as the online intake).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub display_name: String,
    /// A PHC string (`$argon2id$v=19$…`).
    pub password_hash: String,
    /// Group names, one per line.
    pub groups: String,
    pub disabled: bool,
    /// Consecutive failed logins since the last good one.
    pub failed_logins: i32,
    pub locked_until_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl UserRow {
    pub fn group_names(&self) -> Vec<String> {
        self.groups.lines().filter(|g| !g.is_empty()).map(str::to_owned).collect()
    }

    pub fn insert(&self, conn: &mut AnyConnection) -> Result<(), StorageError> {
        diesel::insert_into(users::table).values(self).execute(conn)?;
        Ok(())
    }

    pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<UserRow>, StorageError> {
        Ok(users::table.find(id).select(UserRow::as_select()).first(conn).optional()?)
    }

    pub fn all(conn: &mut AnyConnection) -> Result<Vec<UserRow>, StorageError> {
        Ok(users::table.order(users::id).select(UserRow::as_select()).load(conn)?)
    }

    /// Write back every changeable column of this row.
    pub fn update(&self, conn: &mut AnyConnection) -> Result<(), StorageError> {
        diesel::update(users::table.find(&self.id))
            .set((
                users::display_name.eq(&self.display_name),
                users::password_hash.eq(&self.password_hash),
                users::groups.eq(&self.groups),
                users::disabled.eq(self.disabled),
                users::failed_logins.eq(self.failed_logins),
                users::locked_until_ms.eq(self.locked_until_ms),
                users::updated_at_ms.eq(self.updated_at_ms),
            ))
            .execute(conn)?;
        Ok(())
    }
}

/// One login: what a refresh token stands for.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = logins)]
pub struct LoginRow {
    pub id: String,
    pub user_id: String,
    pub refresh_sha256: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub ended_at_ms: Option<i64>,
}

impl LoginRow {
    pub fn insert(&self, conn: &mut AnyConnection) -> Result<(), StorageError> {
        diesel::insert_into(logins::table).values(self).execute(conn)?;
        Ok(())
    }

    pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<LoginRow>, StorageError> {
        Ok(logins::table.find(id).select(LoginRow::as_select()).first(conn).optional()?)
    }

    /// Replace the refresh token of login `id` (each refresh hands out a new one).
    pub fn rotate(conn: &mut AnyConnection, id: &str, refresh_sha256: &str) -> Result<(), StorageError> {
        diesel::update(logins::table.find(id))
            .set(logins::refresh_sha256.eq(refresh_sha256))
            .execute(conn)?;
        Ok(())
    }

    /// End login `id` (logout, or a refresh token presented twice).
    pub fn end(conn: &mut AnyConnection, id: &str, now_ms: i64) -> Result<(), StorageError> {
        diesel::update(logins::table.find(id).filter(logins::ended_at_ms.is_null()))
            .set(logins::ended_at_ms.eq(Some(now_ms)))
            .execute(conn)?;
        Ok(())
    }

    /// End every open login of `user_id` (the account was disabled or its password changed).
    pub fn end_all_of(conn: &mut AnyConnection, user_id: &str, now_ms: i64) -> Result<(), StorageError> {
        diesel::update(
            logins::table.filter(logins::user_id.eq(user_id)).filter(logins::ended_at_ms.is_null()),
        )
        .set(logins::ended_at_ms.eq(Some(now_ms)))
        .execute(conn)?;
        Ok(())
    }
}
