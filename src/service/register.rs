//! Registration: validate, commit product + outbox event in one transaction, then wait a
//! short, bounded time for the broker's acknowledgement.

use chrono::{DateTime, Utc};
use tokio::sync::broadcast::error::RecvError;

use super::{Service, ServiceError};
use crate::domain::{NewProduct, Product, ProductDraft, PublishState};

/// A committed product and how far its event got within the wait bound.
#[derive(Debug, Clone)]
pub struct Registered {
    pub product: Product,
}

/// Now, at the precision both databases keep (microseconds), so what we return equals what
/// a later read returns.
fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

impl Service {
    /// Validates the draft, then registers it.
    pub async fn register(&self, draft: &ProductDraft) -> Result<Registered, ServiceError> {
        self.register_new(draft.validate()?).await
    }

    /// Commits the product with its outbox event, then waits up to PUBLISH_WAIT for the
    /// broker's acknowledgement (not at all when the broker is known to be down).
    pub async fn register_new(&self, new: NewProduct) -> Result<Registered, ServiceError> {
        let mut acks = self.inner.relay_link.subscribe();
        let mut saved = self
            .inner
            .store
            .insert_products(&[new], now_micros())
            .await?;
        let saved = saved
            .pop()
            .ok_or_else(|| ServiceError::Internal("insert returned nothing".into()))?;
        self.inner.relay_link.wake();
        let mut product = saved.product;
        if !self.inner.health.is_up() {
            return Ok(Registered { product });
        }
        let id = saved.outbox_id;
        let wait = async {
            loop {
                match acks.recv().await {
                    Ok(a) if a.outbox_id == id => {
                        return Some(PublishState::Published {
                            partition: a.partition,
                            offset: a.offset,
                        });
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return None,
                }
            }
        };
        product.publish = match tokio::time::timeout(self.inner.settings.publish_wait, wait).await {
            Ok(Some(state)) => state,
            // Missed in the channel, or another process's relay took it: ask the outbox.
            _ => self
                .inner
                .store
                .event_state(id)
                .await?
                .unwrap_or(PublishState::Pending),
        };
        Ok(Registered { product })
    }
}
