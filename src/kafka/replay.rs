//! A fresh embedded broker starts empty: the newest published events are sent to it again
//! and their new offsets recorded, so a reader sees recent history.

use futures::future::join_all;
use rdkafka::util::Timeout;

use super::KafkaConfig;
use super::handoff::RelayOptions;
use super::producer::{MESSAGE_TIMEOUT, Producer, record};
use crate::store::{PublishedAck, Store};

const CHUNK: usize = 500;

/// True when done, or when there is nothing to replay.
pub(super) async fn run(
    store: &Store,
    producer: &Producer,
    cfg: &KafkaConfig,
    opts: &RelayOptions,
) -> bool {
    let events = match store
        .recent_published(&opts.destination, opts.replay as i64)
        .await
    {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read events to replay");
            return false;
        }
    };
    if !events.is_empty() {
        tracing::info!(
            count = events.len(),
            "replaying recent events into the embedded broker"
        );
    }
    for chunk in events.chunks(CHUNK) {
        let sends = chunk.iter().map(|e| {
            producer.send(
                record(&cfg.topic, e, e.traceparent.as_deref()),
                Timeout::After(MESSAGE_TIMEOUT),
            )
        });
        let acks: Vec<_> = chunk
            .iter()
            .zip(join_all(sends).await)
            .filter_map(|(e, r)| {
                r.ok().map(|d| PublishedAck {
                    outbox_id: e.id,
                    product_id: e.product_id,
                    partition: d.partition,
                    offset: d.offset,
                })
            })
            .collect();
        if let Err(e) = store.record_replayed(&acks).await {
            tracing::warn!(error = %e, "cannot record replayed offsets");
        }
    }
    true
}
