//! Records the broker's acknowledgements off the publishing path: whatever was acknowledged
//! meanwhile is marked in one statement, then each waiter hears about its own event. A mark
//! that fails is retried with the next ones, never answered by publishing again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use super::SharedHealth;
use super::handoff::{Blocked, Handoff, Unmarked};
use crate::domain::PublishState;
use crate::store::{PublishedAck, Store};

const MAX_WAIT: Duration = Duration::from_secs(5);
/// How long a mark waits for more acknowledgements when the last mark was shared (never for a
/// lone one). Fewer, fuller statements and commits: callers are woken by the acknowledgement,
/// so this delays no answer. Two processes on one database, scripts/bench_write.py --only 3
/// (BENCHMARKS.md): 0.80-0.84x of one process with 1.5 ms, 0.87-0.88x with 5 ms.
const GATHER: Duration = Duration::from_micros(5000);
/// Attempts left for the marks still failing when the relay stops.
const LAST_TRIES: u32 = 3;

/// One acknowledged event.
pub(super) struct Acked {
    pub handoff: Handoff,
    pub partition: i32,
    pub offset: i64,
}

pub(super) struct Marker {
    pub tx: mpsc::UnboundedSender<Vec<Acked>>,
    /// Ends true when every acknowledgement was recorded.
    pub task: JoinHandle<bool>,
}

pub(super) fn spawn(
    store: Store,
    relay: Arc<str>,
    health: SharedHealth,
    observers: broadcast::Sender<PublishedAck>,
    blocked: Arc<Blocked>,
    unmarked: Arc<Unmarked>,
) -> Marker {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(store, relay, health, observers, blocked, unmarked, rx));
    Marker { tx, task }
}

async fn run(
    store: Store,
    relay: Arc<str>,
    health: SharedHealth,
    observers: broadcast::Sender<PublishedAck>,
    blocked: Arc<Blocked>,
    acked_unmarked: Arc<Unmarked>,
    mut rx: mpsc::UnboundedReceiver<Vec<Acked>>,
) -> bool {
    let mut unmarked: Vec<PublishedAck> = Vec::new();
    let mut wait = Duration::from_millis(50);
    let mut closed = false;
    let mut last_tries = LAST_TRIES;
    let mut last = 1usize;
    // (product, version) of every acknowledgement in `unmarked`: left in `acked_unmarked`
    // until the mark that covers them commits, however many tries that takes.
    let mut waiting: Vec<(i64, i64)> = Vec::new();
    loop {
        let mut batch: Vec<Acked> = Vec::new();
        if unmarked.is_empty() && !closed {
            match rx.recv().await {
                Some(b) => batch.extend(b),
                None => closed = true,
            }
            // Acks arrive in bursts: a moment's wait lets one statement mark more of them.
            if !closed && last > 1 {
                let until = tokio::time::Instant::now() + GATHER;
                while let Ok(Some(b)) = tokio::time::timeout_at(until, rx.recv()).await {
                    batch.extend(b);
                    if batch.len() >= last {
                        break;
                    }
                }
            }
        }
        loop {
            match rx.try_recv() {
                Ok(b) => batch.extend(b),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        if batch.is_empty() && unmarked.is_empty() {
            if closed {
                return true;
            }
            continue;
        }
        last = batch.len().max(1);
        waiting.extend(
            batch
                .iter()
                .map(|a| (a.handoff.event.product_id, a.handoff.event.version)),
        );
        unmarked.extend(batch.iter().map(|a| PublishedAck {
            outbox_id: a.handoff.event.id,
            product_id: a.handoff.event.product_id,
            partition: a.partition,
            offset: a.offset,
        }));
        let ok = match store.mark_published(&relay, &unmarked).await {
            Ok(n) => {
                if n < unmarked.len() as u64 {
                    tracing::warn!(
                        marked = n,
                        acked = unmarked.len(),
                        "some events were taken over by another relay before their mark"
                    );
                }
                blocked.published(unmarked.iter().map(|a| a.product_id));
                unmarked.clear();
                wait = Duration::from_millis(50);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, events = unmarked.len(), "cannot mark events published; will retry");
                false
            }
        };
        if ok {
            for (product, version) in waiting.drain(..) {
                acked_unmarked.marked(product, version);
            }
            for a in &batch {
                if let Some(at) = a.handoff.at {
                    crate::stages::record(crate::stages::Stage::Mark, at);
                }
            }
        }
        health.count_published(batch.len());
        for a in batch {
            let state = PublishState::Published {
                partition: a.partition,
                offset: a.offset,
            };
            if let Some(tx) = a.handoff.ack {
                let _ = tx.send(state);
            }
            let _ = observers.send(PublishedAck {
                outbox_id: a.handoff.event.id,
                product_id: a.handoff.event.product_id,
                partition: a.partition,
                offset: a.offset,
            });
        }
        if !ok {
            if closed {
                last_tries -= 1;
                if last_tries == 0 {
                    return false;
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_WAIT);
        }
    }
}
