//! The login lock-out's counters, one row per key (`user:NAME`, `addr:IP`), shared by every
//! process on the database. Each step is one statement, so concurrent logins on any number of
//! replicas never read a count and write it back stale.

use super::{Result, Store, on_pool};
use crate::domain::AuditEntry;

/// Idle this long, a key starts afresh (failures and lock length).
const IDLE_MS: i64 = 3_600_000;
/// A check in flight this long was lost with its process (a check takes milliseconds, a
/// request at most 30 s): its slot is given back.
const STALE_MS: i64 = 30_000;

/// Takes a slot on each key given ($1 the user, $5 the address or NULL), in key order (so
/// concurrent logins lock the rows in one order), unless it is
/// locked or its failures and checks in flight reach its limit ($4, $6). Returns the keys
/// whose slot was taken. On PostgreSQL the commit does not wait for the disk
/// (`synchronous_commit` off for this statement only): a database crash can forget the
/// last moment's counts, never a lock already set long before, and a correct login costs no
/// extra disk flush (the counts were per process, lost at every restart, before).
fn reserve_sql(pg: bool) -> String {
    let (cfg_cte, cfg_from, filter) = if pg {
        (
            "WITH cfg AS (SELECT set_config('synchronous_commit', 'off', true)) ",
            ", cfg",
            "",
        )
    } else {
        ("", "", " AND true")
    };
    // Failures and in-flight checks as they count now: a lock that expired or a key idle for
    // IDLE_MS starts from none; slots of a key untouched for STALE_MS were lost.
    let failures_now = format!(
        "(CASE WHEN t.updated_ms < $2 - {IDLE_MS} \
         OR (t.locked_until_ms > 0 AND t.locked_until_ms <= $2) THEN 0 ELSE t.failures END)"
    );
    let in_flight_now =
        format!("(CASE WHEN t.updated_ms < $2 - {STALE_MS} THEN 0 ELSE t.in_flight END)");
    format!(
        "{cfg_cte}INSERT INTO login_throttle AS t \
           (key, failures, in_flight, next_lock_ms, locked_until_ms, updated_ms, max_failures) \
         SELECT v.key, 0, 1, $3, 0, $2, v.lim \
           FROM (SELECT $1 AS key, $4 AS lim UNION ALL SELECT $5, $6) AS v{cfg_from} \
          WHERE v.key IS NOT NULL{filter} ORDER BY v.key \
         ON CONFLICT (key) DO UPDATE SET \
           failures = {failures_now}, \
           in_flight = {in_flight_now} + 1, \
           next_lock_ms = CASE WHEN t.updated_ms < $2 - {IDLE_MS} THEN $3 ELSE t.next_lock_ms END, \
           locked_until_ms = CASE WHEN t.locked_until_ms <= $2 THEN 0 ELSE t.locked_until_ms END, \
           updated_ms = $2, \
           max_failures = excluded.max_failures \
         WHERE t.locked_until_ms <= $2 AND {failures_now} + {in_flight_now} < excluded.max_failures \
         RETURNING key"
    )
}

/// A correct password: the user's failures and lock length start afresh and its slot goes
/// back (an update, not a delete: another check that began meanwhile keeps its slot), the
/// address's slot goes back, and the login's audit entry is written; one statement
/// (PostgreSQL, without waiting for the disk, as `reserve_sql`) or one transaction (SQLite).
const SUCCEED_USER: &str = "UPDATE login_throttle SET failures = 0, next_lock_ms = $2, \
     in_flight = CASE WHEN in_flight > 0 THEN in_flight - 1 ELSE 0 END WHERE key = $1";
// Both rows are locked in key order, as `reserve_sql` takes them: two logins never wait on
// each other in a circle.
const SUCCEED_PG: &str = "WITH cfg AS (SELECT set_config('synchronous_commit', 'off', true)), \
     l AS (SELECT key FROM login_throttle WHERE key IN ($1, $2) \
             AND (SELECT 1 FROM cfg) IS NOT NULL ORDER BY key FOR UPDATE), \
     d AS (UPDATE login_throttle t SET \
             failures = CASE WHEN t.key = $1 THEN 0 ELSE t.failures END, \
             next_lock_ms = CASE WHEN t.key = $1 THEN $11 ELSE t.next_lock_ms END, \
             in_flight = GREATEST(t.in_flight - 1, 0) \
           FROM l WHERE t.key = l.key) \
   INSERT INTO audit_log (actor, action, target, outcome, via, address, user_agent, detail) \
   VALUES ($3, $4, $5, $6, $7, $8, $9, $10)";

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

/// What a reservation took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    pub user: bool,
    /// True also when no address was given.
    pub address: bool,
    /// When the refused key's lock ends (Unix ms; 0: not locked, only full).
    pub wait_until: i64,
}

/// The lock-out's rules in milliseconds, as the store applies them.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimit {
    pub failures: i64,
    pub first_lock_ms: i64,
    pub max_lock_ms: i64,
}

impl Store {
    /// Takes a failure slot on the user's key and the address's (if any) before a password
    /// is checked, in one statement. Returns which were taken, and when the user's or the
    /// address's lock ends if one was refused (0: full of checks in flight, not locked).
    pub async fn throttle_reserve(
        &self,
        user: (&str, &ThrottleLimit),
        address: Option<(&str, &ThrottleLimit)>,
        now_ms: i64,
    ) -> Result<Reserved> {
        let (addr_key, addr_limit) = match address {
            Some((k, l)) => (Some(k), l.failures),
            None => (None, 0),
        };
        let taken: Vec<String> = on_pool!(self, |pool, pg| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(reserve_sql(pg)))
                .bind(user.0)
                .bind(now_ms)
                .bind(user.1.first_lock_ms)
                .bind(user.1.failures as i32)
                .bind(addr_key)
                .bind(addr_limit as i32)
                .fetch_all(pool)
                .await?
        });
        let user_taken = taken.iter().any(|k| k == user.0);
        let addr_taken = addr_key.is_none_or(|a| taken.iter().any(|k| k == a));
        let mut wait_until = 0;
        for key in [
            (!user_taken).then_some(user.0),
            addr_key.filter(|_| !addr_taken),
        ]
        .into_iter()
        .flatten()
        {
            let until: Option<i64> = on_pool!(self, |pool, pg| {
                sqlx::query_scalar(LOCKED_UNTIL)
                    .bind(key)
                    .fetch_optional(pool)
                    .await?
            });
            wait_until = wait_until.max(until.unwrap_or(0));
        }
        Ok(Reserved {
            user: user_taken,
            address: addr_taken,
            wait_until,
        })
    }

    /// A correct password (see SUCCEED_PG): the user's count forgotten, the address's slot
    /// given back, the audit entry written.
    pub async fn throttle_succeed(
        &self,
        user: (&str, &ThrottleLimit),
        addr_key: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<()> {
        let (user_key, first_lock_ms) = (user.0, user.1.first_lock_ms);
        match self {
            Store::Postgres(pool) => {
                let q = sqlx::query(SUCCEED_PG).bind(user_key).bind(addr_key);
                super::audit::bind_audit!(q, audit)
                    .bind(first_lock_ms)
                    .execute(pool)
                    .await?;
            }
            Store::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query(SUCCEED_USER)
                    .bind(user_key)
                    .bind(first_lock_ms)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(RELEASE)
                    .bind(addr_key)
                    .execute(&mut *tx)
                    .await?;
                super::audit::audit_in!(tx, audit);
                tx.commit().await?;
            }
        }
        Ok(())
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

    /// Forgets the key: an admin lifting a lock. True when it existed.
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
            .bind(now_ms - IDLE_MS)
            .execute(pool)
            .await?
            .rows_affected()))
    }
}
