//! Group commit: every registration joins a bounded queue; a writer takes whatever is queued
//! (up to MAX_BATCH) into one transaction, so concurrent callers share a commit. A lone
//! request commits at once: nothing waits on a timer.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::domain::{PublishState, TraceParent};
use crate::kafka::{Handoff, RelayLink};
use crate::stages::{self, Stage};
use crate::store::{Creation, EventRoute, SavedProduct, Store, StoreError};

/// Registrations waiting for a writer; past it, callers wait to enqueue (backpressure).
const QUEUE: usize = 4096;
const MAX_BATCH: usize = 256;
/// Full batches committing at once at most (PostgreSQL only: SQLite has one writer).
const OVERLAP: usize = 2;
/// How long a batch may wait for callers arriving together (only under concurrency).
/// Measured with scripts/bench_write.py: two processes 0.76x of one without it, 0.83x with
/// 500 µs; one process unchanged within noise.
const GATHER: Duration = Duration::from_micros(500);

/// A committed product, and the acknowledgement of its own event when the relay has it.
pub struct Written {
    pub saved: SavedProduct,
    pub ack: Option<oneshot::Receiver<PublishState>>,
}

struct Job {
    item: Creation,
    reply: oneshot::Sender<Result<Written, StoreError>>,
    queued: Instant,
}

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer. One is enough and does best: while it commits, the next batch
    /// gathers, and bigger batches cost the database less per product. Measured with
    /// scripts/bench_write.py at 32 connections: 1 writer 6,046 req/s, 2 writers 5,554,
    /// 4 writers 4,637, 8 writers 4,180 (PostgreSQL, see BENCHMARKS.md).
    /// Idempotency-Keys older than `key_ttl` are deleted with the batch tokens.
    pub fn spawn(store: Store, link: RelayLink, destination: String, key_ttl: Duration) -> Writer {
        let (tx, mut rx) = mpsc::channel(QUEUE);
        tokio::spawn(async move {
            let mut last = 1;
            let mut swept = tokio::time::Instant::now();
            let overlap = matches!(store, Store::Postgres(_));
            let mut running = futures::stream::FuturesUnordered::new();
            while let Some(mut jobs) = next_batch(&mut rx, last).await {
                last = jobs.len();
                if overlap && jobs.len() == MAX_BATCH && reserve(&store, &mut jobs).await {
                    // Saturated (an import, a flood): a full batch commits beside the ones
                    // before it, so PostgreSQL works on more than one core. Its ids were drawn
                    // before the next batch's: ids still follow the queue.
                    while running.len() >= OVERLAP {
                        running.next().await;
                    }
                    let (store, link, destination) =
                        (store.clone(), link.clone(), destination.clone());
                    running.push(tokio::spawn(async move {
                        write_batch(&store, &link, &destination, jobs).await;
                    }));
                } else {
                    while running.next().await.is_some() {}
                    write_batch(&store, &link, &destination, jobs).await;
                }
                if swept.elapsed() >= SWEEP_EVERY {
                    swept = tokio::time::Instant::now();
                    forget_tokens(&store, key_ttl);
                }
            }
            // The writer's task ends with its last batch written, as it did before overlap.
            while running.next().await.is_some() {}
        });
        Writer { tx }
    }

    /// Commits one product with its event; its result comes back whatever else shared the
    /// transaction.
    pub async fn write(&self, item: Creation) -> Result<Written, StoreError> {
        self.enqueue(item).await?.await
    }

    /// Queues one product (waiting while the queue is full) and returns its result to come:
    /// products queued one after the other get ids in that order.
    pub async fn enqueue(
        &self,
        item: Creation,
    ) -> Result<impl Future<Output = Result<Written, StoreError>> + use<>, StoreError> {
        let (reply, rx) = oneshot::channel();
        let closed = || StoreError::unavailable("the writer has stopped");
        self.tx
            .send(Job {
                item,
                reply,
                queued: Instant::now(),
            })
            .await
            .map_err(|_| closed())?;
        Ok(async move { rx.await.map_err(|_| closed())? })
    }
}

/// Gives each job of a batch its id in advance (in queue order); false when the database
/// could not, and the batch is then written on its own.
async fn reserve(store: &Store, jobs: &mut [Job]) -> bool {
    match store.reserve_ids(jobs.len()).await {
        Ok(ids) if ids.len() == jobs.len() => {
            for (job, id) in jobs.iter_mut().zip(ids) {
                job.item.id = Some(id);
            }
            true
        }
        _ => false,
    }
}

/// Waits for one job, then takes what else is queued, up to MAX_BATCH. When the last batch
/// was shared (callers are arriving together) and fewer are queued now, it gives the others up
/// to GATHER to arrive, like PostgreSQL's commit_delay: fewer, fuller transactions. A lone
/// request (last batch of one) never waits.
async fn next_batch(rx: &mut mpsc::Receiver<Job>, last: usize) -> Option<Vec<Job>> {
    let first = rx.recv().await?;
    let mut jobs = vec![first];
    drain(rx, &mut jobs);
    if last > 1 && jobs.len() < last {
        let until = tokio::time::Instant::now() + GATHER;
        while jobs.len() < last.min(MAX_BATCH) {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(j)) => {
                    jobs.push(j);
                    drain(rx, &mut jobs);
                }
                _ => break,
            }
        }
    }
    Some(jobs)
}

fn drain(rx: &mut mpsc::Receiver<Job>, jobs: &mut Vec<Job>) {
    while jobs.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(j) => jobs.push(j),
            Err(_) => break,
        }
    }
}

async fn write_batch(store: &Store, link: &RelayLink, destination: &str, jobs: Vec<Job>) {
    // Room in the relay is reserved first: events it cannot take now are written without a
    // holder (orphans), so any relay of the destination publishes them.
    let mut permits = link.reserve(jobs.len());
    let route = EventRoute {
        destination,
        holder: permits.as_ref().map(|_| link.id()),
        lease: link.lease(),
    };
    let held = route.holder.is_some();
    let at = now_micros();
    let started = Instant::now();
    let (items, replies): (Vec<_>, Vec<_>) = jobs
        .into_iter()
        .map(|j| {
            stages::record(Stage::Queue, j.queued);
            (j.item, j.reply)
        })
        .unzip();
    let results = store.insert_each(&items, at, &route).await;
    let committed = Instant::now();
    if crate::telemetry::enabled() {
        commit_spans(store, &items, &results, at);
    }
    let orphans = permits.is_none();
    let mut unsettled: Option<Unsettled> = None;
    for ((result, reply), item) in results.into_iter().zip(replies).zip(items) {
        if let Err(StoreError::Unsettled { token, .. }) = &result {
            let batch = unsettled.get_or_insert_with(|| Unsettled::new(*token, at, held));
            if batch.token != *token {
                // insert_each split the batch: each part settles on its own.
                std::mem::replace(batch, Unsettled::new(*token, at, held)).spawn(store, link);
            }
            batch.push(item, reply);
            continue;
        }
        let written = result.map(|saved| {
            stages::record(Stage::Commit, started);
            let ack = permits.as_mut().and_then(Iterator::next).map(|permit| {
                let (tx, rx) = oneshot::channel();
                permit.send(Handoff {
                    event: saved.event.clone(),
                    ack: Some(tx),
                    at: Some(committed),
                    committed: Some(committed),
                });
                rx
            });
            Written { saved, ack }
        });
        let _ = reply.send(written);
    }
    if let Some(batch) = unsettled {
        batch.spawn(store, link);
    }
    if orphans {
        link.wake();
    }
}

/// One `commit` span per traced product, child of its request's span: the batch's
/// transaction, with how many products shared it.
fn commit_spans(
    store: &Store,
    items: &[Creation],
    results: &[Result<SavedProduct, StoreError>],
    at: DateTime<Utc>,
) {
    use crate::telemetry::{Attr, Kind, SpanRecord};
    let end = std::time::SystemTime::now();
    let system = match store.backend() {
        "postgres" => "postgresql",
        other => other,
    };
    for (item, result) in items.iter().zip(results) {
        let Some(parent) = item.trace.as_deref().and_then(TraceParent::parse) else {
            continue;
        };
        let mut attributes = vec![
            Attr::new("db.system.name", system),
            Attr::new("db.operation.name", "COMMIT"),
            Attr::new("db.operation.batch.size", items.len() as i64),
        ];
        if let Ok(saved) = result {
            attributes.push(Attr::new("dataflow.product.id", saved.product.id));
        }
        crate::telemetry::record(SpanRecord {
            name: "commit".into(),
            kind: Kind::Internal,
            id: parent.child(),
            parent: Some(parent),
            start: at.into(),
            end,
            attributes,
            error: result.as_ref().err().map(|e| e.to_string()),
        });
    }
}

/// Batch tokens are kept an hour (settling takes at most SETTLE_PATIENCE), deleted once a
/// minute by a task of its own.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

fn forget_tokens(store: &Store, key_ttl: Duration) {
    let store = store.clone();
    tokio::spawn(async move {
        let before = Utc::now() - chrono::Duration::hours(1);
        if let Err(e) = store.forget_batches(before).await {
            tracing::warn!(error = %e, "could not delete old batch tokens");
        }
        let ttl = chrono::Duration::from_std(key_ttl).unwrap_or(chrono::Duration::hours(24));
        if let Err(e) = store.forget_idem(Utc::now() - ttl).await {
            tracing::warn!(error = %e, "could not delete expired idempotency keys");
        }
    });
}

/// How long a batch whose commit answer was lost waits for the database to answer again.
const SETTLE_PATIENCE: Duration = Duration::from_secs(30);

/// Products of a batch whose commit answer was lost: a task of their own asks the database
/// whether they were saved, and answers their callers, while the writer goes on.
struct Unsettled {
    token: i64,
    at: DateTime<Utc>,
    held: bool,
    items: Vec<Creation>,
    replies: Vec<oneshot::Sender<Result<Written, StoreError>>>,
}

impl Unsettled {
    fn new(token: i64, at: DateTime<Utc>, held: bool) -> Unsettled {
        Unsettled {
            token,
            at,
            held,
            items: Vec::new(),
            replies: Vec::new(),
        }
    }

    fn push(&mut self, item: Creation, reply: oneshot::Sender<Result<Written, StoreError>>) {
        self.items.push(item);
        self.replies.push(reply);
    }

    fn spawn(self, store: &Store, link: &RelayLink) {
        let (store, link) = (store.clone(), link.clone());
        tokio::spawn(async move {
            let outcome = store
                .settle(&self.items, self.at, self.token, SETTLE_PATIENCE)
                .await;
            tracing::warn!(
                token = self.token,
                products = self.items.len(),
                saved = outcome.is_ok(),
                "a commit's answer was lost; settled by the database"
            );
            match outcome {
                Ok(saved) => {
                    for (saved, reply) in saved.into_iter().zip(self.replies) {
                        // Held by this relay: handed over if there is room, else the sweep
                        // of rows held but unknown gives them back to the outbox.
                        let ack = if self.held {
                            link.hand_over(saved.event.clone())
                        } else {
                            None
                        };
                        let _ = reply.send(Ok(Written { saved, ack }));
                    }
                    link.wake();
                }
                Err(e) => {
                    for reply in self.replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}

/// Now, at the precision both databases keep (microseconds), so what we return equals what
/// a later read returns.
pub(super) fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
