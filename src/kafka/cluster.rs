//! Names a real cluster by what it says it is: its cluster id from the metadata, with the
//! topic. Another spelling of KAFKA_HOST that reaches the same cluster is the same destination,
//! so its events are published, not stranded.

use std::time::Duration;

use rdkafka::producer::{BaseProducer, Producer as _};

use super::KafkaConfig;
use crate::store::Store;

const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// The cluster id the brokers at `bootstrap` report, with this configuration's security
/// settings; None when they cannot be reached or report none.
async fn cluster_id(cfg: &KafkaConfig, bootstrap: &str) -> Option<String> {
    let mut cfg = cfg.clone();
    cfg.bootstrap = bootstrap.to_string();
    tokio::task::spawn_blocking(move || {
        let p: BaseProducer<super::quiet::Quiet> = super::client_config(&cfg)
            .create_with_context(super::quiet::Quiet)
            .ok()?;
        let id = p.client().fetch_cluster_id(ASK_TIMEOUT);
        // A client's teardown can take a while: never on the caller's thread.
        std::thread::spawn(move || drop(p));
        id
    })
    .await
    .ok()
    .flatten()
}

/// `kafka:HOSTS/TOPIC` (see `cluster_destination`): its hosts and topic.
fn hosts_of(destination: &str) -> Option<(&str, &str)> {
    destination.strip_prefix("kafka:")?.rsplit_once('/')
}

/// Once the relay has reached its cluster: records the cluster for `destination`, and for
/// every other spelling of this topic's destinations not yet identified, asks its hosts which
/// cluster they are. Those that answer this cluster's id become claimable by this relay.
pub(super) async fn identify(store: &Store, cfg: &KafkaConfig, destination: &str) {
    if cfg.embedded {
        return;
    }
    let Some(id) = cluster_id(cfg, &cfg.bootstrap).await else {
        return;
    };
    let ours = format!("{id}/{}", cfg.topic);
    if let Err(e) = store.set_cluster(destination, &ours).await {
        tracing::warn!(error = %e, "cannot record the cluster id");
        return;
    }
    let others = match store.unidentified_destinations(destination).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list destinations");
            return;
        }
    };
    for other in others {
        let Some((hosts, topic)) = hosts_of(&other) else {
            continue;
        };
        if topic != cfg.topic {
            continue;
        }
        if let Some(theirs) = cluster_id(cfg, hosts).await {
            let key = format!("{theirs}/{topic}");
            if key == ours {
                tracing::info!(destination = %other, cluster = %id, "another spelling of this cluster: its events are published here");
            }
            if let Err(e) = store.set_cluster(&other, &key).await {
                tracing::warn!(error = %e, "cannot record the cluster id");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_destination_names_its_hosts_and_topic() {
        assert_eq!(
            super::hosts_of("kafka:a:1,b:2/t.x"),
            Some(("a:1,b:2", "t.x"))
        );
        assert_eq!(super::hosts_of("embedded:t"), None);
    }
}
