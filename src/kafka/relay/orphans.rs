//! Events no relay holds (their process ended, or was behind): claimed from the outbox in
//! event order; and the probe that tells when a broker that was down answers again.

use super::*;

impl Relay {
    /// Orphans of this destination, claimed for this relay and put in flight; those of
    /// unknown fate found on the topic already come back, for the marker.
    pub(super) async fn take_orphans(&mut self, producer: &Producer) -> Vec<Acked> {
        let room = MAX_IN_FLIGHT
            .saturating_sub(self.in_flight.len())
            .min(BATCH);
        let found = match self
            .store
            .claim_orphans(
                &self.opts.id,
                &self.opts.destination,
                self.opts.lease,
                room as i64,
            )
            .await
        {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "relay cannot claim events");
                return Vec::new();
            }
        };
        if found.is_empty() {
            return Vec::new();
        }
        tracing::debug!(count = found.len(), "claimed orphaned events");
        // A newer event of the same product may wait behind each: claim again once marked.
        for e in &found {
            self.blocked.add(e.product_id);
        }
        if found.len() == room {
            self.wake.notify_one(); // more may wait
        }
        let batch = found
            .into_iter()
            .map(|event| Handoff {
                event,
                ack: None,
                at: None,
                committed: None,
            })
            .collect();
        let (on_topic, send) = self.found_on_topic(batch).await;
        self.send_all(producer, send);
        on_topic
    }

    /// While the broker is not known to be up, asks it for metadata now and then.
    pub(super) async fn probe(&self, producer: &Producer) {
        if self.health.is_up() || !self.in_flight.is_empty() {
            return;
        }
        let p = producer.clone();
        let probe = tokio::task::spawn_blocking(move || {
            p.client().fetch_metadata(None, Duration::from_secs(1))
        });
        if let Ok(Ok(_)) = probe.await {
            self.health.set_up();
        }
    }
}
