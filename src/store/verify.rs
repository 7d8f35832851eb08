//! What `dataflow verify` reads from the outbox: the published events of one destination in
//! topic order, and the lookups that explain a record found on the topic.

use chrono::{DateTime, Utc};

use super::audit::sqlite_time;
use super::{Result, Store, on_pool};
use crate::domain::RecordedEvent;

/// Which published events to check.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublishedFilter {
    /// Only events whose acknowledgement was recorded at or after this instant.
    pub since: Option<DateTime<Utc>>,
    pub product: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    product_id: i64,
    version: i64,
    kafka_partition: i32,
    kafka_offset: i64,
}

impl From<Row> for RecordedEvent {
    fn from(r: Row) -> Self {
        RecordedEvent {
            id: r.id,
            product_id: r.product_id,
            version: r.version,
            partition: r.kafka_partition,
            offset: r.kafka_offset,
        }
    }
}

const COLUMNS: &str = "SELECT id, product_id, version, kafka_partition, kafka_offset FROM outbox";
// $1 destination, $2 since, $3 product: the selection every query below starts from. Every
// spelling of the same cluster and topic counts (the relay publishes them all there).
const SELECTED: &str = "destination IN (SELECT d.name FROM destination d WHERE d.name = $1
      OR d.cluster = (SELECT m.cluster FROM destination m WHERE m.name = $1))
    AND published_at IS NOT NULL
    AND ($2 IS NULL OR published_at >= $2) AND ($3 IS NULL OR product_id = $3)";

/// Binds destination, since and product (in each back end's time format).
macro_rules! selected {
    ($q:expr, $pg:expr, $dest:expr, $f:expr) => {{
        let q = $q.bind($dest);
        let q = if $pg {
            q.bind($f.since)
        } else {
            q.bind($f.since.map(sqlite_time))
        };
        q.bind($f.product)
    }};
}

impl Store {
    /// Partitions with selected events: (partition, lowest offset, events).
    pub async fn published_partitions(
        &self,
        dest: &str,
        f: PublishedFilter,
    ) -> Result<Vec<(i32, i64, i64)>> {
        let sql = format!(
            "SELECT kafka_partition, MIN(kafka_offset), CAST(COUNT(*) AS BIGINT) FROM outbox \
             WHERE {SELECTED} GROUP BY kafka_partition ORDER BY kafka_partition"
        );
        let sql = sqlx::AssertSqlSafe(sql);
        Ok(on_pool!(self, |pool, pg| selected!(
            sqlx::query_as(sql),
            pg,
            dest,
            f
        )
        .fetch_all(pool)
        .await?))
    }

    /// Up to `limit` selected events of `partition` after (offset, id) `after`, by offset
    /// (two rows may claim one offset: both are read).
    pub async fn published_page(
        &self,
        dest: &str,
        f: PublishedFilter,
        partition: i32,
        after: (i64, i64),
        limit: i64,
    ) -> Result<Vec<RecordedEvent>> {
        let sql = format!(
            "{COLUMNS} WHERE {SELECTED} AND kafka_partition = $4 \
             AND (kafka_offset > $5 OR (kafka_offset = $5 AND id > $7)) \
             ORDER BY kafka_offset, id LIMIT $6"
        );
        let sql = sqlx::AssertSqlSafe(sql);
        let rows: Vec<Row> = on_pool!(self, |pool, pg| selected!(sqlx::query_as(sql), pg, dest, f)
            .bind(partition)
            .bind(after.0)
            .bind(limit)
            .bind(after.1)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The published event a record claims to be: by its event id, else by product and
    /// version.
    pub async fn published_event(
        &self,
        dest: &str,
        event_id: Option<i64>,
        product: i64,
        version: i64,
    ) -> Result<Option<RecordedEvent>> {
        let sql = format!(
            "{COLUMNS} WHERE destination IN (SELECT d.name FROM destination d WHERE d.name = $1 OR d.cluster = (SELECT m.cluster FROM destination m WHERE m.name = $1)) AND published_at IS NOT NULL AND \
             (id = $2 OR ($2 IS NULL AND product_id = $3 AND version = $4)) ORDER BY id LIMIT 1"
        );
        let sql = sqlx::AssertSqlSafe(sql);
        let row: Option<Row> = on_pool!(self, |pool, pg| sqlx::query_as(sql)
            .bind(dest)
            .bind(event_id)
            .bind(product)
            .bind(version)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(Into::into))
    }

    /// The highest version of `product` recorded in `partition` before `offset`.
    pub async fn highest_version_before(
        &self,
        dest: &str,
        product: i64,
        partition: i32,
        offset: i64,
    ) -> Result<Option<i64>> {
        let sql = "SELECT MAX(version) FROM outbox WHERE destination IN (SELECT d.name FROM destination d WHERE d.name = $1 OR d.cluster = (SELECT m.cluster FROM destination m WHERE m.name = $1)) AND \
             published_at IS NOT NULL AND product_id = $2 AND kafka_partition = $3 AND kafka_offset < $4";
        Ok(on_pool!(self, |pool, pg| sqlx::query_scalar(sql)
            .bind(dest)
            .bind(product)
            .bind(partition)
            .bind(offset)
            .fetch_one(pool)
            .await?))
    }

    /// Events of `product` recorded in `partition` after `offset` with a version below
    /// `version`: out of order behind a record of `version` there.
    pub async fn lower_versions_after(
        &self,
        dest: &str,
        product: i64,
        partition: i32,
        offset: i64,
        version: i64,
    ) -> Result<Vec<RecordedEvent>> {
        let sql = format!(
            "{COLUMNS} WHERE destination IN (SELECT d.name FROM destination d WHERE d.name = $1 OR d.cluster = (SELECT m.cluster FROM destination m WHERE m.name = $1)) AND published_at IS NOT NULL AND product_id = $2 \
             AND kafka_partition = $3 AND kafka_offset > $4 AND version < $5 \
             AND NOT EXISTS (SELECT 1 FROM outbox h WHERE h.product_id = outbox.product_id \
               AND h.kafka_partition = outbox.kafka_partition AND h.kafka_offset < outbox.kafka_offset \
               AND h.version > outbox.version AND h.published_at IS NOT NULL) \
             ORDER BY kafka_offset"
        );
        let sql = sqlx::AssertSqlSafe(sql);
        let rows: Vec<Row> = on_pool!(self, |pool, pg| sqlx::query_as(sql)
            .bind(dest)
            .bind(product)
            .bind(partition)
            .bind(offset)
            .bind(version)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Selected events recorded after a higher version of their product (by partition, then
    /// offset), each with that higher version; at most `limit` of them.
    pub async fn recorded_out_of_order(
        &self,
        dest: &str,
        f: PublishedFilter,
        limit: i64,
    ) -> Result<Vec<(RecordedEvent, i64)>> {
        let sql = format!(
            "SELECT id, product_id, version, kafka_partition, kafka_offset, before FROM (\
               SELECT id, product_id, version, kafka_partition, kafka_offset, \
                 MAX(version) OVER (PARTITION BY product_id, kafka_partition ORDER BY kafka_offset \
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before \
               FROM outbox WHERE {SELECTED}) w \
             WHERE before > version ORDER BY kafka_partition, kafka_offset LIMIT $4"
        );
        let sql = sqlx::AssertSqlSafe(sql);
        let rows: Vec<(i64, i64, i64, i32, i64, i64)> =
            on_pool!(self, |pool, pg| selected!(sqlx::query_as(sql), pg, dest, f)
                .bind(limit)
                .fetch_all(pool)
                .await?);
        Ok(rows
            .into_iter()
            .map(|(id, product_id, version, partition, offset, before)| {
                let e = RecordedEvent {
                    id,
                    product_id,
                    version,
                    partition,
                    offset,
                };
                (e, before)
            })
            .collect())
    }

    /// True when a later version of the event's product is recorded further on in its
    /// partition: a compacted topic may have dropped the event.
    pub async fn superseded(&self, dest: &str, e: &RecordedEvent) -> Result<bool> {
        let sql = "SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE destination IN (SELECT d.name FROM destination d WHERE d.name = $1 OR d.cluster = (SELECT m.cluster FROM destination m WHERE m.name = $1)) AND \
             published_at IS NOT NULL AND product_id = $2 AND kafka_partition = $3 AND \
             kafka_offset > $4 AND version > $5";
        let n: i64 = on_pool!(self, |pool, pg| sqlx::query_scalar(sql)
            .bind(dest)
            .bind(e.product_id)
            .bind(e.partition)
            .bind(e.offset)
            .bind(e.version)
            .fetch_one(pool)
            .await?);
        Ok(n > 0)
    }
}
