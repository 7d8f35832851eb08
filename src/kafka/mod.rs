//! Everything that speaks the Kafka protocol: the embedded broker, the producer and its health,
//! the outbox relay, and the two readers (group consumer and live tail).

mod consumer;
mod embedded;
mod flood;
mod producer;
mod relay;
mod tail;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub use consumer::{TailMessage, TailOptions, TailStart, committed_offsets, consume_group};
pub use embedded::EmbeddedBroker;
pub use flood::flood;
pub use producer::{ensure_topic, producer};
pub use relay::{Relay, RelayHandle, RelayLink};
pub use tail::tail;

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
    pub embedded: bool,
}

/// What the process last learned about the broker; read by status bars and registrations.
#[derive(Debug)]
pub struct Health {
    up: AtomicBool,
    published: AtomicU64,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            up: AtomicBool::new(true),
            published: AtomicU64::new(0),
        }
    }
}

impl Health {
    /// Events this process published and recorded, since it started.
    pub fn published_total(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    pub fn count_published(&self, n: usize) {
        self.published.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    pub fn set_up(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!("kafka broker reachable again");
        }
    }

    pub fn set_down(&self, why: &str) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(reason = why, "kafka broker unreachable");
        }
    }
}

pub type SharedHealth = Arc<Health>;

/// Settings shared by the consumers and the admin client.
fn client_config(bootstrap: &str) -> rdkafka::config::ClientConfig {
    let mut c = rdkafka::config::ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("reconnect.backoff.max.ms", "1000");
    c
}
