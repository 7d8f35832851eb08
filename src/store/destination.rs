//! Destinations this database feeds, and the one process that owns its embedded broker.

use std::time::Duration;

use super::{Result, Store, on_pool};

/// The process whose embedded broker serves a destination.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BrokerOwner {
    pub owner: String,
    pub addr: Option<String>,
    pub host: Option<String>,
    pub pid: Option<i64>,
    /// 1 while its lease runs, 0 once it ran out.
    pub live: i64,
}

const REGISTER: &str =
    "INSERT INTO destination (name, kind) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
// A cluster counts once an event was published to it or waits for it (since it was retired,
// if it was): a start or a reroute that only named it does not tie the database to it.
const REAL: &str = "SELECT d.name FROM destination d WHERE d.kind = 'kafka'
    AND EXISTS (SELECT 1 FROM outbox o WHERE o.destination = d.name
                AND (d.retired_at IS NULL OR o.created_at > d.retired_at))
    ORDER BY d.first_seen LIMIT 1";
// Retired: the database no longer feeds it (nothing may wait for it). $2: now.
const RETIRE: &str = "UPDATE destination SET retired_at = $2 WHERE name = $1 AND kind = 'kafka'
    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.destination = $1 AND o.published_at IS NULL)";
const ADOPT: &str = "UPDATE outbox SET destination = $1 WHERE destination IS NULL";
// Taken when nobody owns it, the owner's lease ran out, or `$5` names an owner known dead.
const TAKE_PG: &str = "UPDATE destination SET owner = $2, owner_host = $3, owner_pid = $4,
    owner_addr = NULL, owner_until = clock_timestamp() + make_interval(secs => $6)
  WHERE name = $1 AND (owner IS NULL OR owner_until < now() OR owner = $5)";
const TAKE_SQLITE: &str = "UPDATE destination SET owner = $2, owner_host = $3, owner_pid = $4,
    owner_addr = NULL,
    owner_until = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('%+.3f seconds', $6))
  WHERE name = $1 AND (owner IS NULL OR owner_until < strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                       OR owner = $5)";
const OWNER_PG: &str = "SELECT owner, owner_addr AS addr, owner_host AS host, owner_pid AS pid,
    CAST(CASE WHEN owner_until >= now() THEN 1 ELSE 0 END AS BIGINT) AS live
  FROM destination WHERE name = $1 AND owner IS NOT NULL";
const OWNER_SQLITE: &str = "SELECT owner, owner_addr AS addr, owner_host AS host, owner_pid AS pid,
    CAST(CASE WHEN owner_until >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now') THEN 1 ELSE 0 END AS BIGINT) AS live
  FROM destination WHERE name = $1 AND owner IS NOT NULL";
const SET_ADDR: &str = "UPDATE destination SET owner_addr = $3 WHERE name = $1 AND owner = $2";
const RENEW_PG: &str =
    "UPDATE destination SET owner_until = clock_timestamp() + make_interval(secs => $3)
  WHERE name = $1 AND owner = $2";
const RENEW_SQLITE: &str = "UPDATE destination
  SET owner_until = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('%+.3f seconds', $3))
  WHERE name = $1 AND owner = $2";
const RELEASE: &str = "UPDATE destination SET owner = NULL, owner_addr = NULL, owner_host = NULL,
    owner_pid = NULL, owner_until = NULL WHERE name = $1 AND owner = $2";

impl Store {
    /// Records that this database feeds `name` (`kind`: embedded or kafka).
    pub async fn register_destination(&self, name: &str, kind: &str) -> Result<()> {
        on_pool!(self, |pool, pg| {
            sqlx::query(REGISTER)
                .bind(name)
                .bind(kind)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// A real Kafka destination this database has fed, if any.
    pub async fn real_destination(&self) -> Result<Option<String>> {
        Ok(on_pool!(self, |pool, pg| sqlx::query_scalar(REAL)
            .fetch_optional(pool)
            .await?))
    }

    /// Marks the Kafka destination `name` as no longer fed, when nothing waits for it; false
    /// when it is not a Kafka destination of this database or events still wait for it.
    pub async fn retire_destination(&self, name: &str) -> Result<bool> {
        Ok(on_pool!(self, |pool, pg| sqlx::query(RETIRE)
            .bind(name)
            .bind(chrono::Utc::now())
            .execute(pool)
            .await?
            .rows_affected())
            > 0)
    }

    /// Gives events written before destinations existed to `name`.
    pub async fn adopt_unrouted(&self, name: &str) -> Result<u64> {
        Ok(on_pool!(self, |pool, pg| sqlx::query(ADOPT)
            .bind(name)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    /// Makes `owner` the embedded broker's owner of `name` unless a live owner holds it
    /// (`dead` names an owner known to have ended). True when taken.
    pub async fn take_broker(
        &self,
        name: &str,
        owner: &str,
        host: &str,
        pid: i64,
        dead: Option<&str>,
        lease: Duration,
    ) -> Result<bool> {
        let n = on_pool!(self, |pool, pg| sqlx::query(if pg {
            TAKE_PG
        } else {
            TAKE_SQLITE
        })
        .bind(name)
        .bind(owner)
        .bind(host)
        .bind(pid)
        .bind(dead)
        .bind(lease.as_secs_f64())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    pub async fn broker_owner(&self, name: &str) -> Result<Option<BrokerOwner>> {
        Ok(on_pool!(self, |pool, pg| sqlx::query_as(if pg {
            OWNER_PG
        } else {
            OWNER_SQLITE
        })
        .bind(name)
        .fetch_optional(pool)
        .await?))
    }

    pub async fn set_broker_addr(&self, name: &str, owner: &str, addr: &str) -> Result<()> {
        on_pool!(self, |pool, pg| {
            sqlx::query(SET_ADDR)
                .bind(name)
                .bind(owner)
                .bind(addr)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Extends the owner's lease; false when `owner` no longer owns it.
    pub async fn renew_broker(&self, name: &str, owner: &str, lease: Duration) -> Result<bool> {
        let n = on_pool!(self, |pool, pg| sqlx::query(if pg {
            RENEW_PG
        } else {
            RENEW_SQLITE
        })
        .bind(name)
        .bind(owner)
        .bind(lease.as_secs_f64())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    pub async fn release_broker(&self, name: &str, owner: &str) -> Result<()> {
        on_pool!(self, |pool, pg| {
            sqlx::query(RELEASE)
                .bind(name)
                .bind(owner)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
