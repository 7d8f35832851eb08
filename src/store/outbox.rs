//! The outbox: events committed with their products. The relay of the process that wrote an
//! event holds it under a lease (by the database's clock) and renews it while it lives; any relay
//! of the same destination takes an event once it is orphaned (no holder, or the lease ran out).

use std::time::Duration;

use serde_json::json;

use super::{Result, Store, on_pool};
use crate::domain::{EventKind, PublishState};

/// An event to publish.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxEvent {
    pub id: i64,
    pub product_id: i64,
    pub msg_key: String,
    /// Empty for a tombstone (`event` = deleted): published with a null value.
    pub payload: String,
    /// `created`, `updated` or `deleted` (the migration's CHECK): the `event` header.
    pub event: String,
    /// The product's version this event carries: the `version` header.
    pub version: i64,
    /// The W3C trace context of the request that made it: the record's `traceparent`.
    pub traceparent: Option<String>,
    /// Set on a claimed orphan that a relay held before, or whose send failed: the broker may
    /// have it already, so the relay looks for it on the topic before sending it again.
    #[sqlx(default)]
    pub uncertain: bool,
    /// Its commit time in ms since the epoch (claimed orphans): where that look starts.
    #[sqlx(default)]
    pub created_ms: Option<i64>,
}

impl OutboxEvent {
    pub fn kind(&self) -> EventKind {
        EventKind::parse(&self.event).unwrap_or(EventKind::Created)
    }

    /// The record's value: None for a tombstone.
    pub fn value(&self) -> Option<&[u8]> {
        match self.kind() {
            EventKind::Deleted => None,
            _ => Some(self.payload.as_bytes()),
        }
    }
}

/// The broker's acknowledgement of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedAck {
    pub outbox_id: i64,
    pub product_id: i64,
    pub partition: i32,
    pub offset: i64,
}

// An orphan is claimable only while it is the oldest unpublished event of its product, so a
// product's events reach the topic in commit order whoever publishes them. SKIP LOCKED keeps
// two relays on one PostgreSQL database apart; SQLite serializes writers.
// `attempts` counts the times its fate became unknown: a failed send, or a holder that
// lapsed (the SET reads the row as it was, so a claim of a held row adds one).
// The product's oldest unpublished event is looked up per candidate through the product's
// index, as kafka_offset IS NULL (the same as published_at IS NULL by outbox_check, but
// matching no partial index): written as NOT EXISTS on published_at, PostgreSQL scanned
// every pending event once per orphan with statistics from a quiet moment, or the whole
// outbox once with none (tests/claim_cost.rs).
const CLAIM_PG: &str =
    "UPDATE outbox SET claimed_by = $1, claimed_until = clock_timestamp() + make_interval(secs => $2),
    attempts = attempts + CASE WHEN claimed_until IS NULL THEN 0 ELSE 1 END
  WHERE id IN (
    SELECT o.id FROM outbox o
    WHERE (o.destination = $3 OR o.destination IN (SELECT d.name FROM destination d
        WHERE d.cluster = (SELECT m.cluster FROM destination m WHERE m.name = $3)))
      AND o.published_at IS NULL
      AND (o.claimed_until IS NULL OR o.claimed_until < now())
      AND o.id = (SELECT e.id FROM outbox e WHERE e.product_id = o.product_id AND e.id <= o.id
                  AND e.kafka_offset IS NULL ORDER BY e.id LIMIT 1)
    ORDER BY o.id LIMIT $4 FOR UPDATE SKIP LOCKED)
  RETURNING id, product_id, msg_key, payload, event, version, traceparent,
    attempts > 0 AS uncertain, CAST(EXTRACT(EPOCH FROM created_at) * 1000 AS BIGINT) AS created_ms";
const CLAIM_SQLITE: &str = "UPDATE outbox
  SET claimed_by = $1, claimed_until = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('%+.3f seconds', $2)),
    attempts = attempts + CASE WHEN claimed_until IS NULL THEN 0 ELSE 1 END
  WHERE id IN (
    SELECT o.id FROM outbox o
    WHERE (o.destination = $3 OR o.destination IN (SELECT d.name FROM destination d
        WHERE d.cluster = (SELECT m.cluster FROM destination m WHERE m.name = $3)))
      AND o.published_at IS NULL
      AND (o.claimed_until IS NULL OR o.claimed_until < strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.product_id = o.product_id AND e.id < o.id
                      AND e.published_at IS NULL)
    ORDER BY o.id LIMIT $4)
  RETURNING id, product_id, msg_key, payload, event, version, traceparent,
    attempts > 0 AS uncertain,
    CAST((julianday(created_at) - 2440587.5) * 86400000.0 AS INTEGER) AS created_ms";

// One statement marks a batch, and only rows this relay still holds and nobody published.
// MARK and RENEW lock their rows in id order (FOR UPDATE under ORDER BY), so the marker and
// a renewal of the same relay never deadlock on PostgreSQL. Each row is found by its key
// from the batch: joining the batch to a second list of the same rows let the generic plan
// (which guesses 10 rows for an array) compare every row with every other, 38 ms for a mark
// of 500, and the import spent most of its time there.
const MARK_PG: &str = "WITH l AS (SELECT o.id, v.p, v.o
      FROM unnest($1::bigint[], $2::int[], $3::bigint[]) AS v(id, p, o)
      JOIN outbox o ON o.id = v.id
      WHERE o.claimed_by = $4 AND o.published_at IS NULL ORDER BY o.id FOR UPDATE OF o)
  UPDATE outbox o SET published_at = now(), kafka_partition = l.p,
    kafka_offset = l.o, claimed_by = NULL, claimed_until = NULL, last_error = NULL
  FROM l WHERE o.id = l.id";
// The batch is materialized first so SQLite walks it and finds each row by its key; as a
// subquery, it walked every row this relay holds and scanned the batch for each (quadratic:
// 3.76 s of the 4.25 s of SQL in a 30,000-row import went there).
const MARK_SQLITE: &str = "WITH v AS MATERIALIZED (SELECT json_extract(value, '$[0]') AS id,
    json_extract(value, '$[1]') AS p, json_extract(value, '$[2]') AS o FROM json_each($1))
  UPDATE outbox SET published_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
    kafka_partition = v.p, kafka_offset = v.o, claimed_by = NULL, claimed_until = NULL,
    last_error = NULL
  FROM v WHERE outbox.id = v.id AND outbox.claimed_by = $2 AND outbox.published_at IS NULL";
// A fresh embedded broker got published events again: record where they are now.
const REPLAYED_PG: &str = "UPDATE outbox o SET kafka_partition = v.p, kafka_offset = v.o
  FROM unnest($1::bigint[], $2::int[], $3::bigint[]) AS v(id, p, o)
  WHERE o.id = v.id AND o.published_at IS NOT NULL";
const REPLAYED_SQLITE: &str = "WITH v AS MATERIALIZED (SELECT json_extract(value, '$[0]') AS id,
    json_extract(value, '$[1]') AS p, json_extract(value, '$[2]') AS o FROM json_each($1))
  UPDATE outbox SET kafka_partition = v.p, kafka_offset = v.o
  FROM v WHERE outbox.id = v.id AND outbox.published_at IS NOT NULL";
const RENEW_PG: &str =
    "UPDATE outbox SET claimed_until = clock_timestamp() + make_interval(secs => $2)
  WHERE id IN (SELECT id FROM outbox WHERE claimed_by = $1 AND published_at IS NULL
               ORDER BY id FOR UPDATE)";
const RENEW_SQLITE: &str = "UPDATE outbox
  SET claimed_until = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('%+.3f seconds', $2))
  WHERE claimed_by = $1 AND published_at IS NULL";
const FAILED_PG: &str = "UPDATE outbox SET attempts = attempts + 1, last_error = $1
  WHERE claimed_by = $2 AND id = ANY($3::bigint[])";
const FAILED_SQLITE: &str = "UPDATE outbox SET attempts = attempts + 1, last_error = $1
  WHERE claimed_by = $2 AND id IN (SELECT value FROM json_each($3))";
// Before a failed event is sent again: extends the lease of those this relay still holds.
const HOLD_AGAIN_PG: &str =
    "UPDATE outbox SET claimed_until = clock_timestamp() + make_interval(secs => $3)
  WHERE claimed_by = $1 AND published_at IS NULL AND id = ANY($2::bigint[]) RETURNING id";
const HOLD_AGAIN_SQLITE: &str = "UPDATE outbox
  SET claimed_until = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('%+.3f seconds', $3))
  WHERE claimed_by = $1 AND published_at IS NULL AND id IN (SELECT value FROM json_each($2))
  RETURNING id";
const RELEASE: &str = "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
  WHERE claimed_by = $1 AND published_at IS NULL";
const PENDING: &str = "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL";
const PENDING_BETWEEN: &str = "SELECT COUNT(*) FROM outbox
    WHERE published_at IS NULL AND destination = $1 AND id BETWEEN $2 AND $3";
const STATE: &str = "SELECT kafka_partition, kafka_offset FROM outbox WHERE id = $1";
const RECENT: &str = "SELECT id, product_id, msg_key, payload, event, version, traceparent FROM (
    SELECT id, product_id, msg_key, payload, event, version, traceparent FROM outbox
    WHERE published_at IS NOT NULL AND destination = $2 ORDER BY id DESC LIMIT $1
  ) recent ORDER BY id ASC";

fn columns(acks: &[PublishedAck]) -> (Vec<i64>, Vec<i32>, Vec<i64>) {
    (
        acks.iter().map(|a| a.outbox_id).collect(),
        acks.iter().map(|a| a.partition).collect(),
        acks.iter().map(|a| a.offset).collect(),
    )
}

fn rows_json(acks: &[PublishedAck]) -> String {
    json!(
        acks.iter()
            .map(|a| json!([a.outbox_id, a.partition, a.offset]))
            .collect::<Vec<_>>()
    )
    .to_string()
}

impl Store {
    /// Takes up to `limit` orphaned events of `destination`, or of a destination found to be
    /// the same cluster and topic, for `relay`, oldest first.
    pub async fn claim_orphans(
        &self,
        relay: &str,
        destination: &str,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>> {
        let mut events: Vec<OutboxEvent> = on_pool!(self, |pool, pg| {
            sqlx::query_as(if pg { CLAIM_PG } else { CLAIM_SQLITE })
                .bind(relay)
                .bind(lease.as_secs_f64())
                .bind(destination)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// Records the broker's acknowledgements in one statement; returns how many rows it
    /// marked (an event this relay no longer holds is left alone).
    pub async fn mark_published(&self, relay: &str, acks: &[PublishedAck]) -> Result<u64> {
        if acks.is_empty() {
            return Ok(0);
        }
        let done = match self {
            Store::Postgres(pool) => {
                let (ids, parts, offsets) = columns(acks);
                sqlx::query(MARK_PG)
                    .bind(ids)
                    .bind(parts)
                    .bind(offsets)
                    .bind(relay)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
            Store::Sqlite(pool) => sqlx::query(MARK_SQLITE)
                .bind(rows_json(acks))
                .bind(relay)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        Ok(done)
    }

    /// Records the new offsets of events replayed into a fresh embedded broker.
    pub async fn record_replayed(&self, acks: &[PublishedAck]) -> Result<()> {
        match self {
            Store::Postgres(pool) => {
                let (ids, parts, offsets) = columns(acks);
                sqlx::query(REPLAYED_PG)
                    .bind(ids)
                    .bind(parts)
                    .bind(offsets)
                    .execute(pool)
                    .await?;
            }
            Store::Sqlite(pool) => {
                sqlx::query(REPLAYED_SQLITE)
                    .bind(rows_json(acks))
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Extends the lease of every unpublished event `relay` holds.
    pub async fn renew_leases(&self, relay: &str, lease: Duration) -> Result<u64> {
        Ok(on_pool!(self, |pool, pg| sqlx::query(if pg {
            RENEW_PG
        } else {
            RENEW_SQLITE
        })
        .bind(relay)
        .bind(lease.as_secs_f64())
        .execute(pool)
        .await?
        .rows_affected()))
    }

    /// Notes a failed publish attempt on events `relay` keeps holding.
    pub async fn note_failure(&self, relay: &str, ids: &[i64], error: &str) -> Result<()> {
        match self {
            Store::Postgres(pool) => {
                sqlx::query(FAILED_PG)
                    .bind(error)
                    .bind(relay)
                    .bind(ids)
                    .execute(pool)
                    .await?;
            }
            Store::Sqlite(pool) => {
                sqlx::query(FAILED_SQLITE)
                    .bind(error)
                    .bind(relay)
                    .bind(json!(ids).to_string())
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Of `ids`, those `relay` still holds, with their lease extended: only these may be sent
    /// again. Another relay that took one over (a lease ran out) publishes it itself; sending
    /// it here too could put an older version after a newer one.
    pub async fn hold_again(&self, relay: &str, ids: &[i64], lease: Duration) -> Result<Vec<i64>> {
        let held = match self {
            Store::Postgres(pool) => {
                sqlx::query_scalar(HOLD_AGAIN_PG)
                    .bind(relay)
                    .bind(ids)
                    .bind(lease.as_secs_f64())
                    .fetch_all(pool)
                    .await?
            }
            Store::Sqlite(pool) => {
                sqlx::query_scalar(HOLD_AGAIN_SQLITE)
                    .bind(relay)
                    .bind(json!(ids).to_string())
                    .bind(lease.as_secs_f64())
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(held)
    }

    /// Gives up every unpublished event `relay` holds, for other relays to take at once.
    pub async fn release_held(&self, relay: &str) -> Result<u64> {
        Ok(on_pool!(self, |pool, pg| sqlx::query(RELEASE)
            .bind(relay)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    pub async fn pending_count(&self) -> Result<i64> {
        Ok(on_pool!(self, |pool, pg| sqlx::query_scalar(PENDING)
            .fetch_one(pool)
            .await?))
    }

    /// Pending events of `destination` with ids in `lo..=hi` (one import's, say).
    pub async fn pending_between(&self, destination: &str, lo: i64, hi: i64) -> Result<i64> {
        Ok(on_pool!(self, |pool, pg| sqlx::query_scalar(
            PENDING_BETWEEN
        )
        .bind(destination)
        .bind(lo)
        .bind(hi)
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

    /// The newest `limit` published events of `destination`, oldest first: what a fresh
    /// embedded broker replays.
    pub async fn recent_published(
        &self,
        destination: &str,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>> {
        Ok(on_pool!(self, |pool, pg| sqlx::query_as(RECENT)
            .bind(limit)
            .bind(destination)
            .fetch_all(pool)
            .await?))
    }
}
