//! Reading products: keyset pages, one product, counts.

use chrono::{DateTime, Utc};

use super::{Result, Store, StoreError, on_pool};
use crate::domain::{Amount, Product, PublishState, Revision};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first, as the original's product/all.
    #[default]
    Ascending,
    /// Newest first, as the product table.
    Descending,
}

/// Keyset paging: rows strictly after `cursor` in `order`, never OFFSET.
#[derive(Debug, Clone, Default)]
pub struct ProductQuery {
    pub order: Order,
    pub cursor: Option<i64>,
    pub limit: i64,
    /// Case-insensitive substring of name or category.
    pub filter: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(super) struct ProductRow {
    pub(super) id: i64,
    name: String,
    description: String,
    category: String,
    pricing_id: i64,
    ammount: String,
    currency: String,
    availability_id: i64,
    quantity: i32,
    ts: DateTime<Utc>,
    kafka_partition: Option<i32>,
    kafka_offset: Option<i64>,
    version: i64,
    created_by: Option<String>,
    updated_by: Option<String>,
    updated_at: Option<DateTime<Utc>>,
}

impl TryFrom<ProductRow> for Product {
    type Error = StoreError;

    fn try_from(r: ProductRow) -> Result<Product> {
        let amount: Amount = r.ammount.parse().map_err(|e| {
            StoreError::Internal(format!(
                "product {} has a bad ammount '{}': {e}",
                r.id, r.ammount
            ))
        })?;
        let publish = match (r.kafka_partition, r.kafka_offset) {
            (Some(partition), Some(offset)) => PublishState::Published { partition, offset },
            _ => PublishState::Pending,
        };
        Ok(Product {
            id: r.id,
            name: r.name,
            description: r.description,
            category: r.category,
            pricing_id: r.pricing_id,
            amount,
            currency: r.currency,
            availability_id: r.availability_id,
            quantity: r.quantity,
            timestamp: r.ts,
            publish,
            revision: Revision {
                version: r.version,
                created_by: r.created_by,
                updated_by: r.updated_by,
                updated_at: r.updated_at,
            },
        })
    }
}

/// Deleted products keep their rows (their events stay in order in the outbox); every read
/// leaves them out.
/// Picks the page of products first (the primary key's range, filter and LIMIT in one
/// subquery), then joins only those rows: the planners otherwise merge-join whole tables.
macro_rules! select_products {
    ($page:expr, $order:literal) => {
        select_products!("", "", $page, concat!("ORDER BY p.id ", $order))
    };
    // `$inner` and `$outer` add columns to the page's subquery and to the result.
    ($inner:literal, $outer:literal, $page:expr, $order_by:expr) => {
        concat!(
            "SELECT p.id, p.name, p.description, p.category, pr.id AS pricing_id, ",
            "CAST(pr.ammount AS TEXT) AS ammount, pr.currency, a.id AS availability_id, a.quantity, ",
            "a.\"timestamp\" AS ts, o.kafka_partition, o.kafka_offset, ",
            "p.version, p.created_by, p.updated_by, p.updated_at",
            $outer,
            " FROM (SELECT id, name, description, category, version, created_by, updated_by, updated_at",
            $inner,
            " FROM tb_product p ",
            $page,
            ") p JOIN tb_pricing pr ON pr.product_id = p.id ",
            "JOIN tb_availability a ON a.product_id = p.id ",
            "LEFT JOIN outbox o ON o.id = (SELECT max(id) FROM outbox WHERE product_id = p.id) ",
            $order_by
        )
    };
}
pub(super) use select_products;

/// Case-insensitive substring of name or category; `$p` is the pattern's placeholder.
macro_rules! filter_clause {
    ($p:literal) => {
        concat!(
            "AND (lower(p.name) LIKE ",
            $p,
            " ESCAPE '\\' OR lower(p.category) LIKE ",
            $p,
            " ESCAPE '\\') "
        )
    };
}

pub(super) use filter_clause;

/// SQLite's lower() and LIKE fold ASCII only (`ÁGUA` would not find `água`): there the
/// filter is a case-insensitive regular expression of the escaped term (sqlx's `regexp`, Rust's
/// Unicode case folding; the compiled pattern is cached per statement).
macro_rules! filter_clause_sqlite {
    ($p:literal) => {
        concat!(
            "AND (p.name REGEXP ",
            $p,
            " OR p.category REGEXP ",
            $p,
            ") "
        )
    };
}

pub(super) use filter_clause_sqlite;

// $1 cursor, $2 limit, $3 filter pattern. The cursor is always bound (a sentinel past either
// end when paging starts) and the filter has queries of its own: `$n IS NULL OR ...` would
// keep both planners off the primary key's range, and a page deep in a million rows would
// scan every row before it.
const LIST_ASC: &str = select_products!(
    "WHERE p.id > $1 AND p.deleted_at IS NULL ORDER BY p.id ASC LIMIT $2",
    "ASC"
);
const LIST_DESC: &str = select_products!(
    "WHERE p.id < $1 AND p.deleted_at IS NULL ORDER BY p.id DESC LIMIT $2",
    "DESC"
);
const LIST_ASC_FILTERED: &str = select_products!(
    concat!(
        "WHERE p.id > $1 AND p.deleted_at IS NULL ",
        filter_clause!("$3"),
        "ORDER BY p.id ASC LIMIT $2"
    ),
    "ASC"
);
const LIST_DESC_FILTERED: &str = select_products!(
    concat!(
        "WHERE p.id < $1 AND p.deleted_at IS NULL ",
        filter_clause!("$3"),
        "ORDER BY p.id DESC LIMIT $2"
    ),
    "DESC"
);
const LIST_ASC_FILTERED_SQLITE: &str = select_products!(
    concat!(
        "WHERE p.id > $1 AND p.deleted_at IS NULL ",
        filter_clause_sqlite!("$3"),
        "ORDER BY p.id ASC LIMIT $2"
    ),
    "ASC"
);
const LIST_DESC_FILTERED_SQLITE: &str = select_products!(
    concat!(
        "WHERE p.id < $1 AND p.deleted_at IS NULL ",
        filter_clause_sqlite!("$3"),
        "ORDER BY p.id DESC LIMIT $2"
    ),
    "DESC"
);
pub(super) const GET_ONE: &str =
    select_products!("WHERE p.id = $1 AND p.deleted_at IS NULL", "ASC");
/// Deleted or not: what a delete read back in its own transaction.
pub(super) const GET_ANY: &str = select_products!("WHERE p.id = $1", "ASC");
// $1 lower bound of the id, $2 filter pattern.
const COUNT: &str = "SELECT COUNT(*) FROM tb_product p WHERE p.id > $1 AND p.deleted_at IS NULL";
const COUNT_FILTERED: &str = concat!(
    "SELECT COUNT(*) FROM tb_product p WHERE p.id > $1 AND p.deleted_at IS NULL ",
    filter_clause!("$2")
);
const COUNT_FILTERED_SQLITE: &str = concat!(
    "SELECT COUNT(*) FROM tb_product p WHERE p.id > $1 AND p.deleted_at IS NULL ",
    filter_clause_sqlite!("$2")
);

/// `%term%` in lower case with LIKE's wildcards escaped, or None for no filter.
fn like_pattern(filter: Option<&str>) -> Option<String> {
    let f = filter?.trim();
    if f.is_empty() {
        return None;
    }
    let escaped = f
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Some(format!("%{escaped}%"))
}

/// The filter's pattern for the back end: LIKE's on PostgreSQL, a regular expression on SQLite.
/// Control characters other than line breaks and tabs are dropped first: no stored text holds
/// them, and PostgreSQL refuses NUL in a parameter with an error (a pasted filter did that).
pub(super) fn filter_pattern(filter: Option<&str>, pg: bool) -> Option<String> {
    let clean: String = filter?
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .collect();
    if pg {
        return like_pattern(Some(&clean));
    }
    let f = clean.trim();
    (!f.is_empty()).then(|| format!("(?i){}", regex::escape(f)))
}

/// The statement of a page and its cursor's value (a sentinel past the end when starting).
pub(super) fn list_sql(q: &ProductQuery, pg: bool, filtered: bool) -> (&'static str, i64) {
    let low = q.cursor.unwrap_or(i64::MIN);
    let high = q.cursor.unwrap_or(i64::MAX);
    match (q.order, filtered, pg) {
        (Order::Ascending, false, _) => (LIST_ASC, low),
        (Order::Descending, false, _) => (LIST_DESC, high),
        (Order::Ascending, true, true) => (LIST_ASC_FILTERED, low),
        (Order::Descending, true, true) => (LIST_DESC_FILTERED, high),
        (Order::Ascending, true, false) => (LIST_ASC_FILTERED_SQLITE, low),
        (Order::Descending, true, false) => (LIST_DESC_FILTERED_SQLITE, high),
    }
}

/// Runs a page's statement on `$exec` (a pool or a transaction).
macro_rules! fetch_page {
    ($exec:expr, $q:expr, $pg:expr) => {{
        let pattern = $crate::store::products::filter_pattern($q.filter.as_deref(), $pg);
        let (sql, cursor) = $crate::store::products::list_sql($q, $pg, pattern.is_some());
        let query = sqlx::query_as(sql).bind(cursor).bind($q.limit.max(0));
        let rows: Vec<$crate::store::products::ProductRow> = match &pattern {
            Some(p) => query.bind(p).fetch_all($exec).await?,
            None => query.fetch_all($exec).await?,
        };
        rows.into_iter()
            .map($crate::domain::Product::try_from)
            .collect::<$crate::store::Result<Vec<_>>>()
    }};
}
pub(super) use fetch_page;

impl Store {
    pub async fn list_products(&self, q: &ProductQuery) -> Result<Vec<Product>> {
        on_pool!(self, |pool, pg| fetch_page!(pool, q, pg))
    }

    pub async fn get_product(&self, id: i64) -> Result<Option<Product>> {
        let row: Option<ProductRow> = on_pool!(self, |pool, pg| sqlx::query_as(GET_ONE)
            .bind(id)
            .fetch_optional(pool)
            .await?);
        row.map(Product::try_from).transpose()
    }

    /// The product, deleted or not (a delete's replayed answer reads its tombstone's state).
    pub async fn get_product_any(&self, id: i64) -> Result<Option<Product>> {
        let row: Option<ProductRow> = on_pool!(self, |pool, pg| sqlx::query_as(GET_ANY)
            .bind(id)
            .fetch_optional(pool)
            .await?);
        row.map(Product::try_from).transpose()
    }

    /// Products matching `filter`, only those newer than `newer_than` when given (the
    /// position of a row in the newest-first table).
    pub async fn count_products(
        &self,
        filter: Option<&str>,
        newer_than: Option<i64>,
    ) -> Result<i64> {
        let low = newer_than.unwrap_or(i64::MIN);
        Ok(on_pool!(
            self,
            |pool, pg| match &filter_pattern(filter, pg) {
                Some(p) =>
                    sqlx::query_scalar(if pg {
                        COUNT_FILTERED
                    } else {
                        COUNT_FILTERED_SQLITE
                    })
                    .bind(low)
                    .bind(p)
                    .fetch_one(pool)
                    .await?,
                None => sqlx::query_scalar(COUNT).bind(low).fetch_one(pool).await?,
            }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn filters_drop_control_characters() {
        assert_eq!(
            super::filter_pattern(Some("a\u{0}b"), true).as_deref(),
            Some("%ab%")
        );
        assert_eq!(super::filter_pattern(Some("\u{0}"), true), None);
        assert_eq!(
            super::filter_pattern(Some("a\u{7}b"), false).as_deref(),
            Some("(?i)ab")
        );
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(
            like_pattern(Some(" 50%_Off ")).as_deref(),
            Some("%50\\%\\_off%")
        );
        assert_eq!(like_pattern(Some("  ")), None);
    }
}
