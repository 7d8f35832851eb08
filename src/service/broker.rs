//! Which broker this process publishes to, and under which outbox destination. A real cluster
//! is named by its bootstrap hosts and topic. The embedded broker is one per database: the
//! first process owns it, others on the same host join it, and a database that feeds a real
//! cluster never gets one (it would drain the real pipeline's events).

use std::time::Duration;

use super::ServiceError;
use crate::config::{KafkaTarget, Settings};
use crate::kafka::{EmbeddedBroker, KafkaConfig, RelayOptions};
use crate::store::Store;

/// The broker settled at start-up.
pub struct Chosen {
    pub kafka: KafkaConfig,
    pub relay: RelayOptions,
    /// Set when this process started the embedded broker (and owns it).
    pub embedded: Option<EmbeddedBroker>,
}

/// The outbox destination of a real cluster: its hosts (in any order) and the topic.
pub fn cluster_destination(hosts: &str, topic: &str) -> String {
    let mut list: Vec<String> = hosts
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    list.sort();
    list.dedup();
    format!("kafka:{}/{topic}", list.join(","))
}

pub fn embedded_destination(topic: &str) -> String {
    format!("embedded:{topic}")
}

pub(super) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

pub(super) fn process_alive(pid: i64) -> bool {
    std::path::Path::new("/proc").join(pid.to_string()).exists()
}

pub async fn choose(settings: &Settings, store: &Store) -> Result<Chosen, ServiceError> {
    let config = |bootstrap: String, embedded: bool| KafkaConfig {
        bootstrap,
        topic: settings.topic.clone(),
        partitions: settings.partitions,
        replication: settings.replication,
        cleanup_policy: settings.cleanup_policy.clone(),
        embedded,
        // The embedded broker is plaintext and local: the properties are for real clusters.
        properties: if embedded {
            Vec::new()
        } else {
            settings.kafka_properties.clone()
        },
    };
    let hosts = match &settings.kafka {
        KafkaTarget::External(hosts) => hosts,
        KafkaTarget::Embedded => return embedded(settings, store, config).await,
    };
    let destination = cluster_destination(hosts, &settings.topic);
    store.register_destination(&destination, "kafka").await?;
    let adopted = store.adopt_unrouted(&destination).await?;
    if adopted > 0 {
        tracing::info!(events = adopted, %destination, "adopted events written before destinations");
    }
    Ok(Chosen {
        kafka: config(hosts.clone(), false),
        relay: RelayOptions::new(&destination),
        embedded: None,
    })
}

async fn embedded(
    settings: &Settings,
    store: &Store,
    config: impl Fn(String, bool) -> KafkaConfig,
) -> Result<Chosen, ServiceError> {
    if let Some(real) = store.real_destination().await? {
        return Err(ServiceError::Refused(format!(
            "KAFKA_HOST: not set, but this database feeds the Kafka cluster {real}; set \
             KAFKA_HOST to that cluster (an embedded broker would take its events), or, to \
             leave it for good, `dataflow outbox retire --destination '{real}'`"
        )));
    }
    let destination = embedded_destination(&settings.topic);
    store.register_destination(&destination, "embedded").await?;
    store.adopt_unrouted(&destination).await?;
    let mut relay = RelayOptions::new(&destination);
    let (host, pid) = (host_name(), i64::from(std::process::id()));
    let mut dead: Option<String> = None;
    for _ in 0..50 {
        let taken = store
            .take_broker(
                &destination,
                &relay.id,
                &host,
                pid,
                dead.as_deref(),
                relay.lease,
            )
            .await?;
        if taken {
            let broker = start_embedded(settings).await?;
            store
                .set_broker_addr(&destination, &relay.id, broker.bootstrap())
                .await?;
            relay
                .broker_owner
                .store(true, std::sync::atomic::Ordering::Relaxed);
            relay.replay = settings.replay_on_start;
            return Ok(Chosen {
                kafka: config(broker.bootstrap().to_string(), true),
                relay,
                embedded: Some(broker),
            });
        }
        let Some(owner) = store.broker_owner(&destination).await? else {
            continue; // released meanwhile: try again
        };
        let (o_host, o_pid) = (
            owner.host.clone().unwrap_or_default(),
            owner.pid.unwrap_or(0),
        );
        if o_host != host {
            return Err(ServiceError::Refused(format!(
                "KAFKA_HOST: not set, and the embedded broker of this database runs on host \
                 {o_host} (pid {o_pid}); set KAFKA_HOST, or stop that process"
            )));
        }
        if !process_alive(o_pid) {
            tracing::info!(
                pid = o_pid,
                "the embedded broker's owner ended; taking over"
            );
            dead = Some(owner.owner);
            continue;
        }
        match owner.addr {
            Some(addr) => {
                tracing::info!(%addr, pid = o_pid, "joining the embedded broker of another process");
                return Ok(Chosen {
                    kafka: config(addr, true),
                    relay,
                    embedded: None,
                });
            }
            // The owner is still starting its broker.
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    Err(ServiceError::Refused(
        "KAFKA_HOST: not set, and the embedded broker of this database did not come up; \
         set KAFKA_HOST, or stop the other dataflow process"
            .into(),
    ))
}

pub(super) async fn start_embedded(settings: &Settings) -> Result<EmbeddedBroker, ServiceError> {
    // Starting waits on the broker's thread: keep that wait off the runtime.
    let (topic, partitions) = (settings.topic.clone(), settings.partitions);
    tokio::task::spawn_blocking(move || EmbeddedBroker::start(&topic, partitions))
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
        .map_err(ServiceError::from)
}

#[cfg(test)]
mod tests {
    use super::cluster_destination;

    #[test]
    fn a_cluster_is_its_hosts_in_any_order() {
        assert_eq!(
            cluster_destination("B:9092, a:9092,a:9092", "t"),
            cluster_destination("a:9092,b:9092", "t")
        );
        assert_eq!(cluster_destination("a:1", "t"), "kafka:a:1/t");
    }
}
