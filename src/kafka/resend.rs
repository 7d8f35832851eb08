//! Sending published events again, to this topic or another (`dataflow outbox replay`): a
//! batch at a time, every record acknowledged before the next; and the event ids already on a
//! topic since an instant, so an interrupted replay does not send what it sent already.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::join_all;
use rdkafka::util::Timeout;

use super::producer::{MESSAGE_TIMEOUT, Producer, record};
use super::{KafkaConfig, KafkaError, TailOptions, TailStart, tail};
use crate::domain::HEADER_EVENT_ID;
use crate::store::OutboxEvent;

/// Sends `events` to `topic` in their order (a product's share a key, so a partition) and
/// waits for every acknowledgement; the first failure is the error.
pub async fn send_batch(
    producer: &Producer,
    topic: &str,
    events: &[OutboxEvent],
) -> Result<(), KafkaError> {
    let sends = events.iter().map(|e| {
        producer.send(
            record(topic, e, e.traceparent.as_deref()),
            Timeout::After(MESSAGE_TIMEOUT),
        )
    });
    for r in join_all(sends).await {
        r.map_err(|(e, _)| KafkaError::Client(e))?;
    }
    Ok(())
}

/// The `event-id`s on the topic from `since_ms` (ms since the epoch) to its end.
pub async fn event_ids_since(cfg: &KafkaConfig, since_ms: i64) -> Result<HashSet<i64>, KafkaError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (cfg, stop) = (cfg.clone(), stop.clone());
        let opts = TailOptions::new(TailStart::Time(since_ms.max(0)), false);
        tokio::task::spawn_blocking(move || tail(&cfg, opts, tx, stop))
    };
    let mut ids = HashSet::new();
    while let Some(m) = rx.recv().await {
        if let Some(id) = m
            .header(HEADER_EVENT_ID)
            .and_then(|v| v.trim().parse().ok())
        {
            ids.insert(id);
        }
    }
    stop.store(true, Ordering::Relaxed);
    match reader.await {
        Ok(r) => r.map(|()| ids),
        Err(e) => Err(KafkaError::Other(format!("topic reader: {e}"))),
    }
}
