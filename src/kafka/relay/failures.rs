//! The relay's failed sends: kept in event order for the next round, refused records noted
//! and retried on their own, the broker's health told.

use super::*;

impl Relay {
    pub(super) fn failed_one(&mut self, h: Handoff, f: Failure) {
        if f.permanent {
            tracing::warn!(event = h.event.id, product = h.event.product_id, error = %f.text,
                "the broker refuses this event; its product waits, the rest goes on");
            self.newly_refused.push((h.event.id, f.text));
            self.refused.add(h);
        } else {
            self.error = f.text;
            self.failed.push(h);
        }
    }

    /// Notes the reason on newly refused events, for status displays.
    pub(super) async fn note_refused(&mut self) {
        for (id, why) in std::mem::take(&mut self.newly_refused) {
            let text = format!("{REFUSED}{why}");
            if let Err(e) = self.store.note_failure(&self.opts.id, &[id], &text).await {
                tracing::warn!(error = %e, "cannot note a refused event");
            }
        }
    }

    /// Refused events whose wait is over, sent again if still held.
    pub(super) async fn retry_refused(&mut self, producer: &Producer) {
        let due = self.refused.due();
        if due.is_empty() {
            return;
        }
        if let Some(held) = self.still_held(due).await {
            self.send_all(producer, held);
        }
    }

    pub(super) async fn note_failure(&mut self) {
        self.health.set_down_summary(&self.error);
        tracing::warn!(
            failed = self.failed.len(),
            error = self.error,
            "publish failed; events stay pending"
        );
        let ids: Vec<i64> = self.failed.iter().map(|h| h.event.id).collect();
        if let Err(e) = self
            .store
            .note_failure(&self.opts.id, &ids, &self.error)
            .await
        {
            tracing::warn!(error = %e, "cannot note the failed attempt");
        }
    }
}
