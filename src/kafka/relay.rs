//! The outbox relay: publishes with the idempotent producer the events its own process
//! committed (handed over in memory, held under a lease it renews), and events orphaned by
//! other processes of the same destination. Each event is marked only on the broker's
//! acknowledgement, a whole batch per statement; a failed mark is retried, never republished.
//! Broker down means wait and retry: the events stay in the database meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use rdkafka::producer::{FutureRecord, Producer as _};
use rdkafka::util::Timeout;
use tokio::sync::mpsc;
use tokio::sync::{Notify, broadcast, oneshot, watch};
use tokio::task::JoinHandle;

use super::producer::{MESSAGE_TIMEOUT, Producer, ensure_topic, producer as new_producer};
use super::{KafkaConfig, SharedHealth};
use crate::domain::PublishState;
use crate::store::{OutboxEvent, PublishedAck, Store};

const BATCH: usize = 500;
/// Events handed over but not yet taken; past it, writers leave events as orphans.
const HANDOFF_CAPACITY: usize = 8192;
const IDLE_CHECK: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Failed batches in a row after which the producer is replaced.
const RENEW_AFTER: u32 = 3;

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
    /// Set when this process owns the destination's embedded broker: renewed with the leases.
    pub broker_owner: bool,
}

impl RelayOptions {
    pub fn new(destination: &str) -> RelayOptions {
        RelayOptions {
            id: format!("{}-{:08x}", std::process::id(), rand::random::<u32>()),
            destination: destination.to_string(),
            lease: Duration::from_secs(30),
            replay: 0,
            broker_owner: false,
        }
    }
}

/// An event this process committed, with whoever waits for its acknowledgement.
pub struct Handoff {
    pub event: OutboxEvent,
    pub ack: Option<oneshot::Sender<PublishState>>,
}

/// What writers and observers use: hand events over, wake the relay, watch acknowledgements.
#[derive(Clone)]
pub struct RelayLink {
    id: Arc<str>,
    lease: Duration,
    wake: Arc<Notify>,
    own: mpsc::Sender<Handoff>,
    acks: broadcast::Sender<PublishedAck>,
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

    /// Tells the relay that orphans are waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Acknowledgements of every event this process publishes, for status displays.
    pub fn subscribe(&self) -> broadcast::Receiver<PublishedAck> {
        self.acks.subscribe()
    }
}

/// Owned by the service: stops the relay at shutdown.
pub struct RelayHandle {
    link: RelayLink,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
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

    /// Ends the relay as a crash would: nothing released, nothing flushed. For tests.
    pub fn abort(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub struct Relay {
    store: Store,
    cfg: KafkaConfig,
    health: SharedHealth,
    opts: RelayOptions,
    wake: Arc<Notify>,
    own: mpsc::Receiver<Handoff>,
    acks: broadcast::Sender<PublishedAck>,
    stop: watch::Receiver<bool>,
    /// Own or claimed events whose publish failed: sent first next time (at most BATCH).
    held: Vec<Handoff>,
    /// Acknowledged but not yet recorded: marked again, never published again.
    unmarked: Vec<PublishedAck>,
}

impl Relay {
    pub fn spawn(
        store: Store,
        cfg: KafkaConfig,
        health: SharedHealth,
        opts: RelayOptions,
    ) -> RelayHandle {
        let wake = Arc::new(Notify::new());
        let (acks, _) = broadcast::channel(4096);
        let (own_tx, own) = mpsc::channel(HANDOFF_CAPACITY);
        let (stop_tx, stop) = watch::channel(false);
        let link = RelayLink {
            id: opts.id.as_str().into(),
            lease: opts.lease,
            wake: wake.clone(),
            own: own_tx,
            acks: acks.clone(),
        };
        let relay = Relay {
            store,
            cfg,
            health,
            opts,
            wake,
            own,
            acks,
            stop,
            held: Vec::new(),
            unmarked: Vec::new(),
        };
        let task = tokio::spawn(relay.run());
        RelayHandle {
            link,
            stop: stop_tx,
            task: Some(task),
        }
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    async fn run(mut self) {
        let mut producer = match new_producer(&self.cfg, self.health.clone()) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot create the kafka producer; relay not started");
                return;
            }
        };
        let mut topic_ready = false;
        let mut replayed = self.opts.replay == 0;
        let mut backoff = Duration::from_millis(100);
        let mut failures = 0u32;
        let mut renewed = Instant::now();
        let mut orphans_checked: Option<Instant> = None;
        while !self.stopping() {
            if renewed.elapsed() >= self.opts.lease / 3 {
                self.renew().await;
                renewed = Instant::now();
            }
            if !self.mark_pending().await {
                backoff = self.pause(backoff).await;
                continue;
            }
            if !topic_ready {
                match ensure_topic(&self.cfg).await {
                    Ok(()) => {
                        topic_ready = true;
                        self.health.set_up();
                    }
                    Err(e) => {
                        self.health.set_down(&e.to_string());
                        backoff = self.pause(backoff).await;
                        continue;
                    }
                }
            }
            if !replayed {
                replayed = self.replay(&producer).await;
                continue;
            }
            let mut batch = std::mem::take(&mut self.held);
            while batch.len() < BATCH {
                match self.own.try_recv() {
                    Ok(h) => batch.push(h),
                    Err(_) => break,
                }
            }
            if batch.len() < BATCH && orphans_checked.is_none_or(|t| t.elapsed() >= IDLE_CHECK) {
                let want = BATCH - batch.len();
                match self.claim(want).await {
                    Ok(found) => {
                        // A full claim means more may wait: look again next turn.
                        orphans_checked = (found.len() < want).then(Instant::now);
                        batch.extend(found);
                    }
                    Err(()) => orphans_checked = Some(Instant::now()),
                }
            }
            if batch.is_empty() {
                if self.idle(&producer).await {
                    orphans_checked = None;
                }
                continue;
            }
            if self.publish(&producer, batch).await {
                backoff = Duration::from_millis(100);
                failures = 0;
                continue;
            }
            failures += 1;
            let fatal = producer.client().fatal_error();
            // A fatal error ends an idempotent producer; so, in practice, does a broker that lost
            // its producer state (it answers UnknownProducerId until the messages time out). A
            // new producer gets a new producer id; nothing is in flight here.
            if fatal.is_some() || failures >= RENEW_AFTER {
                tracing::warn!(?fatal, failures, "creating a new kafka producer");
                if let Ok(p) = new_producer(&self.cfg, self.health.clone()) {
                    let old = std::mem::replace(&mut producer, p);
                    tokio::task::spawn_blocking(move || drop(old));
                    failures = 0;
                }
            }
            // A broker that came back empty (new storage, deleted topic) needs the topic again.
            topic_ready = false;
            backoff = self.pause(backoff).await;
        }
        let _ = tokio::task::spawn_blocking(move || {
            producer.flush(Timeout::After(Duration::from_secs(5)))
        })
        .await;
        self.release().await;
    }

    /// Orphans of this destination, claimed for this relay.
    async fn claim(&self, limit: usize) -> Result<Vec<Handoff>, ()> {
        let found = self
            .store
            .claim_orphans(
                &self.opts.id,
                &self.opts.destination,
                self.opts.lease,
                limit as i64,
            )
            .await
            .map_err(|e| tracing::warn!(error = %e, "relay cannot claim events"))?;
        if !found.is_empty() {
            tracing::debug!(count = found.len(), "claimed orphaned events");
        }
        Ok(found
            .into_iter()
            .map(|event| Handoff { event, ack: None })
            .collect())
    }

    /// Extends this relay's leases (and its broker ownership) while it is alive.
    async fn renew(&self) {
        if let Err(e) = self
            .store
            .renew_leases(&self.opts.id, self.opts.lease)
            .await
        {
            tracing::warn!(error = %e, "cannot renew event leases");
        }
        if self.opts.broker_owner {
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
    }

    /// Records acknowledgements whose mark failed before; false while it still fails.
    async fn mark_pending(&mut self) -> bool {
        if self.unmarked.is_empty() {
            return true;
        }
        match self
            .store
            .mark_published(&self.opts.id, &self.unmarked)
            .await
        {
            Ok(_) => {
                self.unmarked.clear();
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot mark events published; retrying");
                false
            }
        }
    }

    /// Sends the batch with every message in flight (ordered by event id: a product's events
    /// share a key, so a partition, and the idempotent producer keeps their order), then
    /// records the outcome. False when any event failed; those are kept for the next attempt.
    async fn publish(&mut self, producer: &Producer, mut batch: Vec<Handoff>) -> bool {
        batch.sort_by_key(|h| h.event.id);
        let sends = batch.iter().map(|h| {
            let record = FutureRecord::to(&self.cfg.topic)
                .key(&h.event.msg_key)
                .payload(&h.event.payload);
            producer.send(record, Timeout::After(MESSAGE_TIMEOUT))
        });
        let results = join_all(sends).await;
        let mut acked = Vec::new();
        let mut failed = Vec::new();
        let mut error = String::new();
        for (h, r) in batch.into_iter().zip(results) {
            match r {
                Ok(d) => acked.push((h, d.partition, d.offset)),
                Err((err, _)) => {
                    error = err.to_string();
                    failed.push(h);
                }
            }
        }
        if !acked.is_empty() {
            self.health.set_up();
            self.record(acked).await;
        }
        if failed.is_empty() {
            return true;
        }
        self.health.set_down(&error);
        tracing::warn!(
            failed = failed.len(),
            error,
            "publish failed; events stay pending"
        );
        let ids: Vec<i64> = failed.iter().map(|h| h.event.id).collect();
        if let Err(e) = self.store.note_failure(&self.opts.id, &ids, &error).await {
            tracing::warn!(error = %e, "cannot note the failed attempt");
        }
        self.held = failed;
        false
    }

    /// Marks a batch in one statement (kept for a retry if that fails), then tells each waiter.
    async fn record(&mut self, acked: Vec<(Handoff, i32, i64)>) {
        let acks: Vec<PublishedAck> = acked
            .iter()
            .map(|(h, partition, offset)| PublishedAck {
                outbox_id: h.event.id,
                product_id: h.event.product_id,
                partition: *partition,
                offset: *offset,
            })
            .collect();
        match self.store.mark_published(&self.opts.id, &acks).await {
            Ok(n) if n < acks.len() as u64 => tracing::warn!(
                marked = n,
                acked = acks.len(),
                "some events were taken over by another relay before their mark"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot mark events published; will retry");
                self.unmarked.extend_from_slice(&acks);
            }
        }
        self.health.count_published(acks.len());
        for ((h, partition, offset), ack) in acked.into_iter().zip(acks) {
            if let Some(tx) = h.ack {
                let _ = tx.send(PublishState::Published { partition, offset });
            }
            let _ = self.acks.send(ack);
        }
    }

    /// Re-sends the newest published events into a fresh (embedded) broker and records their
    /// new offsets. True when done, or when there is nothing to replay.
    async fn replay(&self, producer: &Producer) -> bool {
        let events = match self
            .store
            .recent_published(&self.opts.destination, self.opts.replay as i64)
            .await
        {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read events to replay");
                return false;
            }
        };
        if !events.is_empty() {
            tracing::info!(
                count = events.len(),
                "replaying recent events into the embedded broker"
            );
        }
        for chunk in events.chunks(BATCH) {
            let sends = chunk.iter().map(|e| {
                let record = FutureRecord::to(&self.cfg.topic)
                    .key(&e.msg_key)
                    .payload(&e.payload);
                producer.send(record, Timeout::After(MESSAGE_TIMEOUT))
            });
            let acks: Vec<_> = chunk
                .iter()
                .zip(join_all(sends).await)
                .filter_map(|(e, r)| {
                    r.ok().map(|d| PublishedAck {
                        outbox_id: e.id,
                        product_id: e.product_id,
                        partition: d.partition,
                        offset: d.offset,
                    })
                })
                .collect();
            if let Err(e) = self.store.record_replayed(&acks).await {
                tracing::warn!(error = %e, "cannot record replayed offsets");
            }
        }
        true
    }

    /// Waits for a handover, a wake-up (orphans), or the periodic check. True when woken for
    /// orphans.
    async fn idle(&mut self, producer: &Producer) -> bool {
        if !self.health.is_up() {
            let p = producer.clone();
            let probe = tokio::task::spawn_blocking(move || {
                p.client().fetch_metadata(None, Duration::from_secs(1))
            });
            if let Ok(Ok(_)) = probe.await {
                self.health.set_up();
            }
        }
        let wait = IDLE_CHECK.min(self.opts.lease / 3);
        tokio::select! {
            h = self.own.recv() => {
                if let Some(h) = h {
                    self.held.push(h);
                }
                false
            }
            _ = self.wake.notified() => true,
            _ = tokio::time::sleep(wait) => true,
            _ = self.stop.changed() => false,
        }
    }

    /// At shutdown: records what was acknowledged, then lets other relays take the rest at
    /// once instead of after the lease.
    async fn release(&mut self) {
        self.own.close();
        while let Ok(_h) = self.own.try_recv() {}
        if !self.mark_pending().await {
            return; // released now, acknowledged events would be published again
        }
        match self.store.release_held(&self.opts.id).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "released unpublished events"),
            Err(e) => tracing::warn!(error = %e, "cannot release events; their lease will expire"),
        }
    }

    async fn pause(&mut self, backoff: Duration) -> Duration {
        let jitter = Duration::from_millis(rand::random::<u64>() % 100);
        tokio::select! {
            _ = tokio::time::sleep(backoff + jitter) => {}
            _ = self.stop.changed() => {}
        }
        (backoff * 2).min(MAX_BACKOFF)
    }
}
