//! The use cases both front ends call: log in, register, list, consume, tail, status.
//! Owns the store, the broker (embedded or not) and the outbox relay.

mod audit;
mod auth;
mod background;
mod broker;
mod change;
mod export;
mod filter;
mod handover;
mod idempotent;
mod import;
mod login;
mod outbox;
pub mod pipeline;
mod reading;
mod register;
mod replay;
mod user_admin;
mod users;
mod verify;
mod writer;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::ValidationErrors;
use crate::kafka::{
    EmbeddedBroker, Health, KafkaConfig, Relay, RelayHandle, RelayLink, SharedHealth, Target,
};
use crate::store::{Store, StoreError};
use writer::Writer;

pub use audit::{Actor, entries as audit_entries, os_user, prune as prune_audit};
pub use auth::{hash_password, verify_password};
pub use login::{LoginRules, UnlockKey, unlock, user_key};
// What the front ends need from the layers below, so they import only `service` and `domain`.
pub use crate::config::Settings;
pub use crate::domain::Position;
pub use crate::kafka::{TailMessage, TailOptions, TailStart};
pub use crate::store::{AuditQuery, Creation, Order, ProductQuery, PublishedAck};
pub use broker::{cluster_destination, embedded_destination};
pub use change::Edit;
pub use export::{CSV_COLUMNS, ExportFormat, export, open_store, product_json};
pub use filter::MessageFilter;
pub use idempotent::{IDEMPOTENCY_KEY, Keyed, form_key, parse_idempotency_key};
pub use import::{Counts, Format, ImportError, ImportEvent, ImportOptions, Problem};
pub use outbox::{Destinations, destination_of, destinations, reroute, retire};
pub use reading::{Consumed, ConsumedMessage, Status, Tail};
pub use register::Registered;
pub use replay::{ReplayJob, Replayed, replay};
pub use user_admin::{
    add_user, list_users, set_disabled, set_password, set_role, update_user, user_info,
};
pub use users::{ApiUser, Principal, USER_CACHE, UserInfo, UserUpdate, seed_api_user};
pub use verify::{VerifyTarget, verify};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid product: {0}")]
    Invalid(#[from] ValidationErrors),
    /// No such product (or it was deleted): 404.
    #[error("product {0} not found")]
    NotFound(i64),
    /// The product changed since the caller read it: 412, nothing written.
    #[error("product {id} is at version {current}, not {expected}: someone changed it meanwhile")]
    Stale {
        id: i64,
        current: i64,
        expected: i64,
    },
    /// A request with the same Idempotency-Key is still being processed: 409.
    #[error("{0}")]
    InProgress(String),
    /// A unique key is taken: 409.
    #[error("{0}")]
    Conflict(#[source] StoreError),
    /// The database is unreachable: the caller may retry later (503).
    #[error("{0}")]
    Unavailable(#[source] StoreError),
    /// Anything else the database said: 500, details in the log only.
    #[error("{0}")]
    Database(#[source] StoreError),
    #[error("{0}")]
    Kafka(String),
    /// Too much at once: the caller may retry shortly (503 with Retry-After).
    #[error("{0}")]
    Busy(String),
    /// Starting would break a guarantee (one line naming the setting): exit 2.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Internal(String),
    /// The caller's role does not allow it (403); says which role would.
    #[error("{0}")]
    Forbidden(String),
    /// The caller's login no longer holds: password changed, user disabled or gone (401).
    #[error("{0}")]
    Revoked(String),
    /// No user of that name (404).
    #[error("no user {0}")]
    UnknownUser(String),
    /// A user exists already, or the change would leave no admin (409).
    #[error("{0}")]
    UserConflict(String),
    /// Too many failed logins for this user or address: nothing was checked; retry after
    /// this many seconds (429).
    #[error("too many failed logins; try again in {0} s")]
    Locked(u64),
}

/// Classifies a database error once for every front end: a broken schema rule becomes the
/// field's error, a taken key a conflict, an unreachable database "unavailable".
impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable { .. } | StoreError::Unsettled { .. } => {
                ServiceError::Unavailable(e)
            }
            StoreError::Constraint { field, .. } => {
                tracing::warn!(error = %e, source = ?std::error::Error::source(&e), "the database refused a row");
                ServiceError::Invalid(ValidationErrors(vec![crate::domain::FieldError {
                    field,
                    message: "is refused by the database's rules".into(),
                }]))
            }
            StoreError::Conflict { .. } => ServiceError::Conflict(e),
            StoreError::Query(_) | StoreError::Internal(_) => ServiceError::Database(e),
        }
    }
}

impl From<crate::kafka::KafkaError> for ServiceError {
    fn from(e: crate::kafka::KafkaError) -> Self {
        ServiceError::Kafka(e.to_string())
    }
}

/// In the data directory: the owned embedded broker's address and this process's pid.
pub const BROKER_FILE: &str = "broker.addr";

/// Password verifications at once: twice the cores of the machine this runs on, and at
/// ~19 MiB each (argon2id defaults) about 80 MiB at most.
const VERIFY_SLOTS: usize = 4;

/// Cheap to clone; every clone shares one store, broker and relay.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    store: Store,
    /// Where the relay and every reader connect now; changes when a joined embedded broker
    /// is taken over.
    target: tokio::sync::watch::Sender<Target>,
    health: SharedHealth,
    /// The outbox destination this process publishes to.
    destination: String,
    relay: tokio::sync::Mutex<RelayHandle>,
    relay_link: RelayLink,
    writer: Writer,
    embedded: Mutex<Option<EmbeddedBroker>>,
    /// This process's relay name, its owner name when it owns the embedded broker.
    relay_id: String,
    /// Set while this process owns the embedded broker (shared with the relay, which renews).
    broker_owner: Arc<std::sync::atomic::AtomicBool>,
    /// The last thing that happened to the broker that a person should hear about.
    broker_note: Mutex<Option<String>>,
    /// Watches a joined embedded broker's owner and takes over when it ends.
    handover: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Password verifications allowed at once.
    verify_slots: Arc<tokio::sync::Semaphore>,
    /// The consumer route's reader, created on first use; the lock serializes calls.
    group: Arc<tokio::sync::Mutex<Option<crate::kafka::GroupReader>>>,
    /// Verified against when a username is unknown, so both cases take the same time.
    dummy_hash: String,
    /// Idempotency-Keys of requests still running here.
    running: idempotent::Running,
    /// Users' roles and token generations, read at most once a second each.
    users: users::UserCache,
    /// The API user's stored password was the public default at start-up.
    default_login: bool,
    /// Deletes audit entries past retention and idle lock-out keys, hourly.
    pruning: tokio::task::JoinHandle<()>,
    /// Writes the answers did not wait for; shutdown waits for them.
    background: background::Background,
}

impl Service {
    /// Connects, migrates, creates the API user if missing, starts the broker (embedded when
    /// no KAFKA_HOST) and the relay.
    pub async fn start(settings: Settings) -> Result<Service, ServiceError> {
        let store = Store::connect(&settings.database).await?;
        store.migrate().await?;
        Service::start_with(settings, store).await
    }

    pub async fn start_with(settings: Settings, store: Store) -> Result<Service, ServiceError> {
        let api_user = users::seed_api_user(&store, &settings).await?;
        let public = api_user.default_password || api_user.published_password;
        if public && settings.environ == crate::config::Environ::Prd {
            return Err(ServiceError::Refused(format!(
                "USERNAME_API: the stored password of {} is a public one (the default or a \
                 placeholder printed in dataflow's files); set another with \
                 `dataflow user passwd {}` before starting in production",
                settings.username_api, settings.username_api
            )));
        }
        let dummy_hash = hash_password(format!("{:x}", rand::random::<u128>())).await?;
        let chosen = broker::choose(&settings, &store).await?;
        let kafka = chosen.kafka;
        let destination = chosen.relay.destination.clone();
        let owns = chosen.relay.owns_broker();
        let (relay_id, broker_owner) = (chosen.relay.id.clone(), chosen.relay.broker_owner.clone());
        let health: SharedHealth = Arc::new(Health::default());
        if chosen.embedded.is_some() {
            health.set_up(); // started in this process a moment ago
        }
        let (target, target_rx) = tokio::sync::watch::channel(Target {
            cfg: kafka.clone(),
            replay: 0,
        });
        let relay = Relay::spawn(
            store.clone(),
            kafka.clone(),
            health.clone(),
            chosen.relay,
            target_rx,
        );
        let writer = Writer::spawn(
            store.clone(),
            relay.link(),
            destination.clone(),
            settings.idempotency_ttl,
        );
        tracing::info!(backend = store.backend(), bootstrap = %kafka.bootstrap, %destination, "service started");
        if owns {
            handover::record_address(&settings.paths.data_dir, &kafka.bootstrap);
        }
        let embedded_joiner = kafka.embedded && !owns;
        let pruning = Service::spawn_pruning(store.clone(), settings.audit_retention);
        let service = Service {
            inner: Arc::new(Inner {
                settings,
                store,
                target,
                destination,
                health,
                relay_link: relay.link(),
                relay: tokio::sync::Mutex::new(relay),
                writer,
                embedded: Mutex::new(chosen.embedded),
                relay_id,
                broker_owner,
                broker_note: Mutex::new(None),
                handover: Mutex::new(None),
                group: Arc::new(tokio::sync::Mutex::new(None)),
                verify_slots: Arc::new(tokio::sync::Semaphore::new(VERIFY_SLOTS)),
                dummy_hash,
                running: Default::default(),
                users: Default::default(),
                default_login: api_user.default_password,
                pruning,
                background: Default::default(),
            }),
        };
        if embedded_joiner {
            handover::spawn(&service);
        }
        Ok(service)
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The API user's name while its stored password is the public default `vert` (read at
    /// start-up), for the login screen's first-run hint.
    pub fn default_login(&self) -> Option<&str> {
        self.inner
            .default_login
            .then_some(self.inner.settings.username_api.as_str())
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Where the broker is now (it moves when a joined embedded broker is taken over).
    pub fn kafka(&self) -> KafkaConfig {
        self.inner.target.borrow().cfg.clone()
    }

    /// What last happened to the broker that a person should know, if anything.
    pub fn broker_note(&self) -> Option<String> {
        self.inner.broker_note.lock().ok().and_then(|n| n.clone())
    }

    /// Where this process's events go (outbox destination).
    pub fn destination(&self) -> &str {
        &self.inner.destination
    }

    /// True when this process started the embedded broker (others may have joined it).
    pub fn owns_broker(&self) -> bool {
        self.inner
            .broker_owner
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Acknowledgements of published events, as they happen.
    pub fn subscribe_published(
        &self,
    ) -> tokio::sync::broadcast::Receiver<crate::store::PublishedAck> {
        self.inner.relay_link.subscribe()
    }

    pub fn published_total(&self) -> u64 {
        self.inner.health.published_total()
    }

    /// Renders an instant in TIMEZONE, RFC 3339 with the zone's offset.
    pub fn render_time(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.inner.settings.timezone)
            .to_rfc3339_opts(SecondsFormat::Micros, false)
    }

    /// Stops the relay (flushing the producer), the embedded broker and the pool.
    /// Waits until nothing is pending in the outbox, for as long as the count keeps falling
    /// (`stall` without progress ends the wait); `progress` hears the count as it goes.
    /// What is left when it returns (0: everything reached the broker).
    pub async fn drain(&self, stall: Duration, progress: impl FnMut(i64)) -> i64 {
        self.drain_events(None, stall, progress).await
    }

    /// Like `drain`, for the events with outbox ids in `events` (inclusive) that this
    /// process publishes; all pending events when None.
    pub async fn drain_events(
        &self,
        events: Option<(i64, i64)>,
        stall: Duration,
        mut progress: impl FnMut(i64),
    ) -> i64 {
        let mut best = i64::MAX;
        let mut since = tokio::time::Instant::now();
        loop {
            let count = match events {
                Some((lo, hi)) => {
                    let store = &self.inner.store;
                    store.pending_between(self.destination(), lo, hi).await
                }
                None => self.inner.store.pending_count().await,
            };
            let left = count.unwrap_or(best);
            progress(left);
            if left == 0 {
                return 0;
            }
            if left < best {
                best = left;
                since = tokio::time::Instant::now();
            } else if since.elapsed() >= stall {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn shutdown(&self) {
        self.inner.pruning.abort();
        self.inner.background.flush(Duration::from_secs(5)).await;
        let watcher = self.inner.handover.lock().ok().and_then(|mut h| h.take());
        if let Some(w) = watcher {
            w.abort();
            let _ = w.await;
        }
        self.inner.relay.lock().await.shutdown().await;
        if self.owns_broker() {
            let _ = self
                .inner
                .store
                .release_broker(&self.inner.destination, &self.inner.relay_id)
                .await;
            let _ = std::fs::remove_file(self.inner.settings.paths.data_dir.join(BROKER_FILE));
        }
        let broker = self.inner.embedded.lock().ok().and_then(|mut b| b.take());
        if let Some(broker) = broker {
            // Dropping joins the broker's thread: keep that wait off the runtime.
            let _ = tokio::task::spawn_blocking(move || drop(broker)).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.inner.store.close()).await;
    }
}
