//! Catalogue changes: update and delete. Each commits with its outbox event; the event goes to
//! this process's relay when no older event of the product is still on its way, else it waits
//! its turn as an orphan, so a product's events reach the topic in version order.

use super::{Service, ServiceError};
use crate::domain::{NewProduct, Origin, Product, ProductDraft, PublishState};
use crate::kafka::Handoff;
use crate::store::{ChangeOf, Changed, EventRoute, IdemKey};

/// Who changes which product, and the version they saw (None: whatever is current).
#[derive(Debug, Clone, Copy)]
pub struct Edit<'a> {
    pub id: i64,
    pub expected: Option<i64>,
    pub by: Option<&'a str>,
    /// Where the change came from, for its audit entry (None: a caller of the library).
    pub origin: Option<&'a Origin>,
}

enum Op<'a> {
    Update(&'a NewProduct),
    Delete,
}

impl Service {
    /// Validates the draft, then replaces the product's fields with it.
    pub async fn update(
        &self,
        edit: Edit<'_>,
        draft: &ProductDraft,
    ) -> Result<Product, ServiceError> {
        let item = draft.validate()?;
        self.update_valid(edit, &item).await
    }

    /// Replaces the product's fields: version + 1 and an `updated` event. A stale `expected`
    /// version changes nothing (`ServiceError::Stale`).
    pub async fn update_valid(
        &self,
        edit: Edit<'_>,
        item: &NewProduct,
    ) -> Result<Product, ServiceError> {
        self.change(edit, Op::Update(item), None).await
    }

    /// Takes the product off the catalogue: version + 1 and a tombstone. Returns its last
    /// state with the new version.
    pub async fn delete(&self, edit: Edit<'_>) -> Result<Product, ServiceError> {
        self.change(edit, Op::Delete, None).await
    }

    /// `update_valid` with an Idempotency-Key recorded in the change's transaction.
    pub(super) async fn update_recorded(
        &self,
        edit: Edit<'_>,
        item: &NewProduct,
        idem: &IdemKey,
    ) -> Result<Product, ServiceError> {
        self.change(edit, Op::Update(item), Some(idem)).await
    }

    /// `delete` with an Idempotency-Key recorded in the change's transaction.
    pub(super) async fn delete_recorded(
        &self,
        edit: Edit<'_>,
        idem: &IdemKey,
    ) -> Result<Product, ServiceError> {
        self.change(edit, Op::Delete, Some(idem)).await
    }

    async fn change(
        &self,
        edit: Edit<'_>,
        op: Op<'_>,
        idem: Option<&IdemKey>,
    ) -> Result<Product, ServiceError> {
        let link = &self.inner.relay_link;
        let mut permit = link.reserve(1);
        let route = EventRoute {
            destination: &self.inner.destination,
            holder: permit.as_ref().map(|_| link.id()),
            lease: link.lease(),
        };
        let unnamed = Origin::default();
        let change = ChangeOf {
            id: edit.id,
            expected: edit.expected,
            by: edit.by,
            at: super::writer::now_micros(),
            idem,
            origin: edit.origin.unwrap_or(&unnamed),
        };
        let store = &self.inner.store;
        let changed = match op {
            Op::Update(item) => store.update_product(&change, item, &route).await?,
            Op::Delete => store.delete_product(&change, &route).await?,
        };
        let (product, event, held) = match changed {
            Changed::Done {
                product,
                event,
                held,
            } => (*product, event, held),
            Changed::NotFound => return Err(ServiceError::NotFound(edit.id)),
            Changed::Stale { current } => {
                return Err(ServiceError::Stale {
                    id: edit.id,
                    current,
                    expected: edit.expected.unwrap_or(current),
                });
            }
        };
        let permit = permit.as_mut().and_then(Iterator::next);
        let mut product = product;
        match (held, permit) {
            (true, Some(permit)) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let now = std::time::Instant::now();
                permit.send(Handoff {
                    event,
                    ack: Some(tx),
                    at: Some(now),
                    committed: Some(now),
                });
                if self.inner.health.is_up()
                    && let Ok(Ok(state)) =
                        tokio::time::timeout(self.inner.settings.publish_wait, rx).await
                {
                    product.publish = state;
                }
            }
            // An older event of the product goes first; this one follows as an orphan.
            _ if route.holder.is_some() => link.wake_after(product.id),
            _ => link.wake(),
        }
        if product.publish == PublishState::Pending {
            tracing::debug!(
                id = product.id,
                version = product.revision.version,
                "change pending"
            );
        }
        Ok(product)
    }
}
