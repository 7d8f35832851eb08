//! The idempotent producer, with a context that turns client errors into broker health.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

use super::{KafkaConfig, KafkaError, SharedHealth};
use crate::domain::{HEADER_EVENT, HEADER_EVENT_ID, HEADER_TRACEPARENT, HEADER_VERSION};
use crate::store::OutboxEvent;

/// Records transport failures, and a broker that refuses our credentials or our TLS, as
/// "broker down" with the client's reason; successful deliveries set it back up.
pub struct HealthContext {
    pub health: SharedHealth,
}

impl ClientContext for HealthContext {
    fn error(&self, error: RdError, reason: &str) {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::AllBrokersDown) => self.health.set_down_summary(reason),
            Some(
                RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::Authentication
                | RDKafkaErrorCode::SaslAuthenticationFailed
                | RDKafkaErrorCode::SSL,
            ) => self.health.set_down(reason),
            _ => super::quiet::log_error(&error, reason),
        }
    }

    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        // A failed connection says why here only ("might be caused by incorrect
        // security.protocol"); the error callback then says "1/1 brokers are down".
        if fac == "FAIL" {
            self.health.note_failure(message);
        }
        super::quiet::log_line(level, fac, message);
    }
}

pub type Producer = FutureProducer<HealthContext>;

/// The record of an outbox event: keyed by product id, headers `event`, `version` and
/// `event-id` (and `traceparent` when it has one), and a null value for a tombstone.
pub fn record<'a>(
    topic: &'a str,
    e: &'a OutboxEvent,
    traceparent: Option<&'a str>,
) -> FutureRecord<'a, str, [u8]> {
    let mut headers = OwnedHeaders::new_with_capacity(4)
        .insert(Header {
            key: HEADER_EVENT,
            value: Some(e.event.as_str()),
        })
        .insert(Header {
            key: HEADER_VERSION,
            value: Some(e.version.to_string().as_str()),
        })
        .insert(Header {
            key: HEADER_EVENT_ID,
            value: Some(e.id.to_string().as_str()),
        });
    // The request's trace continues in whoever consumes the record.
    if let Some(t) = traceparent {
        headers = headers.insert(Header {
            key: HEADER_TRACEPARENT,
            value: Some(t),
        });
    }
    let r = FutureRecord::to(topic)
        .key(e.msg_key.as_str())
        .headers(headers);
    match e.value() {
        Some(v) => r.payload(v),
        None => r,
    }
}

/// How long librdkafka keeps retrying one message before the relay gets it back as failed.
pub const MESSAGE_TIMEOUT: Duration = Duration::from_secs(5);

/// Defaults an operator may replace (KAFKA_PROPERTY_LINGER_MS and the like). The relay hands
/// the producer a whole committed batch at once, so lingering mostly delays it: 0.5 ms against
/// 2 shortened the acknowledgement's median by 0.5-0.8 ms in each of four paired runs and gave
/// 10-14 % more registrations per second in three of them (BENCHMARKS.md, issue 17), for
/// 23-56 % more broker CPU; 0 cost more CPU here and in the broker for no more.
pub const PRODUCER_DEFAULTS: [(&str, &str); 2] =
    [("linger.ms", "0.5"), ("client.id", "dataflow-relay")];

pub fn producer(cfg: &KafkaConfig, health: SharedHealth) -> Result<Producer, KafkaError> {
    Ok(super::client_config_with(cfg, &PRODUCER_DEFAULTS)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        // The relay's lease is sized on it (relay/lease.rs): reserved.
        .set(
            "message.timeout.ms",
            MESSAGE_TIMEOUT.as_millis().to_string(),
        )
        // A connection closed during its handshake (a TLS port spoken to in plaintext) is
        // logged at INFO only, with the only words that say why.
        .set_log_level(RDKafkaLogLevel::Info)
        .create_with_context(HealthContext { health })?)
}

/// Creates the topic unless the broker's metadata already has it. The embedded broker has it
/// already (and does not support CreateTopics), so this is for real clusters only.
pub async fn ensure_topic(cfg: &KafkaConfig) -> Result<(), KafkaError> {
    if cfg.embedded {
        return Ok(());
    }
    let admin: AdminClient<super::quiet::Quiet> =
        super::client_config(cfg).create_with_context(super::quiet::Quiet)?;
    let admin = std::sync::Arc::new(admin);
    let result = ensure_with(&admin, cfg).await;
    // Dropping a client joins librdkafka's threads (seconds when the broker is away): not on
    // a runtime worker, where a relay retrying through an outage would stall others.
    tokio::task::spawn_blocking(move || drop(admin));
    result
}

async fn ensure_with(
    admin: &std::sync::Arc<AdminClient<super::quiet::Quiet>>,
    cfg: &KafkaConfig,
) -> Result<(), KafkaError> {
    let (probe, topic) = (admin.clone(), cfg.topic.clone());
    // Metadata first: creating needs rights a producer may lack, and answers slower.
    let exists = tokio::task::spawn_blocking(move || {
        probe
            .inner()
            .fetch_metadata(Some(&topic), Duration::from_secs(5))
            .map(|m| {
                m.topics()
                    .iter()
                    .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
            })
    })
    .await
    .map_err(|e| KafkaError::Other(e.to_string()))??;
    if exists {
        return Ok(());
    }
    // -1 asks for the broker's default.replication.factor (KIP-464).
    let replication = TopicReplication::Fixed(cfg.replication.unwrap_or(-1));
    let topic = NewTopic::new(&cfg.topic, cfg.partitions, replication)
        .set("cleanup.policy", &cfg.cleanup_policy);
    let opts = AdminOptions::new()
        .request_timeout(Some(Duration::from_secs(5)))
        .operation_timeout(Some(Duration::from_secs(5)));
    let results = admin.create_topics([&topic], &opts).await?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(KafkaError::Other(format!(
                    "cannot create topic {name}: {code}"
                )));
            }
        }
    }
    Ok(())
}
