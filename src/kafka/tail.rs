//! The live tail: reads the topic without ever committing. When the broker goes away, the
//! consumer is dropped and a fresh one resumes from the next offsets once it is back: a
//! consumer that lived through a broker losing its topic crashed librdkafka 2.12 (SIGSEGV in
//! its metadata cache, on a topic entry without a name).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaErrorCode;

use super::consumer::{POLL, base_consumer, to_message, watermarks};
use super::{KafkaConfig, KafkaError, TailOptions, TailStart};

enum Session {
    Done,
    BrokerLost,
}

fn lost(e: &rdkafka::error::KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::AllBrokersDown | RDKafkaErrorCode::BrokerTransportFailure)
    )
}

/// Streams the topic into `tx`. Without `follow` it stops at the high-water marks seen at
/// start. Blocks its thread; set `stop` to end it early.
pub fn tail(
    cfg: &KafkaConfig,
    opts: TailOptions,
    tx: tokio::sync::mpsc::Sender<super::TailMessage>,
    stop: Arc<AtomicBool>,
) -> Result<(), KafkaError> {
    let group = format!("dataflow-tail-{}", std::process::id());
    // The next offset per partition, once reading began: where a new consumer resumes.
    let mut next: Option<HashMap<i32, i64>> = None;
    loop {
        match session(cfg, &group, opts, &mut next, &tx, &stop) {
            Ok(Session::Done) => return Ok(()),
            Ok(Session::BrokerLost) | Err(_) if opts.follow => {
                tracing::info!("tail: broker connection lost; reconnecting with a fresh consumer");
                for _ in 0..10 {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            Ok(Session::BrokerLost) => {
                return Err(KafkaError::Other("broker connection lost".into()));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Where each partition starts: the first time from the options, after a reconnect from the
/// saved positions (from the low mark when the topic now ends before them: it was re-created).
fn assignment(
    topic: &str,
    marks: &[(i32, i64, i64)],
    opts: TailOptions,
    next: &Option<HashMap<i32, i64>>,
) -> Result<(TopicPartitionList, HashMap<i32, i64>), KafkaError> {
    let mut assign = TopicPartitionList::new();
    let mut remaining = HashMap::new();
    for (p, low, high) in marks {
        let start = match (next, opts.start) {
            (Some(saved), _) => match saved.get(p) {
                Some(n) if n <= high => (*n).max(*low),
                _ => *low,
            },
            (None, TailStart::Beginning) => *low,
            (None, TailStart::Last(n)) => (*high - n as i64).max(*low),
        };
        assign.add_partition_offset(topic, *p, Offset::Offset(start))?;
        if start < *high {
            remaining.insert(*p, *high);
        }
    }
    Ok((assign, remaining))
}

fn session(
    cfg: &KafkaConfig,
    group: &str,
    opts: TailOptions,
    next: &mut Option<HashMap<i32, i64>>,
    tx: &tokio::sync::mpsc::Sender<super::TailMessage>,
    stop: &AtomicBool,
) -> Result<Session, KafkaError> {
    let c: BaseConsumer = base_consumer(cfg, group)?;
    let mut marks = watermarks(&c, &cfg.topic)?;
    while marks.is_empty() && opts.follow && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(500));
        marks = watermarks(&c, &cfg.topic)?;
    }
    let (assign, mut remaining) = assignment(&cfg.topic, &marks, opts, next)?;
    if marks.is_empty() || (!opts.follow && remaining.is_empty()) {
        return Ok(Session::Done);
    }
    c.assign(&assign)?;
    let positions = next.get_or_insert_with(HashMap::new);
    while !stop.load(Ordering::Relaxed) && (opts.follow || !remaining.is_empty()) {
        match c.poll(POLL) {
            Some(Ok(m)) => {
                let msg = to_message(&m);
                positions.insert(msg.partition, msg.offset + 1);
                if remaining
                    .get(&msg.partition)
                    .is_some_and(|high| msg.offset + 1 >= *high)
                {
                    remaining.remove(&msg.partition);
                }
                if tx.blocking_send(msg).is_err() {
                    return Ok(Session::Done);
                }
            }
            Some(Err(e)) if lost(&e) => return Ok(Session::BrokerLost),
            Some(Err(e)) => tracing::warn!(error = %e, "tail read error"),
            None => {}
        }
    }
    Ok(Session::Done)
}
