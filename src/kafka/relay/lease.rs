//! The relay's leases: events are sent only while their lease certainly outlasts the send,
//! renewed whatever the broker does, and rows held but unknown are given back.

use super::*;

impl Relay {
    /// Sends events handed over in memory only while their lease certainly outlasts the send
    /// (librdkafka gives up on a message after MESSAGE_TIMEOUT): past that, another relay may
    /// have taken them and published newer versions. A renewal that fails leaves them failed,
    /// and a failed event is sent again only after the database confirms it is still held.
    pub(super) async fn send_held(&mut self, producer: &Producer, batch: Vec<Handoff>) {
        for h in &batch {
            self.known.take(h.event.id);
        }
        let margin = MESSAGE_TIMEOUT.min(self.opts.lease / 2);
        if Instant::now() + margin > self.held_until && !self.renew().await {
            tracing::warn!(events = batch.len(), "leases not renewed; not sending yet");
            self.error = "cannot renew the events' leases".into();
            self.failed.extend(batch);
            return;
        }
        self.send_all(producer, batch);
    }

    /// Of failed events, those this relay still holds (lease extended); the rest went to
    /// another relay. None (kept as failed) when the database cannot tell now.
    pub(super) async fn still_held(&mut self, failed: Vec<Handoff>) -> Option<Vec<Handoff>> {
        let ids: Vec<i64> = failed.iter().map(|h| h.event.id).collect();
        match self
            .store
            .hold_again(&self.opts.id, &ids, self.opts.lease)
            .await
        {
            Ok(held) => {
                let held: std::collections::HashSet<i64> = held.into_iter().collect();
                let (keep, lost): (Vec<_>, Vec<_>) =
                    failed.into_iter().partition(|h| held.contains(&h.event.id));
                if !lost.is_empty() {
                    tracing::warn!(events = lost.len(), "another relay took over failed events");
                }
                Some(keep)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot check the failed events' leases; retrying later");
                self.error = e.to_string();
                self.failed = failed;
                None
            }
        }
    }

    /// Extends this relay's leases (and its broker ownership) while it is alive; false when
    /// the event leases could not be renewed.
    pub(super) async fn renew(&mut self) -> bool {
        let started = Instant::now();
        let renewed = match self
            .store
            .renew_leases(&self.opts.id, self.opts.lease)
            .await
        {
            Ok(_) => {
                self.held_until = started + self.opts.lease;
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot renew event leases");
                false
            }
        };
        if self.opts.owns_broker() {
            match self
                .store
                .renew_broker(&self.opts.destination, &self.opts.id, self.opts.lease)
                .await
            {
                Ok(true) => {}
                Ok(false) => tracing::warn!("another process took over the embedded broker"),
                Err(e) => tracing::warn!(error = %e, "cannot renew the embedded broker's lease"),
            }
        }
        renewed
    }

    /// Takes what waits in the queue (so it counts as known), then gives back to the outbox
    /// the rows held under this relay's name that it does not know (`Known`).
    pub(super) async fn sweep(&mut self) {
        while let Ok(h) = self.own.try_recv() {
            self.known.take(h.event.id);
            self.backlog.push(h);
        }
        if self.known.sweep(&self.store, &self.opts.id).await > 0 {
            self.wake.notify_one();
        }
    }

    /// At shutdown: lets other relays take what this one still holds at once instead of
    /// after the lease, unless an acknowledged event is still unmarked (it would be sent again).
    pub(super) async fn release(&mut self, all_marked: bool) {
        self.own.close();
        while self.own.try_recv().is_ok() {}
        if !all_marked {
            return;
        }
        // A send that failed may have reached the broker: counted, so whoever claims it next
        // looks for it on the topic first.
        if !self.failed.is_empty() {
            let ids: Vec<i64> = self.failed.iter().map(|h| h.event.id).collect();
            if let Err(e) = self
                .store
                .note_failure(&self.opts.id, &ids, "stopped after a failed send")
                .await
            {
                tracing::warn!(error = %e, "cannot note the failed sends");
            }
        }
        match self.store.release_held(&self.opts.id).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "released unpublished events"),
            Err(e) => tracing::warn!(error = %e, "cannot release events; their lease will expire"),
        }
    }
}

/// True when the renewal interval has a tick due now (without waiting for one).
pub(super) fn renew_due(renew: &mut tokio::time::Interval) -> bool {
    renew.tick().now_or_never().is_some()
}
