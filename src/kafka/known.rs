//! The events a relay knows it holds (taken from its queue, claimed, in flight, failed), to
//! find the rows held under its name that it does not know: an INSERT or a claim whose answer
//! was lost, a change dropped during its commit. Those are given back to the outbox, where
//! any relay (this one too) claims them in each product's order.

use std::collections::HashSet;

use crate::store::Store;

#[derive(Default)]
pub(super) struct Known {
    mine: HashSet<i64>,
    /// Held but unknown at the last sweep. A writer hands its events over right after its
    /// commit, so a row unknown at two sweeps (a renewal period apart) is not on its way.
    suspects: HashSet<i64>,
}

impl Known {
    pub(super) fn take(&mut self, id: i64) {
        self.mine.insert(id);
    }

    /// Forgets what is no longer held (published, or taken over), and releases what has been
    /// held without being known for two sweeps. The number released.
    pub(super) async fn sweep(&mut self, store: &Store, relay: &str) -> u64 {
        let held: HashSet<i64> = match store.held_by(relay).await {
            Ok(ids) => ids.into_iter().collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the events this relay holds");
                return 0;
            }
        };
        self.mine.retain(|id| held.contains(id));
        let unknown: HashSet<i64> = held.difference(&self.mine).copied().collect();
        let stale: Vec<i64> = unknown.intersection(&self.suspects).copied().collect();
        self.suspects = unknown;
        if stale.is_empty() {
            return 0;
        }
        match store.release_ids(relay, &stale).await {
            Ok(n) => {
                tracing::warn!(
                    events = n,
                    "released events held under this relay's name it never had"
                );
                for id in &stale {
                    self.suspects.remove(id);
                }
                n
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot release unknown held events");
                0
            }
        }
    }
}
