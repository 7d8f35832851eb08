//! The login lock-out's counters, one row per key (`user:NAME`, `addr:IP`), shared by every
//! process on the database. Each step is one statement, so concurrent logins on any number of
//! replicas never read a count and write it back stale.

use super::{Result, Store, on_pool};

/// Idle this long, a key starts afresh (failures and lock length).
const IDLE_MS: i64 = 3_600_000;
/// A check in flight this long was lost with its process (a check takes milliseconds, a
/// request at most 30 s): its slot is given back.
const STALE_MS: i64 = 30_000;

// Failures and in-flight checks as they count now: a lock that expired or a key idle for an
// hour starts from none; slots of a key untouched for STALE_MS are lost.
const FAILURES_NOW: &str = "(CASE WHEN t.updated_ms < $2 - 3600000 \
     OR (t.locked_until_ms > 0 AND t.locked_until_ms <= $2) THEN 0 ELSE t.failures END)";
const IN_FLIGHT_NOW: &str = "(CASE WHEN t.updated_ms < $2 - 30000 THEN 0 ELSE t.in_flight END)";

/// Takes a slot unless the key is locked or its failures and checks in flight reach $4.
/// Returns a row only when the slot was taken.
fn reserve_sql() -> String {
    format!(
        "INSERT INTO login_throttle AS t \
           (key, failures, in_flight, next_lock_ms, locked_until_ms, updated_ms) \
         VALUES ($1, 0, 1, $3, 0, $2) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = {FAILURES_NOW}, \
           in_flight = {IN_FLIGHT_NOW} + 1, \
           next_lock_ms = CASE WHEN t.updated_ms < $2 - 3600000 THEN $3 ELSE t.next_lock_ms END, \
           locked_until_ms = CASE WHEN t.locked_until_ms <= $2 THEN 0 ELSE t.locked_until_ms END, \
           updated_ms = $2 \
         WHERE t.locked_until_ms <= $2 AND {FAILURES_NOW} + {IN_FLIGHT_NOW} < $4 \
         RETURNING 1"
    )
}

/// A failed check: its slot becomes a failure; the failure that reaches $3 locks the key for
/// next_lock_ms, which then doubles up to $4. Returns the lock's end when it locked.
const FAIL: &str = "UPDATE login_throttle SET \
     in_flight = CASE WHEN in_flight > 0 THEN in_flight - 1 ELSE 0 END, \
     failures = CASE WHEN failures + 1 >= $3 THEN 0 ELSE failures + 1 END, \
     locked_until_ms = CASE WHEN failures + 1 >= $3 THEN $2 + next_lock_ms \
                            ELSE locked_until_ms END, \
     next_lock_ms = CASE WHEN failures + 1 < $3 THEN next_lock_ms \
                         WHEN next_lock_ms * 2 > $4 THEN $4 ELSE next_lock_ms * 2 END, \
     updated_ms = $2 \
   WHERE key = $1 \
   RETURNING CASE WHEN failures = 0 AND locked_until_ms > $2 THEN locked_until_ms ELSE 0 END";

const RELEASE: &str = "UPDATE login_throttle SET \
     in_flight = CASE WHEN in_flight > 0 THEN in_flight - 1 ELSE 0 END WHERE key = $1";
const CLEAR: &str = "DELETE FROM login_throttle WHERE key = $1";
const LOCKED_UNTIL: &str = "SELECT locked_until_ms FROM login_throttle WHERE key = $1";
const PRUNE: &str = "DELETE FROM login_throttle WHERE updated_ms < $1 AND locked_until_ms < $1";

/// The lock-out's rules in milliseconds, as the store applies them.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimit {
    pub failures: i64,
    pub first_lock_ms: i64,
    pub max_lock_ms: i64,
}

impl Store {
    /// Takes a failure slot on `key` before a password is checked. None: taken; Some(ms):
    /// refused, with the key's lock end (0 when it is full of checks in flight, not locked).
    pub async fn throttle_reserve(
        &self,
        key: &str,
        limit: &ThrottleLimit,
        now_ms: i64,
    ) -> Result<Option<i64>> {
        let sql = reserve_sql();
        let taken: Option<i32> = on_pool!(self, |pool, pg| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(key)
                .bind(now_ms)
                .bind(limit.first_lock_ms)
                .bind(limit.failures)
                .fetch_optional(pool)
                .await?
        });
        if taken.is_some() {
            return Ok(None);
        }
        let until: Option<i64> = on_pool!(self, |pool, pg| {
            sqlx::query_scalar(LOCKED_UNTIL)
                .bind(key)
                .fetch_optional(pool)
                .await?
        });
        Ok(Some(until.unwrap_or(0)))
    }

    /// Counts a failed check on `key`; Some(lock end) when this failure locked it.
    pub async fn throttle_fail(
        &self,
        key: &str,
        limit: &ThrottleLimit,
        now_ms: i64,
    ) -> Result<Option<i64>> {
        let locked: Option<i64> = on_pool!(self, |pool, pg| {
            sqlx::query_scalar(FAIL)
                .bind(key)
                .bind(now_ms)
                .bind(limit.failures)
                .bind(limit.max_lock_ms)
                .fetch_optional(pool)
                .await?
        });
        Ok(locked.filter(|until| *until > 0))
    }

    /// Gives a slot back uncounted (the password was not checked, or the check succeeded on
    /// an address key).
    pub async fn throttle_release(&self, key: &str) -> Result<()> {
        on_pool!(self, |pool, pg| {
            sqlx::query(RELEASE).bind(key).execute(pool).await?;
        });
        Ok(())
    }

    /// Forgets the key: a correct password, or an admin lifting a lock. True when it existed.
    pub async fn throttle_clear(&self, key: &str) -> Result<bool> {
        let n = on_pool!(self, |pool, pg| {
            sqlx::query(CLEAR)
                .bind(key)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Drops keys idle for an hour and not locked.
    pub async fn throttle_prune(&self, now_ms: i64) -> Result<u64> {
        Ok(on_pool!(self, |pool, pg| sqlx::query(PRUNE)
            .bind(now_ms - IDLE_MS.max(STALE_MS))
            .execute(pool)
            .await?
            .rows_affected()))
    }
}
