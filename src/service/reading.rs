//! Reads: products, the group consumer, the live tail and the system's status.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Service, ServiceError};
use crate::domain::{Position, Product};
use crate::kafka::{self, TailMessage, TailOptions};
use crate::store::{DestinationPending, ProductQuery, served_by};

/// A message read by the group consumer: JSON when it parses, else the text as a JSON string.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumedMessage {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub value: serde_json::Value,
}

/// A product event as the consumer route gives it: the product for a creation or an update,
/// `{"id": N, "deleted": true}` for a tombstone.
fn consumed_value(m: &TailMessage) -> serde_json::Value {
    if m.payload.is_some() {
        return m.value();
    }
    let key = m.key.as_deref().unwrap_or_default();
    let id = key
        .parse::<i64>()
        .map_or_else(|_| serde_json::Value::from(key), serde_json::Value::from);
    serde_json::json!({"id": id, "deleted": true})
}

/// How long a consumer-route call waits for the one before it.
const GROUP_WAIT: Duration = Duration::from_secs(10);
/// A call's turn in the database: longer than a fetch (10 s) and the answer's delivery; a
/// holder that died frees the group after this long.
const TURN_LEASE: Duration = Duration::from_secs(30);
/// How often a call waiting for another process's turn asks again.
const TURN_POLL: Duration = Duration::from_millis(20);

/// Messages fetched for one consumer-route call; the group's turn (in this process and in the
/// database) is held until committed or dropped.
pub struct Consumed {
    pub messages: Vec<ConsumedMessage>,
    positions: Vec<(i32, i64)>,
    turn: Option<Turn>,
    guard: tokio::sync::OwnedMutexGuard<Option<kafka::GroupReader>>,
}

/// A group's turn in the database, released when dropped.
struct Turn {
    store: crate::store::Store,
    group: String,
    holder: String,
}

impl Turn {
    /// Frees the turn now, so the next call (of any process) need not wait for a task.
    async fn release(mut self) {
        let holder = std::mem::take(&mut self.holder);
        if let Err(e) = self.store.release_turn(&self.group, &holder).await {
            tracing::warn!(error = %e, "cannot release the consumer group's turn; its lease will run out");
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self.holder.is_empty() {
            return;
        }
        let (store, group, holder) = (
            self.store.clone(),
            std::mem::take(&mut self.group),
            std::mem::take(&mut self.holder),
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = store.release_turn(&group, &holder).await {
                    tracing::warn!(error = %e, "cannot release the consumer group's turn; its lease will run out");
                }
            });
        }
    }
}

impl Consumed {
    /// Commits the positions after the returned messages; call once they were delivered. If
    /// this call's turn ran out meanwhile (another call may be reading the same messages),
    /// nothing is committed: those messages come again rather than being skipped.
    pub async fn commit(mut self) -> Result<(), ServiceError> {
        let turn = self.turn.take();
        if let (Some(reader), Some(turn)) = (self.guard.as_ref(), turn.as_ref()) {
            if self.positions.is_empty() {
                return Ok(());
            }
            if !turn
                .store
                .still_turn(&turn.group, &turn.holder, TURN_LEASE)
                .await?
            {
                return Err(ServiceError::Busy(
                    "the consumer group's turn ran out before the answer was delivered; \
                     nothing committed"
                        .into(),
                ));
            }
            reader.commit(std::mem::take(&mut self.positions)).await?;
        }
        if let Some(turn) = turn {
            turn.release().await;
        }
        Ok(())
    }
}

/// A running live tail; dropping it stops the reader thread.
pub struct Tail {
    pub rx: mpsc::Receiver<TailMessage>,
    stop: Arc<AtomicBool>,
    failure: Arc<std::sync::Mutex<Option<String>>>,
    partitions: Arc<std::sync::atomic::AtomicI32>,
}

impl Tail {
    /// The topic's partitions, once the reader has read them.
    pub fn partitions(&self) -> Option<i32> {
        Some(self.partitions.load(Ordering::Relaxed)).filter(|n| *n > 0)
    }

    /// Why the reader stopped, once `rx` has closed on an error.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What a status bar or health check shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub database: &'static str,
    pub database_ok: bool,
    /// Why the database is not ok, in one line.
    pub database_error: Option<String>,
    pub broker_ok: bool,
    /// Why the broker is down, as the client said (refused credentials, no TLS, gone).
    pub broker_error: Option<String>,
    pub broker_embedded: bool,
    pub bootstrap: String,
    /// What last happened to the broker that a person should know (a take-over, say).
    pub broker_note: Option<String>,
    pub pending: Option<i64>,
    /// Events waiting for destinations this process does not publish to (another cluster, or
    /// one not reached yet): they move only with `dataflow outbox reroute`.
    pub elsewhere: Vec<DestinationPending>,
    /// Pending events the broker refuses for good, and one reason: each holds back only its
    /// own product.
    pub refused: Option<(i64, String)>,
}

impl Service {
    pub async fn products(&self, q: &ProductQuery) -> Result<Vec<Product>, ServiceError> {
        let acked = self.inner.relay_link.acked();
        let mut all = self.inner.store.list_products(q).await?;
        for p in &mut all {
            acked.overlay(p);
        }
        Ok(all)
    }

    /// Products committed after `after`, in commit order, each with its position: a reader
    /// that passes back the last position sees every committed product once.
    pub async fn follow(
        &self,
        after: Position,
        limit: i64,
        filter: Option<&str>,
    ) -> Result<Vec<(Product, Position)>, ServiceError> {
        let acked = self.inner.relay_link.acked();
        let mut all = self
            .inner
            .store
            .follow_products(after, limit, filter)
            .await?;
        for (p, _) in &mut all {
            acked.overlay(p);
        }
        Ok(all)
    }

    /// Where to start following so that nothing visible later is missed.
    pub async fn follow_start(&self) -> Result<Position, ServiceError> {
        Ok(self.inner.store.follow_start().await?)
    }

    pub async fn product(&self, id: i64) -> Result<Option<Product>, ServiceError> {
        let acked = self.inner.relay_link.acked();
        let mut p = self.inner.store.get_product(id).await?;
        if let Some(p) = p.as_mut() {
            acked.overlay(p);
        }
        Ok(p)
    }

    /// The product even if it was deleted (its last state, its tombstone's publish state).
    pub async fn product_any(&self, id: i64) -> Result<Option<Product>, ServiceError> {
        let acked = self.inner.relay_link.acked();
        let mut p = self.inner.store.get_product_any(id).await?;
        if let Some(p) = p.as_mut() {
            acked.overlay(p);
        }
        Ok(p)
    }

    pub async fn count_products(&self, filter: Option<&str>) -> Result<i64, ServiceError> {
        Ok(self.inner.store.count_products(filter, None).await?)
    }

    /// How many products matching `filter` are newer than `id`: its row index, newest first.
    pub async fn count_newer(&self, id: i64, filter: Option<&str>) -> Result<i64, ServiceError> {
        Ok(self.inner.store.count_products(filter, Some(id)).await?)
    }

    /// The original's consumer route: CONSUMER_GROUP's new messages, at most `max`. Calls
    /// are served one at a time, in this process (a lock) and across processes sharing the
    /// database (a turn per group); the next waits until this one is committed or dropped.
    /// Nothing is committed until `Consumed::commit`: dropping it (the client went away)
    /// leaves the messages for the next call.
    pub async fn consume(&self, max: usize) -> Result<Consumed, ServiceError> {
        let busy = || ServiceError::Busy("the consumer group is busy with another call".into());
        let started = tokio::time::Instant::now();
        let lock = self.inner.group.clone().lock_owned();
        let mut guard = tokio::time::timeout(GROUP_WAIT, lock)
            .await
            .map_err(|_| busy())?;
        let group = self.inner.settings.consumer_group.clone();
        let holder = format!("{}-{:x}", std::process::id(), rand::random::<u64>());
        let store = &self.inner.store;
        while !store.take_turn(&group, &holder, TURN_LEASE).await? {
            if started.elapsed() >= GROUP_WAIT {
                return Err(busy());
            }
            tokio::time::sleep(TURN_POLL).await;
        }
        let turn = Turn {
            store: store.clone(),
            group,
            holder,
        };
        let cfg = self.kafka();
        let reader = match guard.as_ref() {
            Some(r) if r.bootstrap == cfg.bootstrap => r,
            _ => guard.insert(kafka::GroupReader::start(
                &cfg,
                &self.inner.settings.consumer_group,
            )?),
        };
        let fetched = reader.fetch(max).await?;
        let messages = fetched
            .messages
            .into_iter()
            .map(|m| ConsumedMessage {
                partition: m.partition,
                offset: m.offset,
                value: consumed_value(&m),
                key: m.key,
            })
            .collect();
        Ok(Consumed {
            messages,
            positions: fetched.positions,
            turn: Some(turn),
            guard,
        })
    }

    /// Starts a live tail on a thread of its own; `capacity` bounds the channel, so a slow
    /// reader slows the tail, never the process's memory.
    pub fn tail(&self, opts: TailOptions, capacity: usize) -> Result<Tail, ServiceError> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let (cfg, thread_stop) = (self.kafka(), stop.clone());
        let failure = Arc::new(std::sync::Mutex::new(None));
        let failed = failure.clone();
        let partitions = Arc::new(std::sync::atomic::AtomicI32::new(0));
        let counted = partitions.clone();
        std::thread::Builder::new()
            .name("kafka-tail".into())
            .spawn(move || {
                // `tx` lives until the reason is stored, so a closed channel always has it.
                if let Err(e) = kafka::tail_counting(&cfg, opts, tx.clone(), thread_stop, &counted)
                {
                    tracing::warn!(error = %e, "tail ended with an error");
                    if let Ok(mut f) = failed.lock() {
                        *f = Some(e.to_string());
                    }
                }
                drop(tx);
            })
            .map_err(|e| ServiceError::Internal(format!("cannot start the tail thread: {e}")))?;
        Ok(Tail {
            rx,
            stop,
            failure,
            partitions,
        })
    }

    pub async fn status(&self) -> Status {
        let kafka = self.kafka();
        let store = &self.inner.store;
        let probe = async {
            store.ping().await?;
            Ok::<_, crate::store::StoreError>((
                store.pending_count().await?,
                store.pending_by_destination().await?,
                store.refused(crate::kafka::REFUSED).await?,
            ))
        };
        let (pending, elsewhere, refused, database_error) =
            match tokio::time::timeout(Duration::from_secs(2), probe).await {
                Ok(Ok((n, all, refused))) => {
                    let (_, mut elsewhere) = served_by(self.destination(), all);
                    elsewhere.retain(|d| d.pending > 0);
                    let refused = match refused {
                        (n, Some(why)) if n > 0 => Some((n, why)),
                        _ => None,
                    };
                    (Some(n), elsewhere, refused, None)
                }
                Ok(Err(e)) => (None, Vec::new(), None, Some(e.to_string())),
                Err(_) => (
                    None,
                    Vec::new(),
                    None,
                    Some("database unavailable: no answer within 2 s".to_string()),
                ),
            };
        Status {
            database: store.backend(),
            database_ok: pending.is_some(),
            database_error,
            broker_ok: self.inner.health.is_up(),
            broker_error: self.inner.health.down_reason(),
            broker_embedded: kafka.embedded,
            bootstrap: kafka.bootstrap,
            broker_note: self.broker_note(),
            pending,
            elsewhere,
            refused,
        }
    }
}
