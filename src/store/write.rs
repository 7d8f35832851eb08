//! The write path: a batch of products, their rows and their outbox events in one transaction,
//! with set-based statements (one statement on PostgreSQL, five on SQLite) whatever its size.

mod each;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{OutboxEvent, Result, Store, StoreError};
use crate::domain::{EventKind, NewProduct, Product, ProductMessage, PublishState, Revision};

/// A product just committed, with its outbox event.
#[derive(Debug, Clone)]
pub struct SavedProduct {
    pub product: Product,
    pub event: OutboxEvent,
}

/// A product to register, and who registers it (unknown for some callers, e.g. benchmarks).
#[derive(Debug, Clone)]
pub struct Creation {
    pub item: NewProduct,
    pub by: Option<String>,
    /// An imported row's duplicate key (unique in `import_key`): a second row with the same
    /// key fails alone with `StoreError::Conflict`.
    pub key: Option<String>,
    /// A request's Idempotency-Key, recorded for `by` with the product (unique per user): a
    /// second product under the same key fails alone with `StoreError::Conflict`.
    pub idem: Option<IdemKey>,
    /// The W3C `traceparent` to publish with its event.
    pub trace: Option<String>,
    /// An id drawn for it in advance (`Store::reserve_ids`), so products written by batches
    /// committing side by side keep their queue order; None: the next from the sequence.
    pub id: Option<i64>,
}

/// An Idempotency-Key and the hash of the request that came with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemKey {
    pub key: String,
    pub request_hash: String,
}

impl From<NewProduct> for Creation {
    fn from(item: NewProduct) -> Creation {
        Creation {
            item,
            by: None,
            key: None,
            idem: None,
            trace: None,
            id: None,
        }
    }
}

/// Where new events go, and which relay holds them (for `lease`, by the database's clock).
/// Without a holder the events are orphans from the start: any relay of the destination
/// takes them.
#[derive(Debug, Clone)]
pub struct EventRoute<'a> {
    pub destination: &'a str,
    pub holder: Option<&'a str>,
    pub lease: Duration,
}

// One statement, so one implicit transaction: ids come from the sequence inside it, and the
// outbox payload is the message with the id spliced in (`'{"id":' || id || rest`).
// The sequence is named, not looked up: `pg_get_serial_sequence` ran once per row (2 µs).
const INSERT_PG: &str = r#"WITH input AS (
    SELECT COALESCE(t.given, nextval('tb_product_id_seq')) AS id, t.*
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[],
                $12::text[], $13::text[], $15::text[], $16::text[], $17::text[], $18::bigint[])
      WITH ORDINALITY AS t(name, description, category, ammount, currency, quantity, rest, by, key,
                           idem, idem_hash, trace, given, ord)
  ), p AS (
    INSERT INTO tb_product (id, name, description, category, created_by)
    SELECT id, name, description, category, by FROM input
  ), ik AS (
    INSERT INTO import_key (key, product_id) SELECT key, id FROM input WHERE key IS NOT NULL
  ), idk AS (
    INSERT INTO idempotency_key (username, key, request_hash, product_id, status, created_at)
    SELECT by, idem, idem_hash, id, 200, $8 FROM input WHERE idem IS NOT NULL
  ), pr AS (
    INSERT INTO tb_pricing (product_id, ammount, currency)
    SELECT id, CAST(ammount AS NUMERIC), currency FROM input RETURNING id, product_id
  ), av AS (
    INSERT INTO tb_availability (product_id, quantity, "timestamp")
    SELECT id, quantity, $8 FROM input RETURNING id, product_id
  ), ob AS (
    INSERT INTO outbox (product_id, msg_key, payload, created_at, destination, claimed_by, claimed_until, traceparent)
    SELECT id, CAST(id AS TEXT), '{"id":' || id || rest, $8, $9, $10,
      CASE WHEN $10::text IS NULL THEN NULL ELSE clock_timestamp() + make_interval(secs => $11) END,
      trace
    FROM input RETURNING id, product_id
  ), res AS (
    SELECT input.ord, input.id, pr.id AS pricing, av.id AS avail, ob.id AS outbox
    FROM input JOIN pr ON pr.product_id = input.id JOIN av ON av.product_id = input.id
      JOIN ob ON ob.product_id = input.id
  ), wb AS (
    INSERT INTO write_batch (created_at, token, rows)
    SELECT $8, $14, json_agg(json_build_array(id, pricing, avail, outbox) ORDER BY ord)::text
    FROM res
  )
  SELECT ord, id, pricing, avail, outbox FROM res ORDER BY ord"#;

// SQLite: the transaction holds the write lock from the first insert, so the ids of one
// multi-row insert are consecutive and follow the input's order.
// An id given in advance is taken as it is (NULL: the next rowid).
const PRODUCTS_SQLITE: &str = "INSERT INTO tb_product (id, name, description, category, created_by)
    SELECT json_extract(value, '$[4]'), json_extract(value, '$[0]'), json_extract(value, '$[1]'),
      json_extract(value, '$[2]'), json_extract(value, '$[3]')
    FROM json_each($1) ORDER BY key RETURNING id";
const PRICING_SQLITE: &str = "INSERT INTO tb_pricing (product_id, ammount, currency)
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
    FROM json_each($1) ORDER BY key RETURNING product_id, id";
const IMPORT_KEY_SQLITE: &str = "INSERT INTO import_key (key, product_id)
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($1)";
const AVAILABILITY_SQLITE: &str =
    "INSERT INTO tb_availability (product_id, quantity, \"timestamp\")
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), $2
    FROM json_each($1) ORDER BY key RETURNING product_id, id";
const IDEM_SQLITE: &str = "INSERT INTO idempotency_key
    (username, key, request_hash, product_id, status, created_at)
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
      json_extract(value, '$[3]'), 200, $2
    FROM json_each($1)";
const BATCH_SQLITE: &str = "INSERT INTO write_batch (created_at, token, rows) VALUES ($1, $2, $3)";
const OUTBOX_SQLITE: &str = "INSERT INTO outbox (product_id, msg_key, payload, created_at, destination, claimed_by, claimed_until, traceparent)
    SELECT json_extract(value, '$[0]'), CAST(json_extract(value, '$[0]') AS TEXT), json_extract(value, '$[1]'),
      $2, $3, $4,
      CASE WHEN $4 IS NULL THEN NULL
        ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('%+.3f seconds', $5)) END,
      json_extract(value, '$[2]')
    FROM json_each($1) ORDER BY key RETURNING product_id, id";

pub(super) fn product_of(
    c: &Creation,
    id: i64,
    pricing_id: i64,
    availability_id: i64,
    at: DateTime<Utc>,
) -> Product {
    let item = &c.item;
    Product {
        id,
        name: item.name.clone(),
        description: item.description.clone(),
        category: item.category.clone(),
        pricing_id,
        amount: item.amount,
        currency: item.currency.code().to_string(),
        availability_id,
        quantity: item.quantity,
        timestamp: at,
        publish: PublishState::Pending,
        revision: Revision::created_by(c.by.as_deref()),
    }
}

/// A database error met after the batch `token` was sent: an unreachable database leaves its
/// outcome unknown.
fn unsettled(e: sqlx::Error, token: i64) -> StoreError {
    match StoreError::from(e) {
        StoreError::Unavailable { reason, .. } => StoreError::Unsettled { reason, token },
        other => other,
    }
}

pub(super) fn saved(product: Product, outbox_id: i64, trace: Option<String>) -> SavedProduct {
    let msg = ProductMessage::of(&product);
    let event = OutboxEvent {
        id: outbox_id,
        product_id: product.id,
        msg_key: msg.key(),
        payload: msg.to_json(),
        event: EventKind::Created.as_str().to_string(),
        version: 1,
        traceparent: trace,
        uncertain: false,
        created_ms: None,
    };
    SavedProduct { product, event }
}

/// Looks up `product_id`'s value in `(product_id, value)` pairs returned by an insert.
fn by_product(rows: &[(i64, i64)], product_id: i64) -> Result<i64> {
    rows.iter()
        .find(|(p, _)| *p == product_id)
        .map(|(_, v)| *v)
        .ok_or_else(|| StoreError::Internal(format!("insert lost product {product_id}")))
}

impl Store {
    /// Writes every product with its pricing, availability and outbox rows in one transaction:
    /// all of them commit, or none does. Results are in the order of `items`. A connection
    /// lost once the commit was sent answers `StoreError::Unsettled` (see `settle`).
    pub async fn insert_products(
        &self,
        items: &[Creation],
        at: DateTime<Utc>,
        route: &EventRoute<'_>,
    ) -> Result<Vec<SavedProduct>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let lease = route.lease.as_secs_f64();
        // Random, and paired with `at`: two batches never share one.
        let token = rand::random::<i64>();
        match self {
            Store::Postgres(pool) => {
                // Failing to get a connection leaves nothing in doubt.
                let mut conn = pool.acquire().await?;
                let col = |f: fn(&NewProduct) -> String| {
                    items.iter().map(|c| f(&c.item)).collect::<Vec<_>>()
                };
                let rows: Vec<(i64, i64, i64, i64, i64)> = sqlx::query_as(INSERT_PG)
                    .bind(col(|i| i.name.clone()))
                    .bind(col(|i| i.description.clone()))
                    .bind(col(|i| i.category.clone()))
                    .bind(col(|i| i.amount.to_string()))
                    .bind(col(|i| i.currency.code().to_string()))
                    .bind(items.iter().map(|c| c.item.quantity).collect::<Vec<_>>())
                    .bind(
                        items
                            .iter()
                            .map(|i| {
                                ProductMessage::of(&product_of(i, 0, 0, 0, at)).json_after_id()
                            })
                            .collect::<Vec<_>>(),
                    )
                    .bind(at)
                    .bind(route.destination)
                    .bind(route.holder)
                    .bind(lease)
                    .bind(items.iter().map(|c| c.by.clone()).collect::<Vec<_>>())
                    .bind(items.iter().map(|c| c.key.clone()).collect::<Vec<_>>())
                    .bind(token)
                    .bind(
                        items
                            .iter()
                            .map(|c| c.idem.as_ref().map(|i| i.key.clone()))
                            .collect::<Vec<_>>(),
                    )
                    .bind(
                        items
                            .iter()
                            .map(|c| c.idem.as_ref().map(|i| i.request_hash.clone()))
                            .collect::<Vec<_>>(),
                    )
                    .bind(items.iter().map(|c| c.trace.clone()).collect::<Vec<_>>())
                    .bind(items.iter().map(|c| c.id).collect::<Vec<_>>())
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| unsettled(e, token))?;
                if rows.len() != items.len() {
                    return Err(StoreError::Internal("insert returned a short batch".into()));
                }
                Ok(items
                    .iter()
                    .zip(rows)
                    .map(|(item, (_, id, pricing, avail, outbox))| {
                        saved(
                            product_of(item, id, pricing, avail, at),
                            outbox,
                            item.trace.clone(),
                        )
                    })
                    .collect())
            }
            Store::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                let input = json!(
                    items
                        .iter()
                        .map(|c| {
                            json!([c.item.name, c.item.description, c.item.category, c.by, c.id])
                        })
                        .collect::<Vec<_>>()
                );
                let mut ids: Vec<i64> = sqlx::query_scalar(PRODUCTS_SQLITE)
                    .bind(input.to_string())
                    .fetch_all(&mut *tx)
                    .await?;
                ids.sort_unstable();
                if ids.len() != items.len() {
                    return Err(StoreError::Internal("insert returned a short batch".into()));
                }
                let keys: Vec<_> = items
                    .iter()
                    .zip(&ids)
                    .filter_map(|(c, id)| c.key.as_ref().map(|k| json!([k, id])))
                    .collect();
                if !keys.is_empty() {
                    sqlx::query(IMPORT_KEY_SQLITE)
                        .bind(json!(keys).to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                let idem: Vec<_> = items
                    .iter()
                    .zip(&ids)
                    .filter_map(|(c, id)| {
                        c.idem
                            .as_ref()
                            .map(|i| json!([c.by, i.key, i.request_hash, id]))
                    })
                    .collect();
                if !idem.is_empty() {
                    sqlx::query(IDEM_SQLITE)
                        .bind(json!(idem).to_string())
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                let pricing = json!(
                    items
                        .iter()
                        .zip(&ids)
                        .map(|(c, id)| json!([
                            id,
                            c.item.amount.to_string(),
                            c.item.currency.code()
                        ]))
                        .collect::<Vec<_>>()
                );
                let pricing: Vec<(i64, i64)> = sqlx::query_as(PRICING_SQLITE)
                    .bind(pricing.to_string())
                    .fetch_all(&mut *tx)
                    .await?;
                let avail = json!(
                    items
                        .iter()
                        .zip(&ids)
                        .map(|(c, id)| json!([id, c.item.quantity]))
                        .collect::<Vec<_>>()
                );
                let avail: Vec<(i64, i64)> = sqlx::query_as(AVAILABILITY_SQLITE)
                    .bind(avail.to_string())
                    .bind(at)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut products = Vec::with_capacity(items.len());
                for (item, id) in items.iter().zip(&ids) {
                    let (p, a) = (by_product(&pricing, *id)?, by_product(&avail, *id)?);
                    products.push(product_of(item, *id, p, a, at));
                }
                let events = json!(
                    products
                        .iter()
                        .zip(items)
                        .map(|(p, c)| json!([p.id, ProductMessage::of(p).to_json(), c.trace]))
                        .collect::<Vec<_>>()
                );
                let outbox: Vec<(i64, i64)> = sqlx::query_as(OUTBOX_SQLITE)
                    .bind(events.to_string())
                    .bind(at)
                    .bind(route.destination)
                    .bind(route.holder)
                    .bind(lease)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut rows = Vec::with_capacity(products.len());
                for p in &products {
                    rows.push([
                        p.id,
                        p.pricing_id,
                        p.availability_id,
                        by_product(&outbox, p.id)?,
                    ]);
                }
                sqlx::query(BATCH_SQLITE)
                    .bind(at)
                    .bind(token)
                    .bind(json!(rows).to_string())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await.map_err(|e| unsettled(e, token))?;
                Ok(products
                    .into_iter()
                    .zip(rows)
                    .zip(items)
                    .map(|((p, [.., o]), c)| saved(p, o, c.trace.clone()))
                    .collect())
            }
        }
    }
}
