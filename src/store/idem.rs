//! Idempotency-Keys recorded with the products they created (written by the write path).

use chrono::{DateTime, Utc};

use super::{Result, Store, on_pool};

/// What a key recorded: the request it came with and the answer it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemRecord {
    pub request_hash: String,
    pub product_id: i64,
    pub status: u16,
    pub version: i64,
}

/// Records a change's key in the change's transaction (a registration's is written by the
/// batch statement).
pub(super) const RECORD: &str = "INSERT INTO idempotency_key
    (username, key, request_hash, product_id, status, version, created_at)
    VALUES ($1, $2, $3, $4, 200, $5, $6)";

const LOOK: &str =
    "SELECT request_hash, product_id, CAST(status AS BIGINT), version FROM idempotency_key
    WHERE username = $1 AND key = $2 AND created_at >= $3";

impl Store {
    /// `username`'s `key`, unless it was recorded before `since` (expired).
    pub async fn idem_record(
        &self,
        username: &str,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<IdemRecord>> {
        let row: Option<(String, i64, i64, i64)> = on_pool!(self, |p, pg| sqlx::query_as(LOOK)
            .bind(username)
            .bind(key)
            .bind(since)
            .fetch_optional(p)
            .await?);
        Ok(
            row.map(|(request_hash, product_id, status, version)| IdemRecord {
                request_hash,
                product_id,
                status: u16::try_from(status).unwrap_or(200),
                version,
            }),
        )
    }

    /// Deletes `username`'s `key` if it was recorded before `before` (expired).
    pub async fn forget_idem_key(
        &self,
        username: &str,
        key: &str,
        before: DateTime<Utc>,
    ) -> Result<u64> {
        let sql =
            "DELETE FROM idempotency_key WHERE username = $1 AND key = $2 AND created_at < $3";
        Ok(on_pool!(self, |p, pg| sqlx::query(sql)
            .bind(username)
            .bind(key)
            .bind(before)
            .execute(p)
            .await?
            .rows_affected()))
    }

    /// Deletes keys recorded before `before`.
    pub async fn forget_idem(&self, before: DateTime<Utc>) -> Result<u64> {
        let sql = "DELETE FROM idempotency_key WHERE created_at < $1";
        Ok(on_pool!(self, |p, pg| sqlx::query(sql)
            .bind(before)
            .execute(p)
            .await?
            .rows_affected()))
    }
}
