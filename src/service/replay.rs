//! `dataflow outbox replay`: published events sent again from the database of record, to this
//! topic or another, in id order (each product's events in their order), a batch at a time.
//! Where it stands is kept in the database after every acknowledged batch, so an interrupted
//! replay resumes; what the interrupted one sent past that point is looked for on the target
//! and not sent twice. It never changes what the live relay publishes or marks.

use super::{Actor, ServiceError};
use crate::domain::AuditAction;
use crate::kafka::{self, KafkaConfig};
use crate::store::{ReplayFilter, Store};

/// Events sent, and acknowledged, at a time.
const BATCH: i64 = 1000;
/// How far before the interrupted replay's last step its records are looked for.
const SKEW_MS: i64 = 30_000;

pub struct ReplayJob<'a> {
    pub store: &'a Store,
    /// The outbox destination whose published events are chosen.
    pub destination: &'a str,
    pub filter: ReplayFilter,
    /// Where they go (its topic included).
    pub target: &'a KafkaConfig,
    /// The topic the live relay publishes to, on `target`'s cluster when it is the same one.
    pub live_topic: &'a str,
    pub live_bootstrap: &'a str,
    /// `--since` and `--until` as they were typed ("2h" names the same replay on every run,
    /// though the instant moves).
    pub times: &'a str,
    /// This configuration's own destination: its topic is the live one only for its events.
    pub own_destination: &'a str,
    /// Replaying into the live topic was asked for in so many words.
    pub into_live: bool,
    pub by: &'a Actor,
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub sent: i64,
    /// An interrupted replay of the same selection was carried on.
    pub resumed: bool,
    /// Resumed after this outbox id (0: from the start).
    pub resumed_after: i64,
    /// Sent by the interrupted run already and found on the target: not sent again.
    pub already_there: i64,
    pub topic: String,
}

fn selection(j: &ReplayJob<'_>) -> String {
    let f = &j.filter;
    format!(
        "{} -> {}/{} product={:?} ids={:?}..{:?} time={}",
        j.destination, j.target.bootstrap, j.target.topic, f.product, f.from_id, f.to_id, j.times
    )
}

/// The `replay` header of this replay's records: short, the same on every run of it.
fn tag_of(selection: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(selection.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn kafka_err(e: kafka::KafkaError) -> ServiceError {
    ServiceError::Kafka(e.to_string())
}

/// Runs (or resumes) the replay; `progress` hears (sent, total) as batches are acknowledged.
pub async fn replay(
    j: &ReplayJob<'_>,
    progress: &(dyn Fn(i64, i64) + Sync),
) -> Result<Replayed, ServiceError> {
    // The live topic has these events already only when they are its own destination's; an
    // old cluster's events replayed here fill it (the point of --from).
    let live = j.target.bootstrap == j.live_bootstrap
        && j.target.topic == j.live_topic
        && j.destination == j.own_destination;
    if live && !j.into_live {
        return Err(ServiceError::Refused(format!(
            "--to-topic: {} is the live topic; its consumers would get a second copy of every \
             chosen event (same event-id, same version). Name another topic, or pass \
             --into-live-topic to do it anyway",
            j.live_topic
        )));
    }
    let key = selection(j);
    let tag = tag_of(&key);
    let run = j.store.replay_run(&key).await?;
    let total = j.store.replay_count(j.destination, j.filter, 0).await?;
    kafka::ensure_topic(j.target).await.map_err(kafka_err)?;
    let health = std::sync::Arc::new(kafka::Health::default());
    let producer = kafka::producer(j.target, health).map_err(kafka_err)?;
    // A replay that stopped may have sent part of its next batch: those are on the target.
    let there = if run.resumed {
        kafka::event_ids_since(j.target, run.updated_ms - SKEW_MS, &tag)
            .await
            .map_err(kafka_err)?
    } else {
        Default::default()
    };
    let (mut after, mut sent, mut skipped) = (run.last_id, run.sent, 0i64);
    progress(sent, total);
    loop {
        let page = j
            .store
            .replay_page(j.destination, j.filter, after, BATCH)
            .await?;
        let Some(last) = page.last().map(|e| e.id) else {
            break;
        };
        let (known, send): (Vec<_>, Vec<_>) = page.into_iter().partition(|e| there.contains(&e.id));
        skipped += known.len() as i64;
        kafka::send_batch(&producer, &j.target.topic, &send, &tag)
            .await
            .map_err(kafka_err)?;
        sent += send.len() as i64;
        after = last;
        j.store.replay_moved(&key, after, sent).await?;
        progress(sent + skipped, total);
    }
    j.store.replay_done(&key).await?;
    let entry =
        j.by.entry(
            AuditAction::OutboxReplay,
            format!("{} -> {}", j.destination, j.target.topic),
        )
        .detail(format!(
            "sent {sent} events (resumed after id {}, {skipped} already there)",
            run.last_id
        ));
    super::audit::write(j.store, &entry).await;
    tokio::task::spawn_blocking(move || drop(producer));
    Ok(Replayed {
        sent: sent - run.sent,
        resumed: run.resumed,
        resumed_after: run.last_id,
        already_there: skipped,
        topic: j.target.topic.clone(),
    })
}
