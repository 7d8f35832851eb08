//! The consumer route's reader: one long-lived consumer per group on a thread of its own
//! (librdkafka blocks). A fetch reads from the group's committed positions, as the broker has
//! them now, to the end of each partition (at most `max` messages); nothing moves until the
//! caller commits what it returned, so an abandoned fetch is read again by the next one.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::oneshot;

use super::consumer::{
    POLL, TailMessage, connection_lost, consumer_config, offsets_of, to_message, watermarks,
};
use super::{KafkaConfig, KafkaError};

const META_TIMEOUT: Duration = Duration::from_secs(5);
/// A fetch gives up waiting for messages below the marks after this long.
const FETCH_DEADLINE: Duration = Duration::from_secs(10);

/// Messages of one fetch, and the position to commit per partition once they were delivered.
#[derive(Debug, Default)]
pub struct Fetched {
    pub messages: Vec<TailMessage>,
    pub positions: Vec<(i32, i64)>,
}

enum Request {
    Fetch {
        max: usize,
        reply: oneshot::Sender<Result<Fetched, KafkaError>>,
    },
    Commit {
        positions: Vec<(i32, i64)>,
        reply: oneshot::Sender<Result<(), KafkaError>>,
    },
}

/// Dropping it ends the thread (and the consumer) once the current request is done.
pub struct GroupReader {
    tx: mpsc::Sender<Request>,
    /// The broker it reads from: a reader of a broker that moved is replaced.
    pub bootstrap: String,
}

impl GroupReader {
    pub fn start(cfg: &KafkaConfig, group: &str) -> Result<GroupReader, KafkaError> {
        let (tx, rx) = mpsc::channel();
        let bootstrap = cfg.bootstrap.clone();
        let (cfg, topic, group) = (cfg.clone(), cfg.topic.clone(), group.to_string());
        std::thread::Builder::new()
            .name("kafka-group".into())
            .spawn(move || serve(&cfg, &topic, &group, rx))
            .map_err(|e| KafkaError::Other(format!("cannot start the group reader: {e}")))?;
        Ok(GroupReader { tx, bootstrap })
    }

    pub async fn fetch(&self, max: usize) -> Result<Fetched, KafkaError> {
        let (reply, rx) = oneshot::channel();
        self.ask(Request::Fetch { max, reply })?;
        rx.await.map_err(|_| gone())?
    }

    pub async fn commit(&self, positions: Vec<(i32, i64)>) -> Result<(), KafkaError> {
        if positions.is_empty() {
            return Ok(());
        }
        let (reply, rx) = oneshot::channel();
        self.ask(Request::Commit { positions, reply })?;
        rx.await.map_err(|_| gone())?
    }

    fn ask(&self, r: Request) -> Result<(), KafkaError> {
        self.tx.send(r).map_err(|_| gone())
    }
}

fn gone() -> KafkaError {
    KafkaError::Other("the group reader stopped".into())
}

fn serve(cfg: &KafkaConfig, topic: &str, group: &str, rx: mpsc::Receiver<Request>) {
    let mut consumer: Option<BaseConsumer<super::quiet::Quiet>> = None;
    let mut gaps = Gaps::default();
    for req in rx {
        let c = match &consumer {
            Some(c) => c,
            // Short fetch waits: a fetch left waiting at the broker would hold up the next
            // call's offset requests (the embedded broker answered an empty call in 1.5 s).
            // EOF events tell a partition that has nothing more now from one still coming;
            // `error` on a position the broker does not have: never jump to another one.
            None => match consumer_config(cfg, group)
                .set("fetch.wait.max.ms", "10")
                .set("enable.partition.eof", "true")
                .set("auto.offset.reset", "error")
                .create_with_context::<_, BaseConsumer<super::quiet::Quiet>>(super::quiet::Quiet)
                .map_err(KafkaError::from)
            {
                Ok(c) => consumer.insert(c),
                Err(e) => {
                    fail(req, e);
                    continue;
                }
            },
        };
        match req {
            Request::Fetch { max, reply } => {
                let _ = reply.send(fetch(c, topic, &mut gaps, max));
            }
            Request::Commit { positions, reply } => {
                let _ = reply.send(commit(c, topic, &positions));
            }
        }
    }
}

fn fail(req: Request, e: KafkaError) {
    let msg = e.to_string();
    match req {
        Request::Fetch { reply, .. } => drop(reply.send(Err(KafkaError::Other(msg)))),
        Request::Commit { reply, .. } => drop(reply.send(Err(KafkaError::Other(msg)))),
    }
}

/// A hole in a partition's offsets: `(partition, from)` -> (the next offset seen, when first
/// seen). A broker may show a record before the one below it is readable (Tansu does, at the
/// tail, under concurrent producers), so a hole is read past only once it has stood for
/// GAP_SETTLE; a real one (compaction, a transaction marker) costs one such wait.
#[derive(Default)]
struct Gaps(HashMap<(i32, i64), (i64, Instant)>);

/// How long a hole in the offsets must stand before it is taken as real.
const GAP_SETTLE: Duration = Duration::from_millis(500);

impl Gaps {
    /// True when the records from `from` up to `next` can be taken as absent for good.
    fn settled(&mut self, partition: i32, from: i64, next: i64) -> bool {
        let now = Instant::now();
        let seen = self.0.entry((partition, from)).or_insert((next, now));
        if seen.0 != next {
            *seen = (next, now);
        }
        let settled = now.duration_since(seen.1) >= GAP_SETTLE;
        if settled {
            self.0.remove(&(partition, from));
        }
        settled
    }

    fn forget(&mut self, partition: i32) {
        self.0.retain(|(p, _), _| *p != partition);
    }
}

/// One partition within a fetch.
struct Reading {
    /// The next offset to return.
    next: i64,
    /// Where this call started: a hole there may be the broker's, not the log's.
    start: i64,
    low: i64,
    /// The broker's mark: only a hint (Tansu's lags and moves back), used to tell that an
    /// empty answer from `start` may be the broker's.
    high: i64,
    /// How far before `start` it is reading now (see `look_back`), and whether it has read
    /// a message there: then the broker shows what it holds around `start`.
    back: i64,
    below: bool,
    open: bool,
    /// When it last got a message (or read back).
    seen: Instant,
}

/// Nothing from `start` for this long though the mark is past it: read back (harmless when
/// the broker was only slow: what comes before `start` is passed over).
const QUIET: Duration = Duration::from_millis(500);
/// No progress for this long without the broker's end-of-partition: read on next call.
const STALL: Duration = Duration::from_secs(2);

/// First look-back, and its growth per retry.
const LOOK_BACK: i64 = 16;

/// Reads from the group's committed positions (asked of the broker on every call: another
/// process or Kafka's own tools may have moved them) until every partition is at its end, or
/// `max`. Only an unbroken run of offsets is returned per partition, and the position to
/// commit is the last returned offset + 1, so nothing is ever committed that was not returned.
fn fetch(
    c: &BaseConsumer<super::quiet::Quiet>,
    topic: &str,
    gaps: &mut Gaps,
    max: usize,
) -> Result<Fetched, KafkaError> {
    let began = Instant::now();
    let marks = watermarks(c, topic)?;
    let mut out = Fetched::default();
    if marks.is_empty() || max == 0 {
        return Ok(out);
    }
    let marked = began.elapsed();
    let committed = load_committed(c, topic, &marks)?;
    let asked = began.elapsed();
    let mut assign = TopicPartitionList::new();
    let mut parts: HashMap<i32, Reading> = HashMap::new();
    for (p, low, high) in &marks {
        // The marks are not trusted as an upper bound (Tansu's lag behind its log and can move
        // back): the broker's end-of-partition answer ends a partition instead.
        let start = committed.get(p).copied().unwrap_or(*low).max(*low);
        assign.add_partition_offset(topic, *p, Offset::Offset(start))?;
        let (next, low, high, back, below, open) = (start, *low, *high, 0, false, true);
        parts.insert(
            *p,
            Reading {
                next,
                start,
                low,
                high,
                back,
                below,
                open,
                seen: Instant::now(),
            },
        );
    }
    c.assign(&assign)?;
    let deadline = Instant::now() + FETCH_DEADLINE;
    while parts.values().any(|r| r.open) && out.messages.len() < max && Instant::now() < deadline {
        match c.poll(POLL) {
            Some(Ok(m)) => {
                let msg = to_message(&m);
                let p = msg.partition;
                let Some(r) = parts.get_mut(&p) else {
                    continue;
                };
                r.seen = Instant::now();
                if !r.open || msg.offset < r.next {
                    r.below |= r.back > 0 && msg.offset < r.start;
                    continue;
                }
                if msg.offset > r.next {
                    if look_back(c, topic, p, r) {
                        continue;
                    }
                    if !gaps.settled(p, r.next, msg.offset) {
                        tracing::debug!(
                            partition = p,
                            expected = r.next,
                            got = msg.offset,
                            "hole in the offsets; read again next call"
                        );
                        r.open = false;
                        continue;
                    }
                }
                gaps.forget(p);
                r.next = msg.offset + 1;
                out.positions_of(p, r.next);
                out.messages.push(msg);
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                if let Some(r) = parts.get_mut(&p) {
                    // Nothing from `start` though the mark says there is more: `start` may be
                    // inside the partition's last batch, which Tansu does not answer with.
                    let empty = r.next == r.start && r.high > r.start;
                    r.open = empty && look_back(c, topic, p, r);
                }
            }
            Some(Err(e)) => {
                // A position the broker does not have (auto.offset.reset=error) ends only its
                // partition; anything else ends the call.
                if let Some(p) = out_of_range_partition(&e) {
                    tracing::warn!(partition = p, error = %e, "consumer route: position not on the broker");
                    if let Some(r) = parts.get_mut(&p) {
                        r.open = false;
                    }
                    continue;
                }
                // A lost connection (often one of before this call: the broker restarted) is
                // librdkafka's to mend; this call has just had the marks and positions from
                // the broker, and its deadline still bounds it.
                if connection_lost(&e) {
                    tracing::debug!(error = %e, "consumer route: connection trouble; polling on");
                    continue;
                }
                let _ = c.unassign();
                return Err(e.into());
            }
            None => {}
        }
        // Tansu answers a fetch from inside the partition's last batch with nothing, and its
        // mark is then behind the position (the last batch's base + 1), so librdkafka never
        // reports the end: no EOF comes. Quiet from the start means read back; quiet after
        // reading back (what is around `start` has come) or for long means the end for now.
        let now = Instant::now();
        for (p, r) in parts.iter_mut().filter(|(_, r)| r.open) {
            let quiet = now.duration_since(r.seen);
            if quiet <= QUIET {
                continue;
            }
            if look_back(c, topic, *p, r) {
                r.seen = now;
            } else if r.below || quiet > STALL {
                tracing::debug!(
                    partition = p,
                    next = r.next,
                    "no progress; read on next call"
                );
                r.open = false;
            }
        }
    }
    // Nothing keeps fetching between calls.
    c.unassign()?;
    out.positions.sort_unstable();
    tracing::debug!(
        marks_ms = marked.as_secs_f64() * 1e3,
        committed_ms = asked.as_secs_f64() * 1e3,
        total_ms = began.elapsed().as_secs_f64() * 1e3,
        messages = out.messages.len(),
        "consumer route: fetch"
    );
    Ok(out)
}

/// A hole right at a call's starting position may be the broker's: Tansu 0.6 answers a fetch
/// from an offset inside a record batch with the batches after it, so a position left
/// mid-batch (a call that stopped at `max`) would skip the rest of that batch. Reading again
/// from further back (16, 64, 256... offsets, never below the log start) finds the batch that
/// holds the position; messages before it are passed over. True while it is still looking.
fn look_back(c: &BaseConsumer<super::quiet::Quiet>, topic: &str, p: i32, r: &mut Reading) -> bool {
    let room = r.start - r.low;
    if r.next != r.start || r.below || r.back >= room {
        return false;
    }
    r.back = if r.back == 0 { LOOK_BACK } else { r.back * 4 }.min(room);
    let from = Offset::Offset(r.start - r.back);
    match c.seek(topic, p, from, META_TIMEOUT) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(partition = p, error = %e, "consumer route: cannot read back");
            false
        }
    }
}

/// librdkafka reports a reset refused by `auto.offset.reset=error` as a consumer error
/// naming the partition in its text ("[N]").
fn out_of_range_partition(e: &rdkafka::error::KafkaError) -> Option<i32> {
    let text = e.to_string();
    if !text.contains("out of range")
        && !text.contains("OutOfRange")
        && !text.contains("Offset out")
    {
        return None;
    }
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    text[start..end].parse().ok()
}

impl Fetched {
    fn positions_of(&mut self, partition: i32, position: i64) {
        match self.positions.iter_mut().find(|(p, _)| *p == partition) {
            Some(entry) => entry.1 = position,
            None => self.positions.push((partition, position)),
        }
    }
}

fn load_committed(
    c: &BaseConsumer<super::quiet::Quiet>,
    topic: &str,
    marks: &[(i32, i64, i64)],
) -> Result<HashMap<i32, i64>, KafkaError> {
    let mut asked = TopicPartitionList::new();
    for (p, _, _) in marks {
        asked.add_partition(topic, *p);
    }
    let got = c.committed_offsets(asked, META_TIMEOUT)?;
    Ok(offsets_of(&got))
}

fn commit(
    c: &BaseConsumer<super::quiet::Quiet>,
    topic: &str,
    positions: &[(i32, i64)],
) -> Result<(), KafkaError> {
    let mut tpl = TopicPartitionList::new();
    for (p, offset) in positions {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*offset))?;
    }
    let began = Instant::now();
    c.commit(&tpl, CommitMode::Sync)?;
    tracing::debug!(
        ms = began.elapsed().as_secs_f64() * 1e3,
        "consumer route: commit"
    );
    Ok(())
}
