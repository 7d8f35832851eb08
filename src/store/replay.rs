//! `dataflow outbox replay`: the published events it chooses, in id order, and where each
//! replay stands (`replay_run`), so an interrupted one resumes. Nothing here touches what the
//! live relay publishes or marks.

use chrono::{DateTime, Utc};

use super::audit::sqlite_time;
use super::{OutboxEvent, Result, Store, on_pool};

/// Which published events a replay sends.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayFilter {
    pub product: Option<i64>,
    /// Outbox ids, both ends included.
    pub from_id: Option<i64>,
    pub to_id: Option<i64>,
    /// Commit times, from included, until excluded.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Where a replay stands: every event up to `last_id` was acknowledged by the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct ReplayRun {
    pub last_id: i64,
    pub sent: i64,
    /// When it last moved on (ms since the epoch).
    pub updated_ms: i64,
    pub finished: bool,
    /// It was begun before and did not finish: what it sent last may be on the target.
    #[sqlx(default)]
    pub resumed: bool,
}

// $1 destination, $2 product, $3 from id, $4 to id, $5 since, $6 until, $7 after id.
const CHOSEN: &str = "destination = $1 AND published_at IS NOT NULL
    AND ($2 IS NULL OR product_id = $2) AND ($3 IS NULL OR id >= $3) AND ($4 IS NULL OR id <= $4)
    AND ($5 IS NULL OR created_at >= $5) AND ($6 IS NULL OR created_at < $6) AND id > $7";

macro_rules! chosen {
    ($q:expr, $pg:expr, $dest:expr, $f:expr, $after:expr) => {{
        let q = $q
            .bind($dest)
            .bind($f.product)
            .bind($f.from_id)
            .bind($f.to_id);
        let q = if $pg {
            q.bind($f.since).bind($f.until)
        } else {
            q.bind($f.since.map(sqlite_time))
                .bind($f.until.map(sqlite_time))
        };
        q.bind($after)
    }};
}

const START: &str =
    "INSERT INTO replay_run (selection) VALUES ($1) ON CONFLICT (selection) DO NOTHING";
const RUN_PG: &str = "SELECT last_id, sent,
    CAST(EXTRACT(EPOCH FROM updated_at) * 1000 AS BIGINT) AS updated_ms,
    finished_at IS NOT NULL AS finished FROM replay_run WHERE selection = $1";
const RUN_SQLITE: &str = "SELECT last_id, sent,
    CAST((julianday(updated_at) - 2440587.5) * 86400000.0 AS INTEGER) AS updated_ms,
    finished_at IS NOT NULL AS finished FROM replay_run WHERE selection = $1";
const AGAIN_PG: &str = "UPDATE replay_run SET last_id = 0, sent = 0, started_at = now(),
    updated_at = now(), finished_at = NULL WHERE selection = $1";
const AGAIN_SQLITE: &str = "UPDATE replay_run SET last_id = 0, sent = 0,
    started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), finished_at = NULL WHERE selection = $1";
const MOVED_PG: &str =
    "UPDATE replay_run SET last_id = $2, sent = $3, updated_at = now() WHERE selection = $1";
const MOVED_SQLITE: &str = "UPDATE replay_run SET last_id = $2, sent = $3,
    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE selection = $1";
const DONE_PG: &str = "UPDATE replay_run SET finished_at = now() WHERE selection = $1";
const DONE_SQLITE: &str =
    "UPDATE replay_run SET finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE selection = $1";

impl Store {
    /// The replay named `selection`: resumed where it stands, or started (again, when the
    /// last one finished).
    pub async fn replay_run(&self, selection: &str) -> Result<ReplayRun> {
        let run: ReplayRun = on_pool!(self, |pool, pg| {
            let new = sqlx::query(START)
                .bind(selection)
                .execute(pool)
                .await?
                .rows_affected()
                > 0;
            let mut run: ReplayRun = sqlx::query_as(if pg { RUN_PG } else { RUN_SQLITE })
                .bind(selection)
                .fetch_one(pool)
                .await?;
            run.resumed = !new && !run.finished;
            if run.finished {
                sqlx::query(if pg { AGAIN_PG } else { AGAIN_SQLITE })
                    .bind(selection)
                    .execute(pool)
                    .await?;
            }
            run
        });
        Ok(if run.finished {
            ReplayRun {
                last_id: 0,
                sent: 0,
                updated_ms: Utc::now().timestamp_millis(),
                finished: false,
                resumed: false,
            }
        } else {
            run
        })
    }

    pub async fn replay_moved(&self, selection: &str, last_id: i64, sent: i64) -> Result<()> {
        on_pool!(self, |pool, pg| sqlx::query(if pg {
            MOVED_PG
        } else {
            MOVED_SQLITE
        })
        .bind(selection)
        .bind(last_id)
        .bind(sent)
        .execute(pool)
        .await
        .map(|_| ())?);
        Ok(())
    }

    pub async fn replay_done(&self, selection: &str) -> Result<()> {
        on_pool!(self, |pool, pg| sqlx::query(if pg {
            DONE_PG
        } else {
            DONE_SQLITE
        })
        .bind(selection)
        .execute(pool)
        .await
        .map(|_| ())?);
        Ok(())
    }

    /// How many chosen events lie after `after`.
    pub async fn replay_count(&self, dest: &str, f: ReplayFilter, after: i64) -> Result<i64> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE {CHOSEN}"
        ));
        Ok(on_pool!(self, |pool, pg| chosen!(
            sqlx::query_scalar(sql),
            pg,
            dest,
            f,
            after
        )
        .fetch_one(pool)
        .await?))
    }

    /// Up to `limit` chosen events after `after`, in id order (each product's in its order).
    pub async fn replay_page(
        &self,
        dest: &str,
        f: ReplayFilter,
        after: i64,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT id, product_id, msg_key, payload, event, version, traceparent FROM outbox \
             WHERE {CHOSEN} ORDER BY id LIMIT $8"
        ));
        Ok(on_pool!(self, |pool, pg| chosen!(
            sqlx::query_as(sql),
            pg,
            dest,
            f,
            after
        )
        .bind(limit)
        .fetch_all(pool)
        .await?))
    }
}
