//! SQL storage on SQLite (embedded default) or PostgreSQL. Both run the same queries wherever
//! the dialects agree; `on_pool!` compiles one body for each back end.

pub(crate) mod audit;
mod change;
mod cluster;
mod destination;
mod error;
mod follow;
mod held;
mod idem;
mod outbox;
mod pipeline;
mod products;
mod replay;
mod seed;
mod settle;
mod throttle;
mod turn;
mod users;
mod verify;
mod write;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::DatabaseTarget;

pub use audit::AuditQuery;
pub use change::{ChangeOf, Changed};
pub use cluster::{DestinationPending, served_by};
pub use destination::BrokerOwner;
pub use error::StoreError;
pub use follow::Snapshot;
pub use idem::IdemRecord;
pub use outbox::{OutboxEvent, PublishedAck};
pub use pipeline::{Backlog, PublishTimes};
pub use products::{Order, ProductQuery};
pub use replay::{ReplayFilter, ReplayRun};
pub use throttle::{Reserved, ThrottleLimit};
pub use users::{UserChange, UserRow};
pub use verify::PublishedFilter;
pub use write::{Creation, EventRoute, IdemKey, SavedProduct};

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool, and `$pg` telling which one it is.
macro_rules! on_pool {
    ($store:expr, |$pool:ident, $pg:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => {
                #[allow(unused_variables)]
                let $pg = false;
                $body
            }
            $crate::store::Store::Postgres($pool) => {
                #[allow(unused_variables)]
                let $pg = true;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

impl Store {
    pub async fn connect(target: &DatabaseTarget) -> Result<Store> {
        match target {
            DatabaseTarget::Sqlite(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::unavailable(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                let opts = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .foreign_keys(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(10))
                    // The table's filter: SQLite's lower() and LIKE fold ASCII only.
                    .with_regexp();
                // One connection: SQLite has one writer at a time anyway, and its busy handler
                // polls, so several connections of one process starve each other under a
                // steady stream of writes (an import of a million rows failed with "database is
                // locked"). One connection queues them fairly, in order; WAL still lets other
                // processes read.
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await?;
                Ok(Store::Sqlite(pool))
            }
            DatabaseTarget::Postgres(url) => {
                let opts = PgConnectOptions::from_str(url.expose())?;
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    // No JIT: every statement here is short, and a generic plan's cost estimate
                    // on a table without statistics passed jit_above_cost, so each claim of
                    // orphans compiled itself for 0.3 s (an import of 1,000,000 rows took
                    // 200-240 s instead of 50; BENCHMARKS.md, issue 34). A SET, not a startup
                    // option, which poolers such as PgBouncer refuse.
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::Executor::execute(conn, "SET jit = off").await?;
                            Ok(())
                        })
                    })
                    // A request against a database that is gone answers 503 within a second.
                    .acquire_timeout(Duration::from_secs(1))
                    .connect_with(opts)
                    .await?;
                Ok(Store::Postgres(pool))
            }
        }
    }

    pub async fn migrate(&self) -> Result<()> {
        let r = match self {
            Store::Sqlite(p) => sqlx::migrate!("migrations/sqlite").run(p).await,
            Store::Postgres(p) => sqlx::migrate!("migrations/postgres").run(p).await,
        };
        r.map_err(|e| StoreError::Internal(format!("migration failed: {e}")))?;
        self.settle_restored_positions().await
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, |pool, pg| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Runs raw SQL statements; for tests and maintenance only, never with user input.
    pub async fn execute_script(&self, sql: &str) -> Result<()> {
        on_pool!(self, |pool, pg| {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, |pool, pg| pool.close().await)
    }
}
