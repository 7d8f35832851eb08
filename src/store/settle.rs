//! The outcome of a batch whose commit answer was lost (`StoreError::Unsettled`): the batch's
//! token row tells, and writing the token ourselves fences a commit still on its way.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::write::{product_of, saved};
use super::{Creation, Result, SavedProduct, Store, StoreError, on_pool};

const FENCE: &str = "INSERT INTO write_batch (created_at, token, rows) VALUES ($1, $2, NULL)
    ON CONFLICT DO NOTHING RETURNING token";
const LOOK: &str = "SELECT rows FROM write_batch WHERE created_at = $1 AND token = $2";

impl Store {
    /// Whether the batch `token` of `items`, written at `at`, committed: its products if it
    /// did, an `Unavailable` error saying nothing was saved if it did not. While the database
    /// does not answer it asks again, for up to `patience`; past that the outcome is unknown
    /// and the error says so.
    pub async fn settle(
        &self,
        items: &[Creation],
        at: DateTime<Utc>,
        token: i64,
        patience: Duration,
    ) -> Result<Vec<SavedProduct>> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            match self.settle_once(items, at, token).await {
                Ok(Some(saved)) => return Ok(saved),
                Ok(None) => {
                    return Err(StoreError::unavailable(
                        "the database stopped answering during the commit; nothing of it was \
                         saved",
                    ));
                }
                Err(e) if e.is_unavailable() && start.elapsed() < patience => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(e) if e.is_unavailable() => {
                    return Err(StoreError::Unsettled {
                        reason: format!(
                            "the database stopped answering during the commit and has not \
                             answered for {}s since ({e}): whether the products were saved is \
                             unknown; look them up before registering them again",
                            patience.as_secs()
                        ),
                        token,
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn settle_once(
        &self,
        items: &[Creation],
        at: DateTime<Utc>,
        token: i64,
    ) -> Result<Option<Vec<SavedProduct>>> {
        // Waits for the lost commit if it is still running (the same key): after it, the
        // token is ours (never committed, and now it never will) or the batch's.
        let fenced: Option<i64> = on_pool!(self, |p, pg| sqlx::query_scalar(FENCE)
            .bind(at)
            .bind(token)
            .fetch_optional(p)
            .await?);
        let rows: Option<Option<String>> = if fenced.is_some() {
            Some(None)
        } else {
            on_pool!(self, |p, pg| sqlx::query_scalar(LOOK)
                .bind(at)
                .bind(token)
                .fetch_optional(p)
                .await?)
        };
        let Some(Some(rows)) = rows else {
            return Ok(None);
        };
        let rows: Vec<[i64; 4]> = serde_json::from_str(&rows)
            .map_err(|e| StoreError::Internal(format!("write_batch rows: {e}")))?;
        if rows.len() != items.len() {
            return Err(StoreError::Internal(format!(
                "write_batch holds {} rows for a batch of {}",
                rows.len(),
                items.len()
            )));
        }
        Ok(Some(
            items
                .iter()
                .zip(rows)
                .map(|(item, [id, pricing, avail, outbox])| {
                    saved(
                        product_of(item, id, pricing, avail, at),
                        outbox,
                        item.trace.clone(),
                    )
                })
                .collect(),
        ))
    }

    /// Deletes batch tokens written before `before` (nothing settles that late).
    pub async fn forget_batches(&self, before: DateTime<Utc>) -> Result<u64> {
        let sql = "DELETE FROM write_batch WHERE created_at < $1";
        Ok(on_pool!(self, |p, pg| sqlx::query(sql)
            .bind(before)
            .execute(p)
            .await?
            .rows_affected()))
    }
}
