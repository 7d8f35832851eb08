//! Reading the topic: the original's group consumer (reads to the high-water marks, commits)
//! and the live tail (never commits). Both run on plain threads: librdkafka calls block, and a
//! consumer's teardown can hang, which must never stall the async runtime.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::{KafkaConfig, KafkaError};

const META_TIMEOUT: Duration = Duration::from_secs(5);
pub(super) const POLL: Duration = Duration::from_millis(100);

/// One record as read from the topic, whatever produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailMessage {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    /// Milliseconds since the epoch, as the broker or producer stamped it.
    pub timestamp_ms: Option<i64>,
    /// None for a tombstone (a null value).
    pub payload: Option<Vec<u8>>,
    /// Header names and values (values as text; a null value as empty).
    pub headers: Vec<(String, String)>,
}

impl TailMessage {
    /// The payload as JSON when it parses, else as a JSON string (any producer may write
    /// here); null for a tombstone.
    pub fn value(&self) -> serde_json::Value {
        let Some(payload) = &self.payload else {
            return serde_json::Value::Null;
        };
        serde_json::from_slice(payload).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(payload).into_owned())
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The payload's bytes; empty for a tombstone.
    pub fn bytes(&self) -> &[u8] {
        self.payload.as_deref().unwrap_or_default()
    }

    /// One line of `dataflow tail`: position, key, time in `tz` and the value.
    pub fn to_json(&self, tz: chrono_tz::Tz) -> serde_json::Value {
        let ts = self
            .timestamp_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| {
                t.with_timezone(&tz)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
            });
        serde_json::json!({
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
            "timestamp": ts,
            "headers": self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect::<serde_json::Map<_, _>>(),
            "value": self.value(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailStart {
    Beginning,
    /// The newest N messages of each partition.
    Last(usize),
    /// The first message at or after this instant (ms since the epoch), per partition
    /// (Kafka's offsets-for-times).
    Time(i64),
    /// This offset of each partition read (clamped to what the partition holds).
    Offset(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailOptions {
    pub start: TailStart,
    pub follow: bool,
    /// Only this partition (None: all of them).
    pub partition: Option<i32>,
}

impl TailOptions {
    pub fn new(start: TailStart, follow: bool) -> TailOptions {
        TailOptions {
            start,
            follow,
            partition: None,
        }
    }
}

/// The partitions of `list` that have an offset, with it.
pub(super) fn offsets_of(list: &TopicPartitionList) -> std::collections::HashMap<i32, i64> {
    list.elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(n) => Some((e.partition(), n)),
            _ => None,
        })
        .collect()
}

pub(super) fn base_consumer(
    cfg: &KafkaConfig,
    group: &str,
) -> Result<BaseConsumer<super::quiet::Quiet>, KafkaError> {
    consumer_config(cfg, group)
        .create_with_context(super::quiet::Quiet)
        .map_err(KafkaError::from)
}

/// The connection to the brokers was lost: librdkafka reconnects by itself.
pub(super) fn connection_lost(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        e.rdkafka_error_code(),
        Some(Code::AllBrokersDown | Code::BrokerTransportFailure)
    )
}

/// A consumer that only assigns (never joins the group) and commits by hand.
pub(super) fn consumer_config(cfg: &KafkaConfig, group: &str) -> rdkafka::config::ClientConfig {
    let mut c = super::client_config(cfg);
    c.set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    c
}

/// The topic's partitions and their (low, high) watermarks; empty if the topic is missing.
pub(super) fn watermarks(
    c: &BaseConsumer<super::quiet::Quiet>,
    topic: &str,
) -> Result<Vec<(i32, i64, i64)>, KafkaError> {
    let meta = c.fetch_metadata(Some(topic), META_TIMEOUT)?;
    let Some(t) = meta.topics().iter().find(|t| t.name() == topic) else {
        return Ok(Vec::new());
    };
    if t.error().is_some() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for p in t.partitions() {
        let (low, high) = c.fetch_watermarks(topic, p.id(), META_TIMEOUT)?;
        out.push((p.id(), low, high));
    }
    Ok(out)
}

pub(super) fn to_message(m: &rdkafka::message::BorrowedMessage<'_>) -> TailMessage {
    TailMessage {
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
        timestamp_ms: m.timestamp().to_millis(),
        payload: m.payload().map(<[u8]>::to_vec),
        headers: m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        let v = h.value.map(String::from_utf8_lossy).unwrap_or_default();
                        (h.key.to_string(), v.into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Runs `work` on its own thread and waits for its answer without waiting for the thread
/// (and the consumer's teardown) to finish.
async fn on_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, KafkaError> + Send + 'static,
) -> Result<T, KafkaError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("kafka-reader".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| KafkaError::Other(format!("cannot start a reader thread: {e}")))?;
    rx.await
        .map_err(|_| KafkaError::Other("reader thread ended without an answer".into()))?
}

/// Each partition of `list` with its committed offset (None: nothing committed).
pub(super) fn committed_of(list: &TopicPartitionList) -> Vec<(i32, Option<i64>)> {
    list.elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(n) => (e.partition(), Some(n)),
            _ => (e.partition(), None),
        })
        .collect()
}

/// The offsets `group` has committed on the topic, per partition (None: nothing committed).
pub async fn committed_offsets(
    cfg: &KafkaConfig,
    group: &str,
) -> Result<Vec<(i32, Option<i64>)>, KafkaError> {
    let (cfg, topic, group) = (cfg.clone(), cfg.topic.clone(), group.to_string());
    on_thread(move || {
        let c = base_consumer(&cfg, &group)?;
        let mut asked = TopicPartitionList::new();
        for (p, _, _) in watermarks(&c, &topic)? {
            asked.add_partition(&topic, p);
        }
        if asked.count() == 0 {
            return Ok(Vec::new());
        }
        Ok(committed_of(&c.committed_offsets(asked, META_TIMEOUT)?))
    })
    .await
}

/// The topic's partitions with their (low, high) watermarks; an error when the topic is
/// missing (a reader that must say what it could not read).
pub async fn partition_marks(cfg: &KafkaConfig) -> Result<Vec<(i32, i64, i64)>, KafkaError> {
    let (cfg, topic) = (cfg.clone(), cfg.topic.clone());
    on_thread(move || {
        let c = base_consumer(&cfg, &format!("dataflow-marks-{}", std::process::id()))?;
        let marks = watermarks(&c, &topic)?;
        if marks.is_empty() {
            return Err(KafkaError::Other(format!(
                "topic {topic} not found on {}",
                cfg.bootstrap
            )));
        }
        Ok(marks)
    })
    .await
}
