//! The outbox by destination, for operators: what waits where, and moving what waits for a
//! cluster no process serves to this configuration's cluster. Needs only the database.

use super::{ServiceError, Settings, cluster_destination, embedded_destination, open_store};
use crate::config::KafkaTarget;
use crate::store::{DestinationPending, served_by};

/// The outbox destination this configuration publishes to.
pub fn destination_of(settings: &Settings) -> String {
    match &settings.kafka {
        KafkaTarget::External(hosts) => cluster_destination(hosts, &settings.topic),
        KafkaTarget::Embedded => embedded_destination(&settings.topic),
    }
}

/// Every destination this database has fed.
#[derive(Debug)]
pub struct Destinations {
    /// This configuration's destination.
    pub own: String,
    /// Published by a process of this configuration (itself or the same cluster).
    pub served: Vec<DestinationPending>,
    /// Waiting for another process, or for a reroute.
    pub elsewhere: Vec<DestinationPending>,
}

pub async fn destinations(settings: &Settings) -> Result<Destinations, ServiceError> {
    let store = open_store(settings).await?;
    let own = destination_of(settings);
    let (served, elsewhere) = served_by(&own, store.pending_by_destination().await?);
    Ok(Destinations {
        own,
        served,
        elsewhere,
    })
}

/// Moves every pending event of `from` to `to` (default: this configuration's destination);
/// the destination they now wait for and how many moved. Their order per product is kept
/// (events are claimed in id order whatever their destination was).
pub async fn reroute(
    settings: &Settings,
    by: &super::Actor,
    from: &str,
    to: Option<&str>,
) -> Result<(String, u64), ServiceError> {
    let store = open_store(settings).await?;
    let to = to.map_or_else(|| destination_of(settings), str::to_string);
    let known = store.pending_by_destination().await?;
    if !known.iter().any(|d| d.name == from) {
        return Err(ServiceError::Refused(format!(
            "--from: no destination {from:?}; `dataflow outbox` lists them"
        )));
    }
    if from == to {
        return Err(ServiceError::Refused(format!(
            "--to: {to:?} is the destination the events already wait for"
        )));
    }
    let kind = if to.starts_with("kafka:") {
        "kafka"
    } else if to.starts_with("embedded:") {
        "embedded"
    } else {
        return Err(ServiceError::Refused(format!(
            "--to: {to:?} is not a destination (kafka:HOSTS/TOPIC or embedded:TOPIC)"
        )));
    };
    // Nothing to move: nothing is recorded (a destination named here would tie the database
    // to a cluster it never fed).
    let waiting = known
        .iter()
        .find(|d| d.name == from)
        .map_or(0, |d| d.pending);
    let moved = if waiting > 0 {
        store.register_destination(&to, kind).await?;
        store.reroute(from, &to).await?
    } else {
        0
    };
    tracing::warn!(%from, %to, moved, "outbox rerouted");
    let entry = by
        .entry(
            crate::domain::AuditAction::OutboxReroute,
            format!("{from} -> {to}"),
        )
        .detail(format!("moved {moved} pending events"));
    super::audit::write(&store, &entry).await;
    Ok((to, moved))
}

/// Marks a Kafka cluster this database fed as left: a process without KAFKA_HOST (the
/// embedded broker) may then use the database. Refused while events wait for it (reroute
/// them first).
pub async fn retire(
    settings: &Settings,
    by: &super::Actor,
    destination: &str,
) -> Result<(), ServiceError> {
    let store = open_store(settings).await?;
    if !store.retire_destination(destination).await? {
        let waiting = store
            .pending_by_destination()
            .await?
            .into_iter()
            .find(|d| d.name == destination)
            .map_or(0, |d| d.pending);
        return Err(ServiceError::Refused(if waiting > 0 {
            format!(
                "--destination: {waiting} events still wait for {destination}; move them first \
                 with `dataflow outbox reroute --from '{destination}'`"
            )
        } else {
            format!("--destination: {destination:?} is not a Kafka destination this database feeds")
        }));
    }
    let entry = by.entry(crate::domain::AuditAction::OutboxRetire, destination);
    super::audit::write(&store, &entry).await;
    Ok(())
}
