//! Changing a product: an update or a delete commits with its outbox event in one transaction.
//! The product row is locked first (the UPDATE), so the event's statement, which runs after,
//! sees every older event of the product: if one is still unpublished, the new event is written
//! without a holder and waits its turn in the ordered orphan path (see `outbox::CLAIM_*`).

use chrono::{DateTime, Utc};

use super::audit::audit_in;
use super::products::{GET_ANY, GET_ONE, ProductRow};
use super::{EventRoute, OutboxEvent, Result, Store, StoreError, on_pool};
use crate::domain::{
    AuditAction, AuditEntry, EventKind, NewProduct, Product, ProductMessage, PublishState,
};

/// Which product to change, from which version (None: whatever is current), by whom, when.
#[derive(Debug, Clone)]
pub struct ChangeOf<'a> {
    pub id: i64,
    pub expected: Option<i64>,
    pub by: Option<&'a str>,
    pub at: DateTime<Utc>,
    /// The request's Idempotency-Key, recorded for `by` in the change's transaction.
    pub idem: Option<&'a super::IdemKey>,
    /// Where the change came from, for its audit entry (written in the same transaction).
    pub origin: &'a crate::domain::Origin,
}

impl ChangeOf<'_> {
    fn audit(&self, action: AuditAction, product: &Product) -> AuditEntry {
        AuditEntry::new(
            self.by.unwrap_or_default(),
            action,
            format!("product {} v{}", product.id, product.revision.version),
            self.origin,
        )
    }
}

#[derive(Debug, Clone)]
pub enum Changed {
    /// Committed. `product` is the new state (for a delete, the last state, with the new
    /// version); `held` tells whether this process's relay holds the event.
    Done {
        product: Box<Product>,
        event: OutboxEvent,
        held: bool,
    },
    /// No such product, or it was deleted.
    NotFound,
    /// The product is at another version than expected; nothing was written.
    Stale { current: i64 },
}

const UPDATE: &str = "UPDATE tb_product SET name = $2, description = $3, category = $4,
    version = version + 1, updated_by = $5, updated_at = $6
  WHERE id = $1 AND deleted_at IS NULL AND ($7 IS NULL OR version = $7) RETURNING version";
const DELETE: &str = "UPDATE tb_product SET version = version + 1, updated_by = $2,
    updated_at = $3, deleted_at = $3
  WHERE id = $1 AND deleted_at IS NULL AND ($4 IS NULL OR version = $4) RETURNING version";
const CURRENT: &str = "SELECT version, deleted_at IS NOT NULL FROM tb_product WHERE id = $1";
const PRICING_PG: &str =
    "UPDATE tb_pricing SET ammount = CAST($2 AS NUMERIC), currency = $3 WHERE product_id = $1";
const PRICING_SQLITE: &str =
    "UPDATE tb_pricing SET ammount = $2, currency = $3 WHERE product_id = $1";
const AVAILABILITY: &str = "UPDATE tb_availability SET quantity = $2 WHERE product_id = $1";

// The holder is dropped when an older event of the product is unpublished: it goes first.
// "Unpublished" is read as kafka_offset IS NULL (the same, by outbox_check) so that the
// product's own index is used, never a walk of every pending event (see CLAIM_PG).
const EVENT_PG: &str = "INSERT INTO outbox (product_id, msg_key, payload, created_at, destination,
    claimed_by, claimed_until, event, version)
  SELECT $1, CAST($1 AS TEXT), $2, $3, $4, h.holder,
    CASE WHEN h.holder IS NULL THEN NULL ELSE clock_timestamp() + make_interval(secs => $6) END, $7, $8
  FROM (SELECT CASE WHEN EXISTS (SELECT 1 FROM outbox WHERE product_id = $1
                                 AND kafka_offset IS NULL)
               THEN NULL ELSE CAST($5 AS TEXT) END AS holder) h
  RETURNING id, claimed_by";
const EVENT_SQLITE: &str = "INSERT INTO outbox (product_id, msg_key, payload, created_at,
    destination, claimed_by, claimed_until, event, version)
  SELECT $1, CAST($1 AS TEXT), $2, $3, $4, h.holder,
    CASE WHEN h.holder IS NULL THEN NULL
      ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('%+.3f seconds', $6)) END, $7, $8
  FROM (SELECT CASE WHEN EXISTS (SELECT 1 FROM outbox WHERE product_id = $1
                                 AND published_at IS NULL)
               THEN NULL ELSE $5 END AS holder) h
  RETURNING id, claimed_by";

/// What a refused change tells: gone, or at another version.
fn refusal(current: Option<(i64, bool)>) -> Changed {
    match current {
        Some((version, false)) => Changed::Stale { current: version },
        _ => Changed::NotFound,
    }
}

/// The row and event of a change; runs inside the caller's transaction (one per backend).
/// The change's Idempotency-Key, in the caller's transaction: a taken key fails the change.
macro_rules! record_key {
    ($tx:ident, $change:expr, $product:expr) => {{
        if let Some(k) = $change.idem {
            sqlx::query(super::idem::RECORD)
                .bind($change.by.unwrap_or_default())
                .bind(&k.key)
                .bind(&k.request_hash)
                .bind($product.id)
                .bind($product.revision.version)
                .bind($change.at)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

macro_rules! write_event {
    ($tx:ident, $pg:ident, $product:expr, $kind:expr, $payload:expr, $at:expr, $route:expr) => {{
        let product: &Product = $product;
        let row: (i64, Option<String>) = sqlx::query_as(if $pg { EVENT_PG } else { EVENT_SQLITE })
            .bind(product.id)
            .bind($payload)
            .bind($at)
            .bind($route.destination)
            .bind($route.holder)
            .bind($route.lease.as_secs_f64())
            .bind($kind.as_str())
            .bind(product.revision.version)
            .fetch_one(&mut *$tx)
            .await?;
        row
    }};
}

fn done(product: Product, kind: EventKind, payload: String, row: (i64, Option<String>)) -> Changed {
    let event = OutboxEvent {
        id: row.0,
        product_id: product.id,
        msg_key: product.id.to_string(),
        payload,
        event: kind.as_str().to_string(),
        version: product.revision.version,
        traceparent: None,
        uncertain: false,
        created_ms: None,
    };
    Changed::Done {
        product: Box::new(product),
        event,
        held: row.1.is_some(),
    }
}

/// A change's inputs, owned, so that its transaction can run on a task of its own.
struct Detached {
    id: i64,
    expected: Option<i64>,
    by: Option<String>,
    at: DateTime<Utc>,
    idem: Option<super::IdemKey>,
    origin: crate::domain::Origin,
    destination: String,
    holder: Option<String>,
    lease: std::time::Duration,
}

impl Detached {
    fn of(c: &ChangeOf<'_>, r: &EventRoute<'_>) -> Detached {
        Detached {
            id: c.id,
            expected: c.expected,
            by: c.by.map(str::to_string),
            at: c.at,
            idem: c.idem.cloned(),
            origin: c.origin.clone(),
            destination: r.destination.to_string(),
            holder: r.holder.map(str::to_string),
            lease: r.lease,
        }
    }

    fn change(&self) -> ChangeOf<'_> {
        ChangeOf {
            id: self.id,
            expected: self.expected,
            by: self.by.as_deref(),
            at: self.at,
            idem: self.idem.as_ref(),
            origin: &self.origin,
        }
    }

    fn route(&self) -> EventRoute<'_> {
        EventRoute {
            destination: &self.destination,
            holder: self.holder.as_deref(),
            lease: self.lease,
        }
    }
}

/// Runs a change's transaction to its end on a task of its own: a caller that goes away
/// (a client gone mid-request) must not cut it between two statements, which left the
/// connection's protocol behind for its next user (a retry then read "no such product").
async fn detached<F>(work: F) -> Result<Changed>
where
    F: std::future::Future<Output = Result<Changed>> + Send + 'static,
{
    tokio::spawn(work)
        .await
        .map_err(|e| StoreError::Internal(format!("a change's task ended: {e}")))?
}

impl Store {
    /// Replaces the product's fields, version + 1, with an `updated` event of its new state;
    /// it completes even if the caller goes away.
    pub async fn update_product(
        &self,
        change: &ChangeOf<'_>,
        item: &NewProduct,
        route: &EventRoute<'_>,
    ) -> Result<Changed> {
        let (store, owned, item) = (self.clone(), Detached::of(change, route), item.clone());
        detached(async move {
            store
                .update_now(&owned.change(), &item, &owned.route())
                .await
        })
        .await
    }

    /// Takes the product off the catalogue (its row stays, marked deleted), version + 1, with a
    /// `deleted` event: a tombstone. It completes even if the caller goes away.
    pub async fn delete_product(
        &self,
        change: &ChangeOf<'_>,
        route: &EventRoute<'_>,
    ) -> Result<Changed> {
        let (store, owned) = (self.clone(), Detached::of(change, route));
        detached(async move { store.delete_now(&owned.change(), &owned.route()).await }).await
    }

    async fn update_now(
        &self,
        change: &ChangeOf<'_>,
        item: &NewProduct,
        route: &EventRoute<'_>,
    ) -> Result<Changed> {
        on_pool!(self, |pool, pg| {
            let mut tx = pool.begin().await?;
            let version: Option<i64> = sqlx::query_scalar(UPDATE)
                .bind(change.id)
                .bind(&item.name)
                .bind(&item.description)
                .bind(&item.category)
                .bind(change.by)
                .bind(change.at)
                .bind(change.expected)
                .fetch_optional(&mut *tx)
                .await?;
            if version.is_none() {
                let current: Option<(i64, bool)> = sqlx::query_as(CURRENT)
                    .bind(change.id)
                    .fetch_optional(&mut *tx)
                    .await?;
                return Ok(refusal(current));
            }
            sqlx::query(if pg { PRICING_PG } else { PRICING_SQLITE })
                .bind(change.id)
                .bind(item.amount.to_string())
                .bind(item.currency.code())
                .execute(&mut *tx)
                .await?;
            sqlx::query(AVAILABILITY)
                .bind(change.id)
                .bind(item.quantity)
                .execute(&mut *tx)
                .await?;
            let row: Option<ProductRow> = sqlx::query_as(GET_ONE)
                .bind(change.id)
                .fetch_optional(&mut *tx)
                .await?;
            let mut product = Product::try_from(row.ok_or_else(|| {
                StoreError::Internal(format!("product {} vanished in its update", change.id))
            })?)?;
            product.publish = PublishState::Pending;
            let payload = ProductMessage::of(&product).to_json();
            let kind = EventKind::Updated;
            let row = write_event!(tx, pg, &product, kind, &payload, change.at, route);
            record_key!(tx, change, &product);
            audit_in!(tx, &change.audit(AuditAction::ProductUpdate, &product));
            tx.commit().await?;
            Ok(done(product, kind, payload, row))
        })
    }

    async fn delete_now(&self, change: &ChangeOf<'_>, route: &EventRoute<'_>) -> Result<Changed> {
        on_pool!(self, |pool, pg| {
            let mut tx = pool.begin().await?;
            let version: Option<i64> = sqlx::query_scalar(DELETE)
                .bind(change.id)
                .bind(change.by)
                .bind(change.at)
                .bind(change.expected)
                .fetch_optional(&mut *tx)
                .await?;
            if version.is_none() {
                let current: Option<(i64, bool)> = sqlx::query_as(CURRENT)
                    .bind(change.id)
                    .fetch_optional(&mut *tx)
                    .await?;
                return Ok(refusal(current));
            }
            let row: Option<ProductRow> = sqlx::query_as(GET_ANY)
                .bind(change.id)
                .fetch_optional(&mut *tx)
                .await?;
            let row = row.ok_or_else(|| {
                StoreError::Internal(format!("product {} vanished in its delete", change.id))
            })?;
            let mut product = Product::try_from(row)?;
            product.publish = PublishState::Pending;
            let kind = EventKind::Deleted;
            let row = write_event!(tx, pg, &product, kind, "", change.at, route);
            record_key!(tx, change, &product);
            audit_in!(tx, &change.audit(AuditAction::ProductDelete, &product));
            tx.commit().await?;
            Ok(done(product, kind, String::new(), row))
        })
    }
}
