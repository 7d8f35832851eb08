//! A load generator for benchmarks: produces at a fixed rate, JSON and non-JSON mixed, as
//! other tools writing to the topic would.

use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use super::{KafkaConfig, KafkaError};

/// Produces `rate` messages per second for `duration`; returns how many were sent. Blocking.
pub fn flood(cfg: &KafkaConfig, rate: u64, duration: Duration) -> Result<u64, KafkaError> {
    let producer: BaseProducer<super::quiet::Quiet> = super::client_config(cfg)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create_with_context(super::quiet::Quiet)?;
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < duration {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due {
            let key = format!("flood-{sent}");
            let payload = if sent.is_multiple_of(2) {
                format!(r#"{{"flood":{sent},"note":"not a product"}}"#)
            } else {
                format!("plain text line {sent}")
            };
            match producer.send(BaseRecord::to(&cfg.topic).key(&key).payload(&payload)) {
                Ok(()) => sent += 1,
                Err((e, _)) => {
                    tracing::warn!(error = %e, "flood send failed");
                    break;
                }
            }
        }
        producer.poll(Duration::from_millis(1));
    }
    let _ = producer.flush(Duration::from_secs(10));
    Ok(sent)
}
