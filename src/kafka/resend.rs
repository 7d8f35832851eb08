//! Sending published events again, to this topic or another (`dataflow outbox replay`): a
//! batch at a time, every record acknowledged before the next; and the event ids already on a
//! topic since an instant, so an interrupted replay does not send what it sent already.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rdkafka::error::KafkaError as RdError;
use rdkafka::message::Header;
use rdkafka::types::RDKafkaErrorCode;

use super::producer::{Producer, record};
use super::{KafkaConfig, KafkaError, TailMessage, TailOptions, TailStart, tail};
use crate::domain::HEADER_EVENT_ID;
use crate::store::OutboxEvent;

/// The header a replay's records carry: which replay sent them.
pub const HEADER_REPLAY: &str = "replay";

/// Sends `events` to `topic`, queued strictly in their order (a product's share a key, so a
/// partition), tagged with `tag`, and waits for every acknowledgement; the first failure is
/// the error.
pub async fn send_batch(
    producer: &Producer,
    topic: &str,
    events: &[OutboxEvent],
    tag: &str,
) -> Result<(), KafkaError> {
    let mut acks = Vec::with_capacity(events.len());
    for e in events {
        let mut r = record(topic, e, e.traceparent.as_deref());
        let headers = r.headers.take().unwrap_or_default().insert(Header {
            key: HEADER_REPLAY,
            value: Some(tag),
        });
        r = r.headers(headers);
        loop {
            match producer.send_result(r) {
                Ok(ack) => break acks.push(ack),
                // A full queue empties as acknowledgements come: wait, never reorder.
                Err((RdError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    r = back;
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(KafkaError::Client(e)),
            }
        }
    }
    for ack in acks {
        match ack.await {
            Ok(Ok(_)) => {}
            Ok(Err((e, _))) => return Err(KafkaError::Client(e)),
            Err(_) => return Err(KafkaError::Other("the producer dropped a record".into())),
        }
    }
    Ok(())
}

/// The `event-id`s of the records replay `tag` sent, on the topic from `since_ms` (ms since
/// the epoch) to its end.
pub async fn event_ids_since(
    cfg: &KafkaConfig,
    since_ms: i64,
    tag: &str,
) -> Result<HashSet<i64>, KafkaError> {
    let mut ids = HashSet::new();
    scan_since(cfg, since_ms, |m| {
        if m.header(HEADER_REPLAY) == Some(tag)
            && let Some(id) = m
                .header(HEADER_EVENT_ID)
                .and_then(|v| v.trim().parse().ok())
        {
            ids.insert(id);
        }
        false
    })
    .await?;
    Ok(ids)
}

/// Reads the topic from `since_ms` (ms since the epoch) to its end, each record to `visit`,
/// which answers true to stop there (the reader's error after such a stop does not count).
pub(super) async fn scan_since(
    cfg: &KafkaConfig,
    since_ms: i64,
    mut visit: impl FnMut(&TailMessage) -> bool,
) -> Result<(), KafkaError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (cfg, stop) = (cfg.clone(), stop.clone());
        let opts = TailOptions::new(TailStart::Time(since_ms.max(0)), false);
        tokio::task::spawn_blocking(move || tail(&cfg, opts, tx, stop))
    };
    let mut stopped = false;
    while let Some(m) = rx.recv().await {
        if visit(&m) {
            stopped = true;
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(rx);
    match reader.await {
        Ok(Err(_)) if stopped => Ok(()),
        Ok(r) => r,
        Err(e) => Err(KafkaError::Other(format!("topic reader: {e}"))),
    }
}
