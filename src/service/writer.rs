//! Group commit: every registration joins a bounded queue; a writer takes whatever is queued
//! (up to MAX_BATCH) into one transaction, so concurrent callers share a commit. A lone
//! request commits at once: nothing waits on a timer.

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::domain::PublishState;
use crate::kafka::{Handoff, RelayLink};
use crate::store::{Creation, EventRoute, SavedProduct, Store, StoreError};

/// Registrations waiting for a writer; past it, callers wait to enqueue (backpressure).
const QUEUE: usize = 4096;
const MAX_BATCH: usize = 256;
/// How long a batch may wait for callers arriving together (only under concurrency).
/// Measured with scripts/bench_write.py: two processes 0.76x of one without it, 0.83x with
/// 500 µs; one process unchanged within noise.
const GATHER: std::time::Duration = std::time::Duration::from_micros(500);

/// A committed product, and the acknowledgement of its own event when the relay has it.
pub struct Written {
    pub saved: SavedProduct,
    pub ack: Option<oneshot::Receiver<PublishState>>,
}

struct Job {
    item: Creation,
    reply: oneshot::Sender<Result<Written, StoreError>>,
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
    pub fn spawn(store: Store, link: RelayLink, destination: String) -> Writer {
        let (tx, mut rx) = mpsc::channel(QUEUE);
        tokio::spawn(async move {
            let mut last = 1;
            while let Some(jobs) = next_batch(&mut rx, last).await {
                last = jobs.len();
                write_batch(&store, &link, &destination, jobs).await;
            }
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
            .send(Job { item, reply })
            .await
            .map_err(|_| closed())?;
        Ok(async move { rx.await.map_err(|_| closed())? })
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
    let (items, replies): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.item, j.reply)).unzip();
    let results = store.insert_each(&items, now_micros(), &route).await;
    let orphans = permits.is_none();
    for (result, reply) in results.into_iter().zip(replies) {
        let written = result.map(|saved| {
            let ack = permits.as_mut().and_then(Iterator::next).map(|permit| {
                let (tx, rx) = oneshot::channel();
                permit.send(Handoff {
                    event: saved.event.clone(),
                    ack: Some(tx),
                });
                rx
            });
            Written { saved, ack }
        });
        let _ = reply.send(written);
    }
    if orphans {
        link.wake();
    }
}

/// Now, at the precision both databases keep (microseconds), so what we return equals what
/// a later read returns.
pub(super) fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
