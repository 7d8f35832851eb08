//! The consumer route's turn per group, held in the database so that calls of every process
//! sharing a group take turns (a lease by the database's clock, for holders that die).

use std::time::Duration;

use super::{Result, Store, on_pool};

// clock_timestamp(), not now(): a statement that waited on the row must not write a lease
// measured from before the wait.
const TAKE_PG: &str = "INSERT INTO consumer_turn (group_name, holder, held_until)
  VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))
  ON CONFLICT (group_name) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
  WHERE consumer_turn.held_until < clock_timestamp() OR consumer_turn.holder = excluded.holder";
const TAKE_SQLITE: &str = "INSERT INTO consumer_turn (group_name, holder, held_until)
  VALUES ($1, $2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('%+.3f seconds', $3)))
  ON CONFLICT (group_name) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
  WHERE consumer_turn.held_until < strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
     OR consumer_turn.holder = excluded.holder";
const HELD_PG: &str =
    "UPDATE consumer_turn SET held_until = clock_timestamp() + make_interval(secs => $3)
  WHERE group_name = $1 AND holder = $2 AND held_until >= clock_timestamp()";
const HELD_SQLITE: &str = "UPDATE consumer_turn
  SET held_until = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('%+.3f seconds', $3))
  WHERE group_name = $1 AND holder = $2
    AND held_until >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
const RELEASE: &str = "DELETE FROM consumer_turn WHERE group_name = $1 AND holder = $2";

impl Store {
    /// Takes `group`'s turn for `holder` unless another holder's lease still runs. True when
    /// taken.
    pub async fn take_turn(&self, group: &str, holder: &str, lease: Duration) -> Result<bool> {
        self.turn_query(TAKE_PG, TAKE_SQLITE, group, holder, lease)
            .await
    }

    /// Extends the turn if `holder` still has it (its lease has not run out). True when held.
    pub async fn still_turn(&self, group: &str, holder: &str, lease: Duration) -> Result<bool> {
        self.turn_query(HELD_PG, HELD_SQLITE, group, holder, lease)
            .await
    }

    pub async fn release_turn(&self, group: &str, holder: &str) -> Result<()> {
        on_pool!(self, |pool, pg| {
            sqlx::query(RELEASE)
                .bind(group)
                .bind(holder)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn turn_query(
        &self,
        pg_sql: &'static str,
        sqlite_sql: &'static str,
        group: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<bool> {
        let n = on_pool!(self, |pool, pg| sqlx::query(if pg {
            pg_sql
        } else {
            sqlite_sql
        })
        .bind(group)
        .bind(holder)
        .bind(lease.as_secs_f64())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }
}
