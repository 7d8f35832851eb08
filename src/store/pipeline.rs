//! What the pipeline view reads from the database: the backlog of every destination (with
//! its oldest event) and how long the latest events took from commit to their recorded
//! acknowledgement, for every process writing to this database at once.

use chrono::{DateTime, Utc};

use super::{Result, Store, on_pool};

/// Events waiting for one destination.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Backlog {
    pub name: String,
    /// `<cluster id>/<topic>` once a relay has reached it.
    pub cluster: Option<String>,
    pub pending: i64,
    /// When the oldest of them was committed.
    pub oldest: Option<DateTime<Utc>>,
}

/// One published event: committed at `created_at`, its acknowledgement recorded at
/// `published_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct PublishTimes {
    pub created_at: DateTime<Utc>,
    pub published_at: DateTime<Utc>,
}

const BACKLOG: &str = "SELECT d.name, d.cluster, CAST(COUNT(o.id) AS BIGINT) AS pending,
    MIN(o.created_at) AS oldest
  FROM destination d LEFT JOIN outbox o ON o.destination = d.name AND o.published_at IS NULL
  GROUP BY d.name, d.cluster ORDER BY d.name";
// No index holds only the published events (migration 0015), so two bounded walks of the
// primary key from the newest: the newest rows, nearly all published in steady flow, and the
// rows just below the oldest pending event, which are what a relay draining a backlog has
// just published.
const RECENT: &str = "SELECT created_at, published_at FROM (
    SELECT id, created_at, published_at FROM (
      SELECT id, created_at, published_at FROM outbox ORDER BY id DESC LIMIT $1) newest
    UNION
    SELECT id, created_at, published_at FROM (
      SELECT id, created_at, published_at FROM outbox
      WHERE id < (SELECT MIN(id) FROM outbox WHERE published_at IS NULL)
      ORDER BY id DESC LIMIT $1) drained
  ) r WHERE published_at IS NOT NULL ORDER BY id DESC LIMIT $1";

impl Store {
    /// Every destination with its pending events and the oldest one's commit time.
    pub async fn backlog(&self) -> Result<Vec<Backlog>> {
        Ok(on_pool!(self, |pool, pg| sqlx::query_as(BACKLOG)
            .fetch_all(pool)
            .await?))
    }

    /// Commit and acknowledgement times of the `limit` latest published events, newest first.
    pub async fn recent_publish_times(&self, limit: i64) -> Result<Vec<PublishTimes>> {
        Ok(on_pool!(self, |pool, pg| sqlx::query_as(RECENT)
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }
}
