//! What the import needs beyond the write path: the keys it has already recorded, and
//! batches in which a row the database rejects fails alone.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Creation, EventRoute, SavedProduct};
use crate::store::{Result, Store, StoreError};

impl Store {
    /// Of `keys`, those already recorded by an import.
    pub async fn known_import_keys(&self, keys: &[String]) -> Result<Vec<String>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        Ok(match self {
            Store::Postgres(pool) => {
                sqlx::query_scalar("SELECT key FROM import_key WHERE key = ANY($1)")
                    .bind(keys)
                    .fetch_all(pool)
                    .await?
            }
            Store::Sqlite(pool) => {
                sqlx::query_scalar(
                    "SELECT key FROM import_key WHERE key IN (SELECT value FROM json_each($1))",
                )
                .bind(json!(keys).to_string())
                .fetch_all(pool)
                .await?
            }
        })
    }

    /// `n` product ids drawn from the sequence now, in ascending order: batches given their
    /// ids one after the other keep that order whenever they commit.
    pub async fn reserve_ids(&self, n: usize) -> Result<Vec<i64>> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let mut ids: Vec<i64> = match self {
            Store::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT nextval('tb_product_id_seq') FROM generate_series(1, $1::bigint)",
                )
                .bind(n)
                .fetch_all(pool)
                .await?
            }
            // SQLite has one writer: its batches never commit side by side, and nothing
            // draws ids in advance (a rowid is the table's next at insert).
            Store::Sqlite(_) => {
                return Err(StoreError::Internal(
                    "ids are drawn in advance on PostgreSQL only".into(),
                ));
            }
        };
        ids.sort_unstable();
        Ok(ids)
    }

    /// Like `insert_products`, but a row the database rejects fails alone: the batch is split
    /// in halves until the bad rows stand by themselves, and the rest commit. One result per item.
    pub async fn insert_each(
        &self,
        items: &[Creation],
        at: DateTime<Utc>,
        route: &EventRoute<'_>,
    ) -> Vec<Result<SavedProduct>> {
        let mut out = Vec::with_capacity(items.len());
        // Work stack of ranges, last pushed first; pushing the right half first keeps order.
        let mut todo = Vec::new();
        todo.push(0..items.len());
        while let Some(range) = todo.pop() {
            let part = &items[range.clone()];
            match self.insert_products(part, at, route).await {
                Ok(saved) => out.extend(saved.into_iter().map(Ok)),
                Err(e) if e.is_unavailable() => {
                    out.extend(part.iter().map(|_| Err(e.clone())));
                }
                Err(e) if part.len() == 1 => out.push(Err(e)),
                Err(_) => {
                    let mid = range.start + part.len() / 2;
                    todo.push(mid..range.end);
                    todo.push(range.start..mid);
                }
            }
        }
        out
    }
}
