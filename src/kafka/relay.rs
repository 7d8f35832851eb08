//! The outbox relay: claims committed events, publishes them with the idempotent producer and
//! marks each one only when the broker acknowledged it. Broker down means wait and retry; the
//! events stay in the database meanwhile, so nothing is lost and nothing blocks registrations.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::join_all;
use rdkafka::producer::{FutureRecord, Producer as _};
use rdkafka::util::Timeout;
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

use super::producer::{MESSAGE_TIMEOUT, Producer, ensure_topic, producer};
use super::{KafkaConfig, SharedHealth};
use crate::store::{OutboxEvent, PublishedAck, Store};

const BATCH: i64 = 500;
/// A claim outlives any publish attempt (MESSAGE_TIMEOUT) by far, so two relays never hold
/// the same event at once; it only expires when its relay died.
const LEASE: Duration = Duration::from_secs(60);
const IDLE_CHECK: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Failed batches in a row after which the producer is replaced.
const RENEW_AFTER: u32 = 3;

pub struct Relay {
    store: Store,
    cfg: KafkaConfig,
    health: SharedHealth,
    id: String,
    wake: Arc<Notify>,
    acks: broadcast::Sender<PublishedAck>,
    stop: watch::Receiver<bool>,
}

/// Wakes the relay after a commit and tells who listens which events were acknowledged.
#[derive(Clone)]
pub struct RelayLink {
    wake: Arc<Notify>,
    acks: broadcast::Sender<PublishedAck>,
}

impl RelayLink {
    pub fn wake(&self) {
        self.wake.notify_one();
    }

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

    /// Stops the relay after its current batch and flushes the producer.
    pub async fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        self.link.wake();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Relay {
    /// Starts the relay on the runtime. With `replay`, the newest published events are sent
    /// again first: a fresh embedded broker starts empty.
    pub fn spawn(
        store: Store,
        cfg: KafkaConfig,
        health: SharedHealth,
        replay: usize,
    ) -> RelayHandle {
        let wake = Arc::new(Notify::new());
        let (acks, _) = broadcast::channel(4096);
        let (stop_tx, stop) = watch::channel(false);
        let id = format!("{}-{}", std::process::id(), rand::random::<u32>());
        let relay = Relay {
            store,
            cfg,
            health,
            id,
            wake: wake.clone(),
            acks: acks.clone(),
            stop,
        };
        let task = tokio::spawn(relay.run(replay));
        RelayHandle {
            link: RelayLink { wake, acks },
            stop: stop_tx,
            task: Some(task),
        }
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    async fn run(mut self, replay: usize) {
        let mut producer = match producer(&self.cfg, self.health.clone()) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot create the kafka producer; relay not started");
                return;
            }
        };
        let mut topic_ready = false;
        let mut replayed = replay == 0;
        let mut backoff = Duration::from_millis(100);
        let mut failures = 0u32;
        while !self.stopping() {
            if !topic_ready {
                match ensure_topic(&self.cfg).await {
                    Ok(()) => topic_ready = true,
                    Err(e) => {
                        self.health.set_down(&e.to_string());
                        backoff = self.pause(backoff).await;
                        continue;
                    }
                }
            }
            if !replayed {
                replayed = self.replay(&producer, replay).await;
                continue;
            }
            let until = Utc::now() + LEASE;
            let batch = match self.store.claim_events(&self.id, until, BATCH).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "relay cannot claim events");
                    backoff = self.pause(backoff).await;
                    continue;
                }
            };
            if batch.is_empty() {
                self.idle(&producer).await;
                continue;
            }
            if self.publish(&producer, &batch).await {
                backoff = Duration::from_millis(100);
                failures = 0;
            } else {
                failures += 1;
                let fatal = producer.client().fatal_error();
                // A fatal error ends an idempotent producer; so, in practice, does a broker that
                // lost its producer state (it answers UnknownProducerId until the messages time
                // out). A new producer gets a new producer id; nothing is in flight here.
                if fatal.is_some() || failures >= RENEW_AFTER {
                    tracing::warn!(?fatal, failures, "creating a new kafka producer");
                    if let Ok(p) = super::producer(&self.cfg, self.health.clone()) {
                        let old = std::mem::replace(&mut producer, p);
                        tokio::task::spawn_blocking(move || drop(old));
                        failures = 0;
                    }
                }
                // A broker that came back empty (new storage, deleted topic) needs the topic
                // again, and brokers that do not auto-create topics will not make it for us.
                topic_ready = false;
                backoff = self.pause(backoff).await;
            }
        }
        let _ = tokio::task::spawn_blocking(move || {
            producer.flush(Timeout::After(Duration::from_secs(5)))
        })
        .await;
    }

    /// Sends the batch with every message in flight, then records the outcome.
    /// Returns false when any event failed (they were released for a later attempt).
    async fn publish(&self, producer: &Producer, batch: &[OutboxEvent]) -> bool {
        let sends = batch.iter().map(|e| {
            let record = FutureRecord::to(&self.cfg.topic)
                .key(&e.msg_key)
                .payload(&e.payload);
            producer.send(record, Timeout::After(MESSAGE_TIMEOUT))
        });
        let results = join_all(sends).await;
        let mut acks = Vec::new();
        let mut failed = Vec::new();
        let mut error = String::new();
        for (e, r) in batch.iter().zip(results) {
            match r {
                Ok(d) => acks.push(PublishedAck {
                    outbox_id: e.id,
                    product_id: e.product_id,
                    partition: d.partition,
                    offset: d.offset,
                }),
                Err((err, _)) => {
                    error = err.to_string();
                    failed.push(e.id);
                }
            }
        }
        if !acks.is_empty() {
            self.health.set_up();
            self.record(&acks).await;
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
        if let Err(e) = self.store.release_events(&self.id, &failed, &error).await {
            tracing::warn!(error = %e, "cannot release events; their lease will expire");
        }
        false
    }

    /// Marks acknowledged events, retrying a little: an event acked but never marked would be
    /// published again once its lease ran out.
    async fn record(&self, acks: &[PublishedAck]) {
        let mut wait = Duration::from_millis(50);
        for attempt in 1..=6 {
            match self.store.mark_published(acks).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "cannot mark events published");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
        self.health.count_published(acks.len());
        for a in acks {
            let _ = self.acks.send(*a);
        }
    }

    /// Re-sends the newest published events into a fresh (embedded) broker and records
    /// their new offsets. True when done, or when there is nothing to replay.
    async fn replay(&self, producer: &Producer, limit: usize) -> bool {
        let events = match self.store.recent_published(limit as i64).await {
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
        for chunk in events.chunks(BATCH as usize) {
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
            if let Err(e) = self.store.mark_published(&acks).await {
                tracing::warn!(error = %e, "cannot record replayed offsets");
            }
        }
        true
    }

    /// Waits for a wake-up after a commit, or checks now and then for events committed by
    /// other processes and for leases that expired.
    async fn idle(&mut self, producer: &Producer) {
        if !self.health.is_up() {
            let p = producer.clone();
            let probe = tokio::task::spawn_blocking(move || {
                p.client().fetch_metadata(None, Duration::from_secs(1))
            });
            if let Ok(Ok(_)) = probe.await {
                self.health.set_up();
            }
        }
        tokio::select! {
            _ = self.wake.notified() => {}
            _ = tokio::time::sleep(IDLE_CHECK) => {}
            _ = self.stop.changed() => {}
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
