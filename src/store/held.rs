//! What a relay holds in the database, to find rows it holds without knowing them: an INSERT
//! or a claim whose answer was lost, a change dropped during its commit. Renewed with the
//! rest, they would never be sent.

use super::{Result, Store, on_pool};

const HELD: &str = "SELECT id FROM outbox WHERE claimed_by = $1 AND published_at IS NULL";
const RELEASE_PG: &str = "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
  WHERE claimed_by = $1 AND published_at IS NULL AND id = ANY($2::bigint[])";
const RELEASE_SQLITE: &str = "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
  WHERE claimed_by = $1 AND published_at IS NULL AND id IN (SELECT value FROM json_each($2))";

const REFUSED: &str = "SELECT COUNT(*), MAX(last_error) FROM outbox
  WHERE published_at IS NULL AND last_error LIKE $1";

impl Store {
    /// Pending events whose last error starts with `prefix` (the broker refused them for
    /// good), and one of their reasons.
    pub async fn refused(&self, prefix: &str) -> Result<(i64, Option<String>)> {
        // The prefix is ours and has no LIKE wildcards.
        let like = format!("{prefix}%");
        Ok(on_pool!(self, |pool, pg| sqlx::query_as(REFUSED)
            .bind(&like)
            .fetch_one(pool)
            .await?))
    }

    /// The unpublished events `relay` holds.
    pub async fn held_by(&self, relay: &str) -> Result<Vec<i64>> {
        Ok(on_pool!(self, |pool, pg| sqlx::query_scalar(HELD)
            .bind(relay)
            .fetch_all(pool)
            .await?))
    }

    /// Gives these of `relay`'s events back to the outbox: any relay may claim them now.
    pub async fn release_ids(&self, relay: &str, ids: &[i64]) -> Result<u64> {
        Ok(match self {
            Store::Postgres(pool) => sqlx::query(RELEASE_PG)
                .bind(relay)
                .bind(ids)
                .execute(pool)
                .await?
                .rows_affected(),
            Store::Sqlite(pool) => sqlx::query(RELEASE_SQLITE)
                .bind(relay)
                .bind(serde_json::json!(ids).to_string())
                .execute(pool)
                .await?
                .rows_affected(),
        })
    }
}
