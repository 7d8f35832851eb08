//! The audit trail: appended in the transaction of the change it records (`audit_in!`) or on
//! its own right after the action; read newest first, by key.

use chrono::{DateTime, Utc};

use super::{Result, Store, on_pool};
use crate::domain::{AuditEntry, AuditRecord};

pub(super) const INSERT: &str = "INSERT INTO audit_log \
     (actor, action, target, outcome, via, address, user_agent, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Binds an entry's eight values, in INSERT's order, to `$query`.
macro_rules! bind_audit {
    ($query:expr, $entry:expr) => {{
        let e: &$crate::domain::AuditEntry = $entry;
        $query
            .bind(&e.actor)
            .bind(e.action.as_str())
            .bind(&e.target)
            .bind(e.outcome)
            .bind(e.origin.via())
            .bind(e.origin.address.as_deref())
            .bind(e.origin.user_agent.as_deref())
            .bind(e.detail.as_deref())
    }};
}
pub(crate) use bind_audit;

/// Appends `$entry` inside the transaction `$tx` (either back end).
macro_rules! audit_in {
    ($tx:ident, $entry:expr) => {{
        $crate::store::audit::bind_audit!(sqlx::query($crate::store::audit::INSERT), $entry)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(crate) use audit_in;

/// Which entries to read: newest first, below `before` (an id), at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub since: Option<DateTime<Utc>>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

type Row = (
    i64,
    DateTime<Utc>,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// SQLite keeps `at` as RFC 3339 text in UTC with milliseconds: compared as text, a bound
/// instant must be written the same way.
pub(super) fn sqlite_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl Store {
    /// Appends one entry on its own.
    pub async fn audit(&self, entry: &AuditEntry) -> Result<()> {
        on_pool!(self, |pool, pg| {
            let mut tx = pool.begin().await?;
            audit_in!(tx, entry);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn audit_entries(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let sql = "SELECT id, at, actor, action, target, outcome, via, address, user_agent, detail \
             FROM audit_log WHERE ($1 IS NULL OR at >= $1) AND ($2 IS NULL OR actor = $2) \
             AND ($3 IS NULL OR action = $3) AND ($4 IS NULL OR id < $4) \
             ORDER BY id DESC LIMIT $5";
        let rows: Vec<Row> = on_pool!(self, |pool, pg| {
            let q2 = sqlx::query_as(sql);
            let q2 = if pg {
                q2.bind(q.since)
            } else {
                q2.bind(q.since.map(sqlite_time))
            };
            q2.bind(q.actor.as_deref())
                .bind(q.action.as_deref())
                .bind(q.before)
                .bind(q.limit)
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|r| AuditRecord {
                id: r.0,
                at: r.1,
                actor: r.2,
                action: r.3,
                target: r.4,
                outcome: r.5,
                via: r.6,
                address: r.7,
                user_agent: r.8,
                detail: r.9,
            })
            .collect())
    }

    /// Deletes entries older than `before` (retention); the trail's trigger refuses younger
    /// ones than a day whatever is asked.
    pub async fn audit_prune(&self, before: DateTime<Utc>) -> Result<u64> {
        let sql = "DELETE FROM audit_log WHERE at < $1";
        Ok(on_pool!(self, |pool, pg| {
            let q = sqlx::query(sql);
            let q = if pg {
                q.bind(before)
            } else {
                q.bind(sqlite_time(before))
            };
            q.execute(pool).await?.rows_affected()
        }))
    }
}
