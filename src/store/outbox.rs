//! The outbox: events committed with their products, claimed by one relay at a time.

use chrono::{DateTime, Utc};

use super::{Result, Store, on_pool};
use crate::domain::PublishState;

/// An event to publish, as claimed by a relay.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxEvent {
    pub id: i64,
    pub product_id: i64,
    pub msg_key: String,
    pub payload: String,
}

/// The broker's acknowledgement of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedAck {
    pub outbox_id: i64,
    pub product_id: i64,
    pub partition: i32,
    pub offset: i64,
}

// SKIP LOCKED keeps two relays on one PostgreSQL database from claiming the same rows; SQLite
// serializes writers, so the plain form is already exclusive there.
const CLAIM_PG: &str = "UPDATE outbox SET claimed_by = $1, claimed_until = $2 WHERE id IN (
    SELECT id FROM outbox WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < $3)
    ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)
  RETURNING id, product_id, msg_key, payload";
const CLAIM_SQLITE: &str = "UPDATE outbox SET claimed_by = $1, claimed_until = $2 WHERE id IN (
    SELECT id FROM outbox WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < $3)
    ORDER BY id LIMIT $4)
  RETURNING id, product_id, msg_key, payload";
const MARK: &str = "UPDATE outbox SET published_at = $1, kafka_partition = $2, kafka_offset = $3,
    claimed_by = NULL, claimed_until = NULL, last_error = NULL WHERE id = $4";
const RELEASE: &str =
    "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL, attempts = attempts + 1,
    last_error = $1 WHERE id = $2 AND claimed_by = $3";
const PENDING: &str = "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL";
const STATE: &str = "SELECT kafka_partition, kafka_offset FROM outbox WHERE id = $1";
const RECENT: &str = "SELECT id, product_id, msg_key, payload FROM (
    SELECT id, product_id, msg_key, payload FROM outbox WHERE published_at IS NOT NULL ORDER BY id DESC LIMIT $1
  ) recent ORDER BY id ASC";

impl Store {
    /// Claims up to `limit` unpublished events, oldest first, for `relay` until `until`.
    /// A claim whose lease ran out (its relay died) can be taken again.
    pub async fn claim_events(
        &self,
        relay: &str,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>> {
        let now = Utc::now();
        let mut events: Vec<OutboxEvent> = on_pool!(self, |pool, pg| {
            let sql = if pg { CLAIM_PG } else { CLAIM_SQLITE };
            sqlx::query_as(sql)
                .bind(relay)
                .bind(until)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// Records the broker's acknowledgements in one transaction.
    pub async fn mark_published(&self, acks: &[PublishedAck]) -> Result<()> {
        let now = Utc::now();
        on_pool!(self, |pool, pg| {
            let mut tx = pool.begin().await?;
            for a in acks {
                sqlx::query(MARK)
                    .bind(now)
                    .bind(a.partition)
                    .bind(a.offset)
                    .bind(a.outbox_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Gives claimed events back after a failed publish, noting why.
    pub async fn release_events(&self, relay: &str, ids: &[i64], error: &str) -> Result<()> {
        on_pool!(self, |pool, pg| {
            let mut tx = pool.begin().await?;
            for id in ids {
                sqlx::query(RELEASE)
                    .bind(error)
                    .bind(id)
                    .bind(relay)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn pending_count(&self) -> Result<i64> {
        Ok(on_pool!(self, |pool, pg| sqlx::query_scalar(PENDING)
            .fetch_one(pool)
            .await?))
    }

    pub async fn event_state(&self, outbox_id: i64) -> Result<Option<PublishState>> {
        let row: Option<(Option<i32>, Option<i64>)> =
            on_pool!(self, |pool, pg| sqlx::query_as(STATE)
                .bind(outbox_id)
                .fetch_optional(pool)
                .await?);
        Ok(row.map(|r| match r {
            (Some(partition), Some(offset)) => PublishState::Published { partition, offset },
            _ => PublishState::Pending,
        }))
    }

    /// The newest `limit` published events, oldest first: what a fresh embedded broker replays.
    pub async fn recent_published(&self, limit: i64) -> Result<Vec<OutboxEvent>> {
        Ok(on_pool!(self, |pool, pg| sqlx::query_as(RECENT)
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }
}
