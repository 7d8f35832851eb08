//! Everything that speaks the Kafka protocol: the embedded broker, the producer and its health,
//! the outbox relay, and the two readers (group consumer and live tail).

mod cluster;
mod consumer;
mod embedded;
mod flood;
mod group;
mod handoff;
mod known;
mod lag;
mod marker;
mod producer;
mod quiet;
mod refused;
mod relay;
mod replay;
mod resend;
mod send_span;
mod tail;

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use consumer::{TailMessage, TailOptions, TailStart, committed_offsets, partition_marks};
pub use embedded::EmbeddedBroker;
pub use flood::flood;
pub use group::{Fetched, GroupReader};
pub use handoff::{Handoff, RelayHandle, RelayLink, RelayOptions, Target};
pub use lag::{GroupOffsets, LagReader, PartitionMarks, TopicReading};
pub use producer::{Producer, ensure_topic, producer};
pub use refused::REFUSED;
pub use relay::Relay;
pub use resend::{event_ids_since, send_batch};
pub use tail::{tail, tail_counting};

#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("kafka: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    #[error("kafka: {0}")]
    Other(String),
}

/// Where the broker is and what the topic looks like.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    pub bootstrap: String,
    pub topic: String,
    pub partitions: i32,
    /// Replication factor for a topic we create; None = the broker's default.
    pub replication: Option<i32>,
    /// cleanup.policy for a topic we create (`compact` makes it the catalogue's changelog).
    pub cleanup_policy: String,
    pub embedded: bool,
    /// librdkafka properties for every client (KAFKA_PROPERTY_*, `[kafka]` in config.toml).
    pub properties: Vec<(String, crate::config::Secret)>,
}

/// What the process last learned about the broker; read by status bars and registrations.
/// It starts unknown: nobody waits for a broker nobody has reached yet.
#[derive(Debug, Default)]
pub struct Health {
    /// 0 (unknown), UP or DOWN.
    state: AtomicU8,
    published: AtomicU64,
    /// Why it is down, as the client put it: a refused password reads differently from a
    /// broker that is gone, and the operator must see which.
    why: Mutex<Option<String>>,
}

const UP: u8 = 1;
const DOWN: u8 = 2;

impl Health {
    /// Events this process published and recorded, since it started.
    pub fn published_total(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    pub fn count_published(&self, n: usize) {
        self.published.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// True only once the broker answered, and until it fails.
    pub fn is_up(&self) -> bool {
        self.state.load(Ordering::Relaxed) == UP
    }

    pub fn set_up(&self) {
        if self.state.swap(UP, Ordering::Relaxed) == DOWN {
            tracing::info!("kafka broker reachable again");
        }
        if let Ok(mut w) = self.why.lock() {
            *w = None;
        }
    }

    pub fn set_down(&self, why: &str) {
        if self.state.swap(DOWN, Ordering::Relaxed) != DOWN {
            tracing::warn!(reason = why, "kafka broker unreachable");
        }
        if let Ok(mut w) = self.why.lock() {
            *w = Some(why.to_string());
        }
    }

    /// Down with a summary or a consequence ("1/1 brokers are down", a failed send): keeps a
    /// reason that says more (a refused password, a TLS mismatch) given since it was last up.
    pub fn set_down_summary(&self, summary: &str) {
        if self.state.swap(DOWN, Ordering::Relaxed) != DOWN {
            tracing::warn!(reason = summary, "kafka broker unreachable");
        }
        if let Ok(mut w) = self.why.lock()
            && w.is_none()
        {
            *w = Some(summary.to_string());
        }
    }

    /// A connection to the broker failed, as librdkafka logs it: the reason shown while the
    /// broker is (or goes) down, its state unchanged.
    pub fn note_failure(&self, why: &str) {
        if let Ok(mut w) = self.why.lock() {
            *w = Some(why.to_string());
        }
    }

    /// The last reason the broker was marked down, while it stays down.
    pub fn down_reason(&self) -> Option<String> {
        if self.state.load(Ordering::Relaxed) != DOWN {
            return None;
        }
        self.why.lock().ok().and_then(|w| w.clone())
    }
}

pub type SharedHealth = Arc<Health>;

/// Every client starts from this: the user's properties (security and the like), then the
/// broker's address. Callers add what their role needs on top.
fn client_config(cfg: &KafkaConfig) -> rdkafka::config::ClientConfig {
    client_config_with(cfg, &[])
}

/// `client_config` over defaults of the caller's own: a user's property (or its alias)
/// replaces the default, so tuning such as `linger.ms` is the operator's to choose.
fn client_config_with(
    cfg: &KafkaConfig,
    defaults: &[(&str, &str)],
) -> rdkafka::config::ClientConfig {
    const ALIASES: &[(&str, &str)] = &[("linger.ms", "queue.buffering.max.ms")];
    let given = |name: &str| {
        cfg.properties.iter().any(|(n, _)| {
            n == name
                || ALIASES
                    .iter()
                    .any(|(a, b)| (a == n && *b == name) || (b == n && *a == name))
        })
    };
    let mut c = rdkafka::config::ClientConfig::new();
    for (name, value) in defaults {
        if !given(name) {
            c.set(*name, *value);
        }
    }
    for (name, value) in &cfg.properties {
        c.set(name, value.expose());
    }
    c.set("bootstrap.servers", &cfg.bootstrap)
        .set("reconnect.backoff.max.ms", "1000");
    c
}

/// Properties dataflow sets itself: its guarantees depend on them.
pub const RESERVED: &[&str] = &[
    "bootstrap.servers",
    "metadata.broker.list",
    "enable.idempotence",
    "acks",
    "request.required.acks",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    // The relay's lease is sized on how long librdkafka may retry one message.
    "message.timeout.ms",
    "delivery.timeout.ms",
    // Keys decide partitions: one product's messages must share one.
    "partitioner",
    "partitioner_cb",
];

/// Checks user properties the way librdkafka will read them (names and values), without
/// creating a client. Err names the property and says what is wrong.
pub fn check_properties(props: &[(String, crate::config::Secret)]) -> Result<(), (String, String)> {
    for (name, value) in props {
        if RESERVED.contains(&name.as_str()) {
            return Err((
                name.clone(),
                "is set by dataflow itself and cannot be changed".into(),
            ));
        }
        let mut c = rdkafka::config::ClientConfig::new();
        c.set(name, value.expose());
        if let Err(e) = c.create_native_config() {
            let mut why = e.to_string();
            // librdkafka's message quotes the value: never print a secret.
            if crate::config::Settings::is_secret_property(name) && !value.expose().is_empty() {
                why = why.replace(value.expose(), "***");
            }
            return Err((name.clone(), why));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn cfg(props: &[(&str, &str)]) -> KafkaConfig {
        KafkaConfig {
            bootstrap: "127.0.0.1:9".into(),
            topic: "t".into(),
            partitions: 1,
            replication: None,
            cleanup_policy: "delete".into(),
            embedded: false,
            properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), Secret::new(*v)))
                .collect(),
        }
    }

    #[test]
    fn an_operators_property_replaces_a_default_even_by_its_alias() {
        let defaults = super::producer::PRODUCER_DEFAULTS;
        let plain = client_config_with(&cfg(&[]), &defaults);
        assert_eq!(plain.get("linger.ms"), Some("0.5"));
        let tuned = client_config_with(&cfg(&[("linger.ms", "2")]), &defaults);
        assert_eq!(tuned.get("linger.ms"), Some("2"));
        let alias = client_config_with(&cfg(&[("queue.buffering.max.ms", "0")]), &defaults);
        assert_eq!(alias.get("linger.ms"), None);
        assert_eq!(alias.get("queue.buffering.max.ms"), Some("0"));
        assert_eq!(alias.get("client.id"), Some("dataflow-relay"));
    }

    #[test]
    fn the_message_timeout_is_reserved() {
        for name in ["message.timeout.ms", "delivery.timeout.ms"] {
            let props = [(name.to_string(), Secret::new("60000"))];
            let err = check_properties(&props).expect_err("refused");
            assert_eq!(err.0, name);
        }
    }
}
