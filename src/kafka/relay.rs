//! The outbox relay: publishes with the idempotent producer the events its own process
//! committed (handed over in memory, held under a lease it renews), and events orphaned by
//! other processes of the same destination. Events stream out as they arrive, with many in
//! flight; the marker records each acknowledgement (a batch per statement) off this path.
//! Broker down means wait and retry: the events stay in the database meanwhile.

mod failures;
mod lease;
mod lookup;
mod orphans;

use lease::renew_due;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rdkafka::producer::Producer as _;
use rdkafka::util::Timeout;
use tokio::sync::mpsc;
use tokio::sync::{Notify, broadcast, watch};
use tokio::time::MissedTickBehavior;

use crate::domain::PublishState;
use crate::stages::{self, Stage};

use super::handoff::{Blocked, Handoff, RelayHandle, RelayLink, RelayOptions, Target, Unmarked};
use super::known::Known;
use super::marker::{self, Acked};
use super::producer::{MESSAGE_TIMEOUT, Producer, ensure_topic, producer as new_producer, record};
use super::refused::{REFUSED, Refused, is_permanent};
use super::replay;
use super::send_span::SendSpan;
use super::{KafkaConfig, SharedHealth};
use crate::store::{PublishedAck, Store};

/// Events taken from the handover queue or claimed at a time.
const BATCH: usize = 500;
/// Messages waiting for the broker's acknowledgement at most.
const MAX_IN_FLIGHT: usize = 5000;
/// Events handed over but not yet taken; past it, writers leave events as orphans.
const HANDOFF_CAPACITY: usize = 8192;
const IDLE_CHECK: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Failed rounds in a row after which the producer is replaced.
const RENEW_AFTER: u32 = 3;

/// One message on its way; `Sync` so the relay can be borrowed across awaits.
type Sending =
    std::pin::Pin<Box<dyn Future<Output = (Handoff, Result<(i32, i64), Failure>)> + Send + Sync>>;

/// Why a send failed, and whether sending it again can help (`refused`).
struct Failure {
    permanent: bool,
    text: String,
}

impl Failure {
    fn of(e: &rdkafka::error::KafkaError) -> Failure {
        Failure {
            permanent: is_permanent(e),
            text: e.to_string(),
        }
    }
}

pub struct Relay {
    blocked: Arc<Blocked>,
    unmarked: Arc<Unmarked>,
    store: Store,
    cfg: KafkaConfig,
    health: SharedHealth,
    opts: RelayOptions,
    wake: Arc<Notify>,
    own: mpsc::Receiver<Handoff>,
    acks: broadcast::Sender<PublishedAck>,
    stop: watch::Receiver<bool>,
    target: watch::Receiver<Target>,
    /// Set when a wait saw `target` change (which marks it seen).
    moved: bool,
    in_flight: FuturesUnordered<Sending>,
    /// Sends that failed: sent again, in event order, once nothing is in flight.
    failed: Vec<Handoff>,
    error: String,
    /// Until when (this process's clock, from the start of the last renewal that answered)
    /// every lease of this relay certainly holds.
    held_until: Instant,
    known: Known,
    refused: Refused,
    /// Refused for good since the last note in the database: (event id, reason).
    newly_refused: Vec<(i64, String)>,
    /// Taken from the queue by a sweep while not sending; sent first.
    backlog: Vec<Handoff>,
}

impl Relay {
    pub fn spawn(
        store: Store,
        cfg: KafkaConfig,
        health: SharedHealth,
        opts: RelayOptions,
        target: watch::Receiver<Target>,
    ) -> RelayHandle {
        let wake = Arc::new(Notify::new());
        let blocked = Arc::new(Blocked::new(wake.clone()));
        let (acks, _) = broadcast::channel(4096);
        let (own_tx, own) = mpsc::channel(HANDOFF_CAPACITY);
        let (stop_tx, stop) = watch::channel(false);
        let opts_lease = opts.lease;
        let unmarked = Arc::new(Unmarked::default());
        let link = RelayLink {
            unmarked: unmarked.clone(),
            id: opts.id.as_str().into(),
            lease: opts.lease,
            wake: wake.clone(),
            blocked: blocked.clone(),
            own: own_tx,
            acks: acks.clone(),
        };
        let relay = Relay {
            blocked,
            unmarked,
            store,
            cfg,
            health,
            opts,
            wake,
            own,
            acks,
            stop,
            target,
            moved: false,
            in_flight: FuturesUnordered::new(),
            failed: Vec::new(),
            error: String::new(),
            // Nothing is held before the first commit, whose lease starts later.
            held_until: Instant::now() + opts_lease,
            known: Known::default(),
            refused: Refused::default(),
            newly_refused: Vec::new(),
            backlog: Vec::new(),
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
        let marker = marker::spawn(
            self.store.clone(),
            self.opts.id.as_str().into(),
            self.health.clone(),
            self.acks.clone(),
            self.blocked.clone(),
            self.unmarked.clone(),
        );
        let mut topic_ready = false;
        let mut replayed = self.opts.replay == 0;
        let mut backoff = Duration::from_millis(100);
        let mut failures = 0u32;
        let mut retry_due = false;
        let mut renew = tokio::time::interval(self.opts.lease / 3);
        renew.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut orphans = tokio::time::interval(IDLE_CHECK.min(self.opts.lease / 3));
        orphans.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            if std::mem::take(&mut self.moved) || self.target.has_changed().unwrap_or(false) {
                let target = self.target.borrow_and_update().clone();
                tracing::info!(bootstrap = %target.cfg.bootstrap, "publishing to a new broker address");
                self.cfg = target.cfg;
                self.opts.replay = target.replay;
                replayed = target.replay == 0;
                topic_ready = false;
                failures = 0;
                self.health.set_down("the broker moved");
                if let Ok(p) = new_producer(&self.cfg, self.health.clone()) {
                    // Its messages in flight fail (purged) and are sent again on the new one.
                    let old = std::mem::replace(&mut producer, p);
                    tokio::task::spawn_blocking(move || drop(old));
                }
                retry_due = true;
            }
            if !self.newly_refused.is_empty() {
                self.note_refused().await;
            }
            let idle = self.in_flight.is_empty();
            if self.stopping() && idle {
                break;
            }
            if idle && !self.stopping() {
                if !self.failed.is_empty() && !retry_due {
                    // Leases must outlive a broker outage: renewed here too, not only from
                    // the select below, which failure rounds do not reach.
                    if renew_due(&mut renew) {
                        let _ = self.renew().await;
                        self.sweep().await;
                    }
                    failures += 1;
                    self.note_failure().await;
                    let fatal = producer.client().fatal_error();
                    // A fatal error ends an idempotent producer; so, in practice, does a broker
                    // that lost its producer state (UnknownProducerId until the messages time
                    // out). A new producer gets a new producer id; nothing is in flight now.
                    if fatal.is_some() || failures >= RENEW_AFTER {
                        tracing::warn!(?fatal, failures, "creating a new kafka producer");
                        if let Ok(p) = new_producer(&self.cfg, self.health.clone()) {
                            let old = std::mem::replace(&mut producer, p);
                            tokio::task::spawn_blocking(move || drop(old));
                            failures = 0;
                        }
                    }
                    // A broker that came back empty (new storage) needs the topic again.
                    topic_ready = false;
                    retry_due = true;
                    backoff = self.pause(backoff).await;
                    continue;
                }
                if !topic_ready {
                    match ensure_topic(&self.cfg).await {
                        Ok(()) => {
                            topic_ready = true;
                            self.health.set_up();
                            super::cluster::identify(
                                &self.store,
                                &self.cfg,
                                &self.opts.destination,
                            )
                            .await;
                            self.wake.notify_one(); // events of another spelling may be claimable
                        }
                        Err(e) => {
                            self.health.set_down_summary(&e.to_string());
                            backoff = self.pause(backoff).await;
                            continue;
                        }
                    }
                }
                if !replayed {
                    replayed = replay::run(&self.store, &producer, &self.cfg, &self.opts).await;
                    continue;
                }
                if retry_due {
                    retry_due = false;
                    let again = std::mem::take(&mut self.failed);
                    if let Some(held) = self.still_held(again).await {
                        // A failed send may have reached the broker (a timeout after it
                        // stored the record): looked for before it is sent again.
                        let held = held
                            .into_iter()
                            .map(|mut h| {
                                h.event.uncertain = true;
                                h
                            })
                            .collect();
                        let (on_topic, send) = self.found_on_topic(held).await;
                        if !on_topic.is_empty() {
                            let _ = marker.tx.send(on_topic);
                        }
                        self.send_all(&producer, send);
                    }
                }
            }
            let accepting = !self.stopping()
                && self.failed.is_empty()
                && topic_ready
                && replayed
                && self.in_flight.len() < MAX_IN_FLIGHT;
            if accepting && !self.backlog.is_empty() {
                let batch = std::mem::take(&mut self.backlog);
                self.send_held(&producer, batch).await;
                continue;
            }
            tokio::select! {
                biased;
                Some(first) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    let mut acked = Vec::new();
                    self.settle(first, &mut acked);
                    while let Some(Some(done)) = self.in_flight.next().now_or_never() {
                        self.settle(done, &mut acked);
                    }
                    if !acked.is_empty() {
                        self.health.set_up();
                        backoff = Duration::from_millis(100);
                        failures = 0;
                        let _ = marker.tx.send(acked);
                    }
                }
                _ = renew.tick() => {
                    let _ = self.renew().await;
                    self.sweep().await;
                }
                Some(first) = self.own.recv(), if accepting => {
                    let mut batch = vec![first];
                    while batch.len() < BATCH {
                        match self.own.try_recv() {
                            Ok(h) => batch.push(h),
                            Err(_) => break,
                        }
                    }
                    let now = Instant::now();
                    for h in &mut batch {
                        if let Some(at) = h.at.replace(now) {
                            stages::record(Stage::Handoff, at);
                        }
                    }
                    self.send_held(&producer, batch).await;
                }
                _ = self.wake.notified(), if accepting => {
                    let on_topic = self.take_orphans(&producer).await;
                    if !on_topic.is_empty() {
                        let _ = marker.tx.send(on_topic);
                    }
                }
                _ = orphans.tick(), if accepting => {
                    self.probe(&producer).await;
                    self.retry_refused(&producer).await;
                    let on_topic = self.take_orphans(&producer).await;
                    if !on_topic.is_empty() {
                        let _ = marker.tx.send(on_topic);
                    }
                }
                _ = self.stop.changed() => {}
                Ok(()) = self.target.changed() => self.moved = true,
            }
        }
        drop(marker.tx);
        let all_marked = marker.task.await.unwrap_or(false);
        let _ = tokio::task::spawn_blocking(move || {
            producer.flush(Timeout::After(Duration::from_secs(5)))
        })
        .await;
        self.release(all_marked).await;
    }

    /// Puts every event in flight, in event order: a product's events share a key, so a
    /// partition, and the idempotent producer keeps their order.
    fn send_all(&mut self, producer: &Producer, mut batch: Vec<Handoff>) {
        batch.sort_by_key(|h| h.event.id);
        for mut h in batch {
            self.known.take(h.event.id);
            // The send's own span continues the request's trace in the record's header.
            let span = SendSpan::of(&h.event, &self.cfg.topic);
            let header = span.as_ref().map(SendSpan::header);
            match producer.send_result(record(&self.cfg.topic, &h.event, header.as_deref())) {
                Ok(delivery) => self.in_flight.push(Box::pin(async move {
                    let sent = Instant::now();
                    if let Some(at) = h.at.replace(sent) {
                        stages::record(Stage::Send, at);
                    }
                    let result = match delivery.await {
                        Ok(Ok(d)) => Ok((d.partition, d.offset)),
                        Ok(Err((e, _))) => Err(Failure::of(&e)),
                        Err(_) => Err(Failure {
                            permanent: false,
                            text: "the producer dropped the message".into(),
                        }),
                    };
                    if let Some(at) = h.at.replace(Instant::now()) {
                        stages::record(Stage::Ack, at);
                    }
                    if let Some(span) = span {
                        let landed = result.as_ref().map(|p| *p).map_err(|f| f.text.as_str());
                        span.finish(&h.event, landed);
                    }
                    (h, result)
                })),
                Err((e, _)) => self.failed_one(h, Failure::of(&e)),
            }
        }
    }

    fn settle(&mut self, done: (Handoff, Result<(i32, i64), Failure>), acked: &mut Vec<Acked>) {
        match done {
            (mut handoff, Ok((partition, offset))) => {
                // The broker has it: its caller hears so now, and the mark follows off the
                // caller's path (it only keeps the event from being sent again).
                self.unmarked.acked(&handoff.event, partition, offset);
                if let Some(at) = handoff.committed {
                    stages::commit_to_ack().observe(at.elapsed().as_secs_f64());
                }
                if let Some(tx) = handoff.ack.take() {
                    let _ = tx.send(PublishState::Published { partition, offset });
                }
                acked.push(Acked {
                    handoff,
                    partition,
                    offset,
                })
            }
            (h, Err(f)) => self.failed_one(h, f),
        }
    }

    async fn pause(&mut self, backoff: Duration) -> Duration {
        let jitter = Duration::from_millis(rand::random::<u64>() % 100);
        tokio::select! {
            _ = tokio::time::sleep(backoff + jitter) => {}
            _ = self.stop.changed() => {}
            Ok(()) = self.target.changed() => self.moved = true,
        }
        (backoff * 2).min(MAX_BACKOFF)
    }
}
