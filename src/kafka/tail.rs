//! The live tail: reads the topic without ever committing. When the broker goes away, the
//! consumer is dropped and a fresh one resumes from the next offsets once it is back: a
//! consumer that lived through a broker losing its topic crashed librdkafka 2.12 (SIGSEGV in
//! its metadata cache, on a topic entry without a name).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::consumer::{POLL, connection_lost, consumer_config, offsets_of, to_message, watermarks};
use super::{KafkaConfig, KafkaError, TailOptions, TailStart};

enum Session {
    Done,
    BrokerLost,
    /// The topic does not have what was asked for (a partition, an offset).
    Refused(String),
}

/// Streams the topic into `tx`. Without `follow` it stops at the high-water marks seen at
/// start. Blocks its thread; set `stop` to end it early.
pub fn tail(
    cfg: &KafkaConfig,
    opts: TailOptions,
    tx: tokio::sync::mpsc::Sender<super::TailMessage>,
    stop: Arc<AtomicBool>,
) -> Result<(), KafkaError> {
    tail_counting(cfg, opts, tx, stop, &std::sync::atomic::AtomicI32::new(0))
}

/// `tail`, telling `partitions` how many the topic has once it is read (for a reader that
/// checks a seek or a filter against it).
pub fn tail_counting(
    cfg: &KafkaConfig,
    opts: TailOptions,
    tx: tokio::sync::mpsc::Sender<super::TailMessage>,
    stop: Arc<AtomicBool>,
    partitions: &std::sync::atomic::AtomicI32,
) -> Result<(), KafkaError> {
    let group = format!("dataflow-tail-{}", std::process::id());
    // The next offset per partition, once reading began: where a new consumer resumes.
    let mut next: Option<HashMap<i32, i64>> = None;
    loop {
        match session(cfg, &group, opts, &mut next, &tx, &stop, partitions) {
            Ok(Session::Done) => return Ok(()),
            // What the topic does not have: said once, never retried.
            Ok(Session::Refused(why)) => return Err(KafkaError::Other(why)),
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
    times: &HashMap<i32, i64>,
) -> Result<(TopicPartitionList, HashMap<i32, i64>), KafkaError> {
    let mut assign = TopicPartitionList::new();
    let mut remaining = HashMap::new();
    for (p, low, high) in marks {
        if opts.partition.is_some_and(|only| only != *p) {
            continue;
        }
        let start = match (next, opts.start) {
            (Some(saved), _) => match saved.get(p) {
                Some(n) if n <= high => (*n).max(*low),
                _ => *low,
            },
            (None, TailStart::Beginning) => *low,
            (None, TailStart::Last(n)) => (*high - n as i64).max(*low),
            (None, TailStart::Offset(n)) => n.clamp(*low, *high),
            (None, TailStart::Time(_)) => times.get(p).copied().unwrap_or(*high).clamp(*low, *high),
        };
        assign.add_partition_offset(topic, *p, Offset::Offset(start))?;
        if start < *high {
            remaining.insert(*p, *high);
        }
    }
    Ok((assign, remaining))
}

/// Per partition, the first offset at or after `ms`; a partition with nothing that recent is
/// left out (it starts at its end).
fn offsets_for_time(
    c: &BaseConsumer<super::quiet::Quiet>,
    topic: &str,
    marks: &[(i32, i64, i64)],
    ms: i64,
) -> Result<HashMap<i32, i64>, KafkaError> {
    let mut asked = TopicPartitionList::new();
    for (p, _, _) in marks {
        asked.add_partition_offset(topic, *p, Offset::Offset(ms))?;
    }
    let got = c.offsets_for_times(asked, Duration::from_secs(5))?;
    Ok(offsets_of(&got))
}

/// Per partition, the first offset whose message is stamped at or after `ms`, by binary search
/// (message timestamps rise with offsets for one producer's messages).
fn search_time(
    c: &BaseConsumer<super::quiet::Quiet>,
    topic: &str,
    marks: &[(i32, i64, i64)],
    ms: i64,
) -> Result<HashMap<i32, i64>, KafkaError> {
    let mut out = HashMap::new();
    for (p, low, high) in marks {
        let (mut lo, mut hi) = (*low, *high);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match timestamp_at(c, topic, *p, mid)? {
                Some(ts) if ts >= ms => hi = mid,
                Some(_) => lo = mid + 1,
                None => break,
            }
        }
        out.insert(*p, lo);
    }
    c.unassign()?;
    Ok(out)
}

/// The timestamp of the message at `offset` (None when it cannot be read in time).
fn timestamp_at(
    c: &BaseConsumer<super::quiet::Quiet>,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<Option<i64>, KafkaError> {
    let mut one = TopicPartitionList::new();
    one.add_partition_offset(topic, partition, Offset::Offset(offset))?;
    c.assign(&one)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(POLL)
            && m.partition() == partition
            && m.offset() >= offset
        {
            return Ok(m.timestamp().to_millis());
        }
    }
    Ok(None)
}

fn session(
    cfg: &KafkaConfig,
    group: &str,
    opts: TailOptions,
    next: &mut Option<HashMap<i32, i64>>,
    tx: &tokio::sync::mpsc::Sender<super::TailMessage>,
    stop: &AtomicBool,
    partitions: &std::sync::atomic::AtomicI32,
) -> Result<Session, KafkaError> {
    // The broker's end-of-partition answer ends a partition where its mark is right.
    let c: BaseConsumer<super::quiet::Quiet> = consumer_config(cfg, group)
        .set("enable.partition.eof", "true")
        .create_with_context(super::quiet::Quiet)?;
    let mut marks = watermarks(&c, &cfg.topic)?;
    while marks.is_empty() && opts.follow && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(500));
        marks = watermarks(&c, &cfg.topic)?;
    }
    partitions.store(marks.len() as i32, Ordering::Relaxed);
    if let Some(p) = opts.partition
        && !marks.is_empty()
        && !marks.iter().any(|(q, _, _)| *q == p)
    {
        return Ok(Session::Refused(format!(
            "partition {p} does not exist: {} has partitions 0 to {}",
            cfg.topic,
            marks.len() - 1
        )));
    }
    // An offset the partition does not hold is refused, naming what it holds.
    if let (Some(p), TailStart::Offset(n), None) = (opts.partition, opts.start, next.as_ref())
        && let Some((_, low, high)) = marks.iter().find(|(q, _, _)| *q == p)
        && (n < *low || n > *high)
    {
        return Ok(Session::Refused(format!(
            "partition {p} holds offsets {low} to {} (the next is {high}), not {n}",
            (*high - 1).max(*low)
        )));
    }
    let times = match (opts.start, next.is_none()) {
        // librdkafka's mock cluster answers offsets-for-times with nothing ("FIXME: by
        // timestamp" in its ListOffsets handler): search the timestamps instead.
        (TailStart::Time(ms), true) if cfg.embedded => search_time(&c, &cfg.topic, &marks, ms)?,
        (TailStart::Time(ms), true) => offsets_for_time(&c, &cfg.topic, &marks, ms)?,
        _ => HashMap::new(),
    };
    let (assign, mut remaining) = assignment(&cfg.topic, &marks, opts, next, &times)?;
    if marks.is_empty() || (!opts.follow && remaining.is_empty()) {
        return Ok(Session::Done);
    }
    c.assign(&assign)?;
    // A broker may answer offsets-for-times loosely (Tansu 0.6 gave an older message for a
    // partition with nothing newer): what is stamped before the instant is skipped.
    let since = match (opts.start, next.is_none()) {
        (TailStart::Time(ms), true) => Some(ms),
        _ => None,
    };
    let positions = next.get_or_insert_with(HashMap::new);
    // Where each partition starts now (a re-created topic starts lower than before).
    for e in assign.elements() {
        if let Offset::Offset(o) = e.offset() {
            positions.insert(e.partition(), o);
        }
    }
    let mut ends = Ends::new(&remaining);
    while !stop.load(Ordering::Relaxed) && (opts.follow || !remaining.is_empty()) {
        ends.finish(&mut remaining);
        match c.poll(POLL) {
            Some(Ok(m)) => {
                let msg = to_message(&m);
                // Tansu can answer a fetch with a batch it sent before.
                if positions
                    .get(&msg.partition)
                    .is_some_and(|n| msg.offset < *n)
                {
                    continue;
                }
                positions.insert(msg.partition, msg.offset + 1);
                ends.seen(&remaining, msg.partition, msg.offset);
                if since.is_some_and(|ms| msg.timestamp_ms.is_some_and(|t| t < ms)) {
                    continue;
                }
                if tx.blocking_send(msg).is_err() {
                    return Ok(Session::Done);
                }
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                remaining.remove(&p);
            }
            Some(Err(e)) if connection_lost(&e) => return Ok(Session::BrokerLost),
            Some(Err(e)) => tracing::warn!(error = %e, "tail read error"),
            None => {}
        }
    }
    Ok(Session::Done)
}

/// When a partition is read to its end without `--follow`. The broker's end-of-partition
/// answer ends it; so does reaching the mark and then nothing for `QUIET`, since Tansu 0.6's
/// marks lag its log (the last batch's base + 1) and it then sends no end-of-partition; and
/// nothing at all for `STALL` (its marks can also be ahead of what it serves).
struct Ends {
    last: HashMap<i32, Instant>,
    past_mark: HashSet<i32>,
}

const QUIET: Duration = Duration::from_millis(500);
const STALL: Duration = Duration::from_secs(3);

impl Ends {
    fn new(remaining: &HashMap<i32, i64>) -> Ends {
        let now = Instant::now();
        Ends {
            last: remaining.keys().map(|p| (*p, now)).collect(),
            past_mark: HashSet::new(),
        }
    }

    fn seen(&mut self, remaining: &HashMap<i32, i64>, p: i32, offset: i64) {
        self.last.insert(p, Instant::now());
        if remaining.get(&p).is_some_and(|high| offset + 1 >= *high) {
            self.past_mark.insert(p);
        }
    }

    fn finish(&self, remaining: &mut HashMap<i32, i64>) {
        remaining.retain(|p, _| {
            let quiet = self.last.get(p).map_or(Duration::ZERO, Instant::elapsed);
            !((self.past_mark.contains(p) && quiet > QUIET) || quiet > STALL)
        });
    }
}
