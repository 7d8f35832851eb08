//! Following the product table in commit order (see `domain::Position`), and reading it
//! whole from one snapshot.

use super::products::{
    ProductRow, fetch_page, filter_clause, filter_clause_sqlite, filter_pattern, select_products,
};
use super::{ProductQuery, Result, Store};
use crate::domain::{Position, Product};

/// The oldest transaction still running when the statement's snapshot was taken: every
/// transaction below it has ended, so no row written by one can become visible later.
const HORIZON_PG: &str = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

// PostgreSQL: $1 writer, $2 id, $3 limit, $4 filter pattern. The row comparison and the
// horizon are both bounds of the (tx, id) index's range.
const FOLLOW_PG: &str = select_products!(
    ", tx",
    ", p.tx",
    concat!(
        "WHERE (p.tx, p.id) > ($1, $2) AND p.tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint ",
        "AND p.deleted_at IS NULL ORDER BY p.tx, p.id LIMIT $3"
    ),
    "ORDER BY p.tx, p.id"
);
const FOLLOW_PG_FILTERED: &str = select_products!(
    ", tx",
    ", p.tx",
    concat!(
        "WHERE (p.tx, p.id) > ($1, $2) AND p.tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint ",
        "AND p.deleted_at IS NULL ",
        filter_clause!("$4"),
        "ORDER BY p.tx, p.id LIMIT $3"
    ),
    "ORDER BY p.tx, p.id"
);
// SQLite: one writer at a time, and a rowid is the table's next at insert, so ids are in
// commit order and the writer part is 0. $1 id, $2 limit, $3 filter pattern.
const FOLLOW_SQLITE: &str = select_products!(
    ", 0 AS tx",
    ", p.tx",
    "WHERE p.id > $1 AND p.deleted_at IS NULL ORDER BY p.id LIMIT $2",
    "ORDER BY p.id"
);
const FOLLOW_SQLITE_FILTERED: &str = select_products!(
    ", 0 AS tx",
    ", p.tx",
    concat!(
        "WHERE p.id > $1 AND p.deleted_at IS NULL ",
        filter_clause_sqlite!("$3"),
        "ORDER BY p.id LIMIT $2"
    ),
    "ORDER BY p.id"
);

#[derive(sqlx::FromRow)]
struct FollowRow {
    #[sqlx(flatten)]
    row: ProductRow,
    tx: i64,
}

/// A reader that pages the table by id without missing a row committed meanwhile: on
/// PostgreSQL a read-only transaction that sees the table as it was when it began; on SQLite
/// the pool itself, since ids follow commit order there (a transaction would hold the
/// process's one connection for the whole read).
pub enum Snapshot {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::SqlitePool),
}

impl Snapshot {
    pub async fn products(&mut self, q: &ProductQuery) -> Result<Vec<Product>> {
        match self {
            Snapshot::Postgres(tx) => fetch_page!(&mut **tx, q, true),
            Snapshot::Sqlite(pool) => fetch_page!(&*pool, q, false),
        }
    }
}

impl Store {
    /// Up to `limit` products after `after`, in commit order, each with its position. Only
    /// rows no later commit can precede are returned: a reader that passes the last row's
    /// position back misses none and sees none twice.
    pub async fn follow_products(
        &self,
        after: Position,
        limit: i64,
        filter: Option<&str>,
    ) -> Result<Vec<(Product, Position)>> {
        let limit = limit.max(0);
        let rows: Vec<FollowRow> = match self {
            Store::Postgres(pool) => {
                let pattern = filter_pattern(filter, true);
                let q = sqlx::query_as(if pattern.is_some() {
                    FOLLOW_PG_FILTERED
                } else {
                    FOLLOW_PG
                })
                .bind(after.writer)
                .bind(after.id)
                .bind(limit);
                match pattern {
                    Some(p) => q.bind(p).fetch_all(pool).await?,
                    None => q.fetch_all(pool).await?,
                }
            }
            Store::Sqlite(pool) => {
                let pattern = filter_pattern(filter, false);
                let q = sqlx::query_as(if pattern.is_some() {
                    FOLLOW_SQLITE_FILTERED
                } else {
                    FOLLOW_SQLITE
                })
                .bind(after.id)
                .bind(limit);
                match pattern {
                    Some(p) => q.bind(p).fetch_all(pool).await?,
                    None => q.fetch_all(pool).await?,
                }
            }
        };
        rows.into_iter()
            .map(|r| {
                let at = Position {
                    writer: r.tx,
                    id: r.row.id,
                };
                Ok((Product::try_from(r.row)?, at))
            })
            .collect()
    }

    /// A position no row visible later can precede, taken before reading what is visible
    /// now (rows visible now may come again after it: a follower drops ids it holds).
    pub async fn follow_start(&self) -> Result<Position> {
        Ok(match self {
            Store::Postgres(pool) => Position {
                writer: sqlx::query_scalar(HORIZON_PG).fetch_one(pool).await?,
                id: 0,
            },
            Store::Sqlite(pool) => Position {
                writer: 0,
                id: sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM tb_product")
                    .fetch_one(pool)
                    .await?,
            },
        })
    }

    /// Rows restored from a logical dump keep the transaction ids of the server they came
    /// from, which may lie ahead of this one's: followers would not see them until this
    /// server's ids caught up. No row of this server can be written at or past the next id it
    /// will assign, so those rows are given this statement's transaction: followers see them
    /// once, as if committed now. Cheap when there are none: a range of the (tx, id) index.
    pub async fn settle_restored_positions(&self) -> Result<()> {
        if let Store::Postgres(pool) = self {
            sqlx::query(
                "UPDATE tb_product SET tx = pg_current_xact_id()::text::bigint \
                 WHERE tx >= pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
            )
            .execute(pool)
            .await?;
        }
        Ok(())
    }

    /// A reader for an export that must be consistent however long it runs.
    pub async fn snapshot(&self) -> Result<Snapshot> {
        Ok(match self {
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                Snapshot::Postgres(tx)
            }
            Store::Sqlite(pool) => Snapshot::Sqlite(pool.clone()),
        })
    }
}
