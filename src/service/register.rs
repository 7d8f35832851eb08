//! Registration: validate, commit product + outbox event through the group-commit writer, then
//! wait a short, bounded time for the broker's acknowledgement of this event alone.

use super::{Service, ServiceError};
use crate::domain::{Product, ProductDraft};
use crate::store::Creation;

/// A committed product and how far its event got within the wait bound.
#[derive(Debug, Clone)]
pub struct Registered {
    pub product: Product,
}

impl Service {
    /// Validates the draft, then registers it (by nobody in particular: tools and tests).
    pub async fn register(&self, draft: &ProductDraft) -> Result<Registered, ServiceError> {
        self.register_new(draft.validate()?).await
    }

    /// Validates the draft, then registers it as `user`'s.
    pub async fn register_as(
        &self,
        user: &str,
        draft: &ProductDraft,
    ) -> Result<Registered, ServiceError> {
        let item = draft.validate()?;
        self.register_new(Creation {
            item,
            by: Some(user.to_string()),
            key: None,
            idem: None,
            trace: Some(crate::domain::TraceParent::root().header()),
            id: None,
        })
        .await
    }

    /// Commits the product with its outbox event, then waits up to PUBLISH_WAIT for the
    /// broker's acknowledgement (not at all unless the broker is known to be up). After the
    /// commit nothing fails: a retry by the caller would create a second product, so any
    /// later trouble answers `pending`.
    pub async fn register_new(&self, new: impl Into<Creation>) -> Result<Registered, ServiceError> {
        let written = self.inner.writer.write(new.into()).await?;
        let committed = std::time::Instant::now();
        let mut product = written.saved.product;
        let Some(ack) = written.ack else {
            return Ok(Registered { product });
        };
        if !self.inner.health.is_up() {
            return Ok(Registered { product });
        }
        // Only this event's acknowledgement wakes us. Timed out, or given up by the relay at
        // shutdown: pending, and the relay keeps at it.
        if let Ok(Ok(state)) = tokio::time::timeout(self.inner.settings.publish_wait, ack).await {
            crate::stages::record(crate::stages::Stage::Published, committed);
            product.publish = state;
        }
        Ok(Registered { product })
    }
}
