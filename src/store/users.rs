//! The original's `user` table: usernames, argon2id hashes, and since migration 0009 a role,
//! a disabled flag and the token generation that revokes older tokens.

use super::audit::audit_in;
use super::{Result, Store, on_pool};
use crate::domain::AuditEntry;

/// A user as the rest of the program sees it (never the hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    pub username: String,
    pub role: String,
    pub disabled: bool,
    pub token_generation: i64,
}

/// What a change to a user's role or flag came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChange {
    Done,
    NoSuchUser,
    /// It would leave no enabled admin: refused, nothing written.
    LastAdmin,
}

const COLUMNS: &str = "username, role, disabled, token_generation";
const FIND: &str = "SELECT hashed_password FROM \"user\" WHERE username = $1";
const SET_HASH: &str = "UPDATE \"user\" SET hashed_password = $2, \
     token_generation = token_generation + 1 WHERE username = $1";
const INSERT: &str = "INSERT INTO \"user\" (username, hashed_password, role) VALUES ($1, $2, $3) \
     ON CONFLICT (username) DO NOTHING";
/// Another enabled admin must remain whenever this one stops being one.
const OTHER_ADMIN: &str = "EXISTS (SELECT 1 FROM \"user\" o \
     WHERE o.role = 'admin' AND NOT o.disabled AND o.username <> $1)";

impl Store {
    pub async fn user_hash(&self, username: &str) -> Result<Option<String>> {
        Ok(on_pool!(self, |pool, pg| sqlx::query_scalar(FIND)
            .bind(username)
            .fetch_optional(pool)
            .await?))
    }

    /// The user's hash and state, for a login.
    pub async fn user_login(&self, username: &str) -> Result<Option<(String, UserRow)>> {
        let sql = format!("SELECT hashed_password, {COLUMNS} FROM \"user\" WHERE username = $1");
        let row: Option<(String, String, String, bool, i64)> = on_pool!(self, |pool, pg| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(username)
                .fetch_optional(pool)
                .await?
        });
        Ok(
            row.map(|(hash, username, role, disabled, token_generation)| {
                (
                    hash,
                    UserRow {
                        username,
                        role,
                        disabled,
                        token_generation,
                    },
                )
            }),
        )
    }

    pub async fn user_state(&self, username: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {COLUMNS} FROM \"user\" WHERE username = $1");
        Ok(on_pool!(self, |pool, pg| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(username)
        .fetch_optional(pool)
        .await?))
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let sql = format!("SELECT {COLUMNS} FROM \"user\" ORDER BY username");
        Ok(on_pool!(self, |pool, pg| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .fetch_all(pool)
        .await?))
    }

    /// Replaces the hash and revokes the user's tokens, with its audit entry in the same
    /// transaction; false when there is no such user (nothing written).
    pub async fn set_user_hash(
        &self,
        username: &str,
        hash: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let changed = on_pool!(self, |pool, pg| {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(SET_HASH)
                .bind(username)
                .bind(hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 1 {
                audit_in!(tx, audit);
            }
            tx.commit().await?;
            n
        });
        Ok(changed == 1)
    }

    /// Creates the user unless the name is taken, with its audit entry in the same
    /// transaction; true when it was created.
    pub async fn create_user(
        &self,
        username: &str,
        hash: &str,
        role: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let created = on_pool!(self, |pool, pg| {
            let mut tx = pool.begin().await?;
            let created = sqlx::query(INSERT)
                .bind(username)
                .bind(hash)
                .bind(role)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if created {
                audit_in!(tx, audit);
            }
            tx.commit().await?;
            created
        });
        Ok(created)
    }

    /// Gives the user a role; an admin is demoted only while another enabled admin remains.
    pub async fn set_user_role(
        &self,
        username: &str,
        role: &str,
        audit: &AuditEntry,
    ) -> Result<UserChange> {
        let sql = format!(
            "UPDATE \"user\" SET role = $2 WHERE username = $1 \
             AND ($2 = 'admin' OR role <> 'admin' OR disabled OR {OTHER_ADMIN})"
        );
        self.guarded_user_change(&sql, &[username, role], audit)
            .await
    }

    /// Disables (revoking every token) or enables the user; the last enabled admin stays.
    pub async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
        audit: &AuditEntry,
    ) -> Result<UserChange> {
        let sql = if disabled {
            format!(
                "UPDATE \"user\" SET disabled = true, token_generation = token_generation + 1 \
                 WHERE username = $1 AND (role <> 'admin' OR disabled OR {OTHER_ADMIN})"
            )
        } else {
            "UPDATE \"user\" SET disabled = false WHERE username = $1".to_string()
        };
        self.guarded_user_change(&sql, &[username], audit).await
    }

    /// Runs one guarded UPDATE (`$1` the user, then the other values) and, when it changed
    /// the user, its audit entry in the same transaction. On PostgreSQL the table is locked
    /// against other writers first: two admins demoting each other at once would otherwise
    /// each see the other still an admin and leave none. SQLite runs one writer at a time.
    async fn guarded_user_change(
        &self,
        sql: &str,
        binds: &[&str],
        audit: &AuditEntry,
    ) -> Result<UserChange> {
        let changed = on_pool!(self, |pool, pg| {
            let mut tx = pool.begin().await?;
            if pg {
                sqlx::query("LOCK TABLE \"user\" IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
            for b in binds {
                q = q.bind(*b);
            }
            let n = q.execute(&mut *tx).await?.rows_affected();
            if n == 1 {
                audit_in!(tx, audit);
            }
            tx.commit().await?;
            n
        });
        if changed == 1 {
            return Ok(UserChange::Done);
        }
        Ok(match self.user_state(binds[0]).await? {
            None => UserChange::NoSuchUser,
            Some(_) => UserChange::LastAdmin,
        })
    }
}
