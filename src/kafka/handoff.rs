//! How the rest of the process talks to the relay: its options, the events handed over in
//! memory after a commit, the link writers and observers hold, and the handle that stops it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::domain::PublishState;
use crate::store::{OutboxEvent, PublishedAck};

/// Who the relay is, what it publishes, and for how long its claims hold.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// The holder name written on the events this relay holds.
    pub id: String,
    /// The outbox destination this relay serves (its cluster and topic).
    pub destination: String,
    /// A claim lasts this long without renewal, by the database's clock. It outlives any
    /// publish attempt (MESSAGE_TIMEOUT) by far and is renewed at a third of it, so it only
    /// runs out when the relay died or stalled.
    pub lease: Duration,
    /// Published events to send again first: a fresh embedded broker starts empty.
    pub replay: usize,
    /// Set while this process owns the destination's embedded broker: renewed with the
    /// leases. Shared, since a process that joined another's broker may take it over.
    pub broker_owner: Arc<AtomicBool>,
}

impl RelayOptions {
    pub fn owns_broker(&self) -> bool {
        self.broker_owner.load(Ordering::Relaxed)
    }
}

/// Where the relay publishes: sent again when the broker moves (a joined embedded broker's
/// owner ended and this process, or another, started a new one).
#[derive(Debug, Clone)]
pub struct Target {
    pub cfg: super::KafkaConfig,
    /// Published events to send again first (a fresh embedded broker starts empty).
    pub replay: usize,
}

impl RelayOptions {
    pub fn new(destination: &str) -> RelayOptions {
        RelayOptions {
            id: format!("{}-{:08x}", std::process::id(), rand::random::<u32>()),
            destination: destination.to_string(),
            lease: Duration::from_secs(30),
            replay: 0,
            broker_owner: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// An event this process committed, with whoever waits for its acknowledgement.
pub struct Handoff {
    pub event: OutboxEvent,
    pub ack: Option<oneshot::Sender<PublishState>>,
    /// When the event's current stage began (its commit, first), for `crate::stages`; None
    /// for events claimed from the outbox.
    pub at: Option<std::time::Instant>,
    /// When its transaction committed (None for claimed events), for the commit-to-ack
    /// histogram.
    pub committed: Option<std::time::Instant>,
}

/// Products whose newest event waits for an older one this relay holds: when the older one is
/// marked, the relay is woken to claim the next at once (instead of at its next idle check).
#[derive(Debug)]
pub(super) struct Blocked {
    products: std::sync::Mutex<std::collections::HashSet<i64>>,
    pub(super) wake: Arc<Notify>,
}

/// Entries whose older event another process published are never released here; past this,
/// the set starts again (the idle check still finds their events).
const MAX_BLOCKED: usize = 10_000;

impl Blocked {
    pub(super) fn new(wake: Arc<Notify>) -> Blocked {
        Blocked {
            products: Default::default(),
            wake,
        }
    }

    pub(super) fn add(&self, product_id: i64) {
        if let Ok(mut set) = self.products.lock() {
            if set.len() >= MAX_BLOCKED {
                set.clear();
            }
            set.insert(product_id);
        }
    }

    /// Called once events of these products were marked published.
    pub(super) fn published(&self, products: impl Iterator<Item = i64>) {
        let Ok(mut set) = self.products.lock() else {
            return;
        };
        if set.is_empty() {
            return;
        }
        let mut any = false;
        for p in products {
            any |= set.remove(&p);
        }
        if any {
            self.wake.notify_one();
        }
    }
}

/// Events the broker acknowledged whose outbox mark is not committed yet, by product: what a
/// read of this process shows meanwhile, so the "published" a caller heard is what it reads.
#[derive(Debug, Default)]
pub(super) struct Unmarked {
    by_product: std::sync::Mutex<std::collections::HashMap<i64, (i64, i32, i64)>>,
}

impl Unmarked {
    pub(super) fn acked(&self, e: &OutboxEvent, partition: i32, offset: i64) {
        if let Ok(mut m) = self.by_product.lock() {
            m.insert(e.product_id, (e.version, partition, offset));
        }
    }

    /// `product_id`'s event `version` is marked: reads find it in the database now.
    pub(super) fn marked(&self, product_id: i64, version: i64) {
        if let Ok(mut m) = self.by_product.lock()
            && m.get(&product_id).is_some_and(|(v, ..)| *v == version)
        {
            m.remove(&product_id);
        }
    }

    fn snapshot(&self) -> AckedSnapshot {
        AckedSnapshot(
            self.by_product
                .lock()
                .map(|m| m.clone())
                .unwrap_or_default(),
        )
    }
}

/// Acknowledged events waiting for their marks, as they were before a read of the database:
/// taken first, so an event whose mark lands between the two is seen in one or the other.
#[derive(Debug, Default)]
pub struct AckedSnapshot(std::collections::HashMap<i64, (i64, i32, i64)>);

impl AckedSnapshot {
    /// A read product's state as this process knows it: an event acknowledged by the broker
    /// reads as published even before its mark is committed.
    pub fn overlay(&self, p: &mut crate::domain::Product) {
        if let (PublishState::Pending, Some((v, partition, offset))) =
            (p.publish, self.0.get(&p.id))
            && *v == p.revision.version
        {
            p.publish = PublishState::Published {
                partition: *partition,
                offset: *offset,
            };
        }
    }
}

/// What writers and observers use: hand events over, wake the relay, watch acknowledgements.
#[derive(Clone)]
pub struct RelayLink {
    pub(super) id: Arc<str>,
    pub(super) lease: Duration,
    pub(super) wake: Arc<Notify>,
    pub(super) blocked: Arc<Blocked>,
    pub(super) own: mpsc::Sender<Handoff>,
    pub(super) acks: broadcast::Sender<PublishedAck>,
    pub(super) unmarked: Arc<Unmarked>,
}

impl RelayLink {
    /// The holder name to write on events handed over to this relay.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Room for `n` events, reserved before the commit so a handover never waits. None when
    /// the relay is that far behind: the events are then written as orphans.
    pub fn reserve(&self, n: usize) -> Option<mpsc::PermitIterator<'_, Handoff>> {
        if n == 0 {
            return None;
        }
        self.own.try_reserve_many(n).ok()
    }

    /// Hands one event over without a reservation (a batch settled late): its
    /// acknowledgement, or None when the relay has no room.
    pub fn hand_over(&self, event: OutboxEvent) -> Option<oneshot::Receiver<PublishState>> {
        let (tx, rx) = oneshot::channel();
        let handoff = Handoff {
            event,
            ack: Some(tx),
            at: None,
            committed: None,
        };
        self.own.try_send(handoff).ok().map(|()| rx)
    }

    /// Tells the relay that orphans are waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// An orphan of `product_id` waits for an older event of the product: wakes the relay
    /// when this process publishes one of the product's events, and now.
    pub fn wake_after(&self, product_id: i64) {
        self.blocked.add(product_id);
        self.wake.notify_one();
    }

    /// Take before reading products from the database, then `overlay` each.
    pub fn acked(&self) -> AckedSnapshot {
        self.unmarked.snapshot()
    }

    /// Acknowledgements of every event this process publishes, for status displays.
    pub fn subscribe(&self) -> broadcast::Receiver<PublishedAck> {
        self.acks.subscribe()
    }
}

/// Owned by the service: stops the relay at shutdown.
pub struct RelayHandle {
    pub(super) link: RelayLink,
    pub(super) stop: watch::Sender<bool>,
    pub(super) task: Option<JoinHandle<()>>,
}

impl RelayHandle {
    pub fn link(&self) -> RelayLink {
        self.link.clone()
    }

    /// Stops the relay after its current batch, flushes the producer and gives the events it
    /// still holds back to the outbox.
    pub async fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        self.link.wake();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
