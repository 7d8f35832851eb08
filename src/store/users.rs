//! The original's `user` table: usernames and argon2id hashes, nothing else.

use super::{Result, Store, on_pool};

const FIND: &str = "SELECT hashed_password FROM \"user\" WHERE username = $1";
const SET_HASH: &str = "UPDATE \"user\" SET hashed_password = $2 WHERE username = $1";
const INSERT: &str = "INSERT INTO \"user\" (username, hashed_password) VALUES ($1, $2) ON CONFLICT (username) DO NOTHING";

impl Store {
    pub async fn user_hash(&self, username: &str) -> Result<Option<String>> {
        Ok(on_pool!(self, |pool, pg| sqlx::query_scalar(FIND)
            .bind(username)
            .fetch_optional(pool)
            .await?))
    }

    pub async fn set_user_hash(&self, username: &str, hash: &str) -> Result<()> {
        on_pool!(self, |pool, pg| {
            sqlx::query(SET_HASH)
                .bind(username)
                .bind(hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Creates the user unless the name is taken; true when it was created.
    pub async fn create_user(&self, username: &str, hash: &str) -> Result<bool> {
        let created = on_pool!(self, |pool, pg| {
            sqlx::query(INSERT)
                .bind(username)
                .bind(hash)
                .execute(pool)
                .await?
                .rows_affected()
                == 1
        });
        Ok(created)
    }
}
