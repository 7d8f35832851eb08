//! The topic's watermarks and the offsets consumer groups committed on it, for the pipeline
//! view. librdkafka's calls block, so readings run on a thread of their own that keeps one
//! client per group between readings (a client per reading would reconnect every time).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::TopicPartitionList;
use tokio::sync::oneshot;

use super::consumer::{POLL, base_consumer, committed_of, watermarks};
use super::{KafkaConfig, KafkaError};

const TIMEOUT: Duration = Duration::from_secs(3);
/// How long the records' timestamps of one reading may take; unread, the next reading tries again.
const STAMP_WAIT: Duration = Duration::from_millis(500);
/// Groups found on the cluster that are read besides the ones asked for, at most.
const MORE_GROUPS: usize = 16;
/// The reader's own group id: it never joins it and never commits.
const OWN_GROUP: &str = "dataflow-status";

/// One partition's low and high watermarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionMarks {
    pub partition: i32,
    pub low: i64,
    pub high: i64,
}

/// What one group committed on the topic, per partition (None: nothing committed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOffsets {
    pub group: String,
    pub committed: Vec<(i32, Option<i64>)>,
    /// Per partition, the timestamp (ms) of the oldest record the group has not committed:
    /// None when nothing waits, or when it could not be read in time.
    pub waiting_since: Vec<(i32, Option<i64>)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicReading {
    pub marks: Vec<PartitionMarks>,
    pub groups: Vec<GroupOffsets>,
}

type Ask = (
    Vec<String>,
    oneshot::Sender<Result<TopicReading, KafkaError>>,
);

/// Requests waiting for the thread besides the one it is on: a caller that gave up on a slow
/// broker leaves its request behind, and those must not pile up.
const QUEUE: usize = 1;

/// Reads the topic and its groups on its own thread; the thread ends with the reader.
pub struct LagReader {
    tx: std::sync::mpsc::SyncSender<Ask>,
    kept: Arc<AtomicUsize>,
}

impl LagReader {
    pub fn start(cfg: &KafkaConfig) -> Result<LagReader, KafkaError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Ask>(QUEUE);
        let cfg = cfg.clone();
        let kept = Arc::new(AtomicUsize::new(0));
        let count = kept.clone();
        std::thread::Builder::new()
            .name("kafka-lag".into())
            .spawn(move || serve(&cfg, &rx, &count))
            .map_err(|e| KafkaError::Other(format!("cannot start the lag reader: {e}")))?;
        Ok(LagReader { tx, kept })
    }

    /// Clients kept between readings after the last one (its own included).
    pub fn kept_clients(&self) -> usize {
        self.kept.load(Ordering::Relaxed)
    }

    /// The topic's marks, and the offsets of `groups` and of the other groups that committed
    /// on the topic (those the cluster lists, up to 16 more).
    pub async fn read(&self, groups: Vec<String>) -> Result<TopicReading, KafkaError> {
        let (reply, rx) = oneshot::channel();
        self.tx.try_send((groups, reply)).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => {
                KafkaError::Other("the broker is still answering an earlier reading".into())
            }
            std::sync::mpsc::TrySendError::Disconnected(_) => {
                KafkaError::Other("the lag reader has stopped".into())
            }
        })?;
        rx.await
            .map_err(|_| KafkaError::Other("the lag reader ended without an answer".into()))?
    }
}

/// Clients kept between readings (the reader's own, the asked groups', and those of listed
/// groups that have members), and the listed groups found reading other topics (looked at
/// again every RECHECK readings, not every time).
#[derive(Default)]
struct Clients {
    by_group: HashMap<String, BaseConsumer<super::quiet::Quiet>>,
    elsewhere: HashSet<String>,
    /// What listed groups without members had committed, read with a client of the moment
    /// and kept until the next RECHECK (they have nobody to commit more).
    idle: HashMap<String, Vec<(i32, Option<i64>)>>,
    readings: u32,
    /// Record timestamps by (partition, offset), as last needed: a record never changes, and
    /// a group that does not move asks for the same one every reading.
    stamps: HashMap<(i32, i64), i64>,
    /// Each partition's high mark at the last reading: one that went down means the topic
    /// was made again, and the timestamps of its old records no longer hold.
    highs: HashMap<i32, i64>,
}

const RECHECK: u32 = 30;

fn serve(cfg: &KafkaConfig, rx: &std::sync::mpsc::Receiver<Ask>, kept: &AtomicUsize) {
    let mut clients = Clients::default();
    while let Ok((groups, reply)) = rx.recv() {
        clients.readings += 1;
        if clients.readings % RECHECK == 0 {
            clients.elsewhere.clear();
            clients.idle.clear();
        }
        let r = read(cfg, &mut clients, groups);
        kept.store(clients.by_group.len(), Ordering::Relaxed);
        let _ = reply.send(r);
    }
}

fn client<'a>(
    cfg: &KafkaConfig,
    clients: &'a mut Clients,
    group: &str,
) -> Result<&'a BaseConsumer<super::quiet::Quiet>, KafkaError> {
    if !clients.by_group.contains_key(group) {
        clients
            .by_group
            .insert(group.to_string(), base_consumer(cfg, group)?);
    }
    clients
        .by_group
        .get(group)
        .ok_or_else(|| KafkaError::Other("lag reader client missing".into()))
}

fn read(
    cfg: &KafkaConfig,
    clients: &mut Clients,
    mut groups: Vec<String>,
) -> Result<TopicReading, KafkaError> {
    let (marks, listed) = {
        let own = client(cfg, clients, OWN_GROUP)?;
        let marks: Vec<PartitionMarks> = watermarks(own, &cfg.topic)?
            .into_iter()
            .map(|(partition, low, high)| PartitionMarks {
                partition,
                low,
                high,
            })
            .collect();
        // Not every broker lists groups (the embedded one may not): then only the asked ones.
        let listed: Vec<(String, bool)> = own
            .fetch_group_list(None, TIMEOUT)
            .map(|l| {
                l.groups()
                    .iter()
                    .map(|g| (g.name().to_string(), !g.members().is_empty()))
                    .collect()
            })
            .unwrap_or_default();
        (marks, listed)
    };
    let asked = groups.len();
    let active: HashSet<String> = listed
        .iter()
        .filter(|(_, members)| *members)
        .map(|(g, _)| g.clone())
        .collect();
    let mut more: Vec<String> = listed
        .into_iter()
        .map(|(g, _)| g)
        .filter(|g| g != OWN_GROUP && !groups.contains(g) && !clients.elsewhere.contains(g))
        .collect();
    more.sort();
    more.truncate(MORE_GROUPS);
    groups.extend(more);
    // A group that left (no longer listed, or listed without members) keeps no client: one
    // that committed once and went away would otherwise hold a connection for good.
    clients
        .by_group
        .retain(|g, _| g == OWN_GROUP || groups[..asked].contains(g) || active.contains(g));
    let mut out = Vec::new();
    for (i, group) in groups.into_iter().enumerate() {
        let mut list = TopicPartitionList::new();
        for m in &marks {
            list.add_partition(&cfg.topic, m.partition);
        }
        if list.count() == 0 {
            out.push(GroupOffsets {
                group,
                committed: Vec::new(),
                waiting_since: Vec::new(),
            });
            continue;
        }
        let committed = if i < asked || active.contains(&group) {
            clients.idle.remove(&group);
            committed_of(&client(cfg, clients, &group)?.committed_offsets(list, TIMEOUT)?)
        } else if let Some(known) = clients.idle.get(&group) {
            known.clone()
        } else {
            let c = committed_of(&base_consumer(cfg, &group)?.committed_offsets(list, TIMEOUT)?);
            clients.idle.insert(group.clone(), c.clone());
            c
        };
        // A listed group that never committed on this topic reads something else.
        if i < asked || committed.iter().any(|(_, c)| c.is_some()) {
            out.push(GroupOffsets {
                group,
                committed,
                waiting_since: Vec::new(),
            });
        } else {
            clients.by_group.remove(&group);
            clients.elsewhere.insert(group);
        }
    }
    stamp_waiting(cfg, clients, &marks, &mut out)?;
    Ok(TopicReading { marks, groups: out })
}

/// Sets each group's `waiting_since` from the records at its committed offsets (the low mark
/// where it committed nothing), read with the reader's own client, which never commits. The
/// records not read within STAMP_WAIT stay unknown for this reading (a reading must answer
/// within a second); the next one reads them, and a known one is never read again.
fn stamp_waiting(
    cfg: &KafkaConfig,
    clients: &mut Clients,
    marks: &[PartitionMarks],
    groups: &mut [GroupOffsets],
) -> Result<(), KafkaError> {
    if marks
        .iter()
        .any(|m| clients.highs.get(&m.partition).is_some_and(|h| m.high < *h))
    {
        clients.stamps.clear();
    }
    clients.highs = marks.iter().map(|m| (m.partition, m.high)).collect();
    let mut wanted: Vec<(i32, i64)> = Vec::new();
    for g in groups.iter() {
        for (p, c) in &g.committed {
            if let Some(m) = marks.iter().find(|m| m.partition == *p) {
                let from = c.unwrap_or(m.low).max(m.low);
                if from < m.high && !wanted.contains(&(*p, from)) {
                    wanted.push((*p, from));
                }
            }
        }
    }
    let mut known: HashMap<(i32, i64), i64> = wanted
        .iter()
        .filter_map(|k| clients.stamps.get(k).map(|ts| (*k, *ts)))
        .collect();
    let missing: Vec<(i32, i64)> = wanted
        .into_iter()
        .filter(|k| !known.contains_key(k))
        .collect();
    if !missing.is_empty() {
        let own = client(cfg, clients, OWN_GROUP)?;
        // Only the seconds are lost when this fails: the offsets stand.
        match timestamps_at(own, &cfg.topic, &missing) {
            Ok(found) => known.extend(found),
            Err(e) => {
                tracing::debug!(error = %e, "lag reader: record timestamps not read");
                let _ = own.unassign();
            }
        }
    }
    for g in groups.iter_mut() {
        g.waiting_since = g
            .committed
            .iter()
            .map(|(p, c)| {
                let m = marks.iter().find(|m| m.partition == *p);
                let from = m.map(|m| c.unwrap_or(m.low).max(m.low));
                (*p, from.and_then(|f| known.get(&(*p, f)).copied()))
            })
            .collect();
    }
    clients.stamps = known;
    Ok(())
}

/// The timestamps of the first records at or after each (partition, offset), one offset per
/// partition at a time, all within STAMP_WAIT; those not read by then are left out.
fn timestamps_at(
    c: &BaseConsumer<super::quiet::Quiet>,
    topic: &str,
    wanted: &[(i32, i64)],
) -> Result<HashMap<(i32, i64), i64>, KafkaError> {
    let deadline = std::time::Instant::now() + STAMP_WAIT;
    let mut found = HashMap::new();
    let mut left: Vec<(i32, i64)> = wanted.to_vec();
    while !left.is_empty() && std::time::Instant::now() < deadline {
        // One offset per partition in this round.
        let mut round: Vec<(i32, i64)> = Vec::new();
        for k in &left {
            if !round.iter().any(|(p, _)| *p == k.0) {
                round.push(*k);
            }
        }
        let mut list = TopicPartitionList::new();
        for (p, o) in &round {
            list.add_partition_offset(topic, *p, rdkafka::Offset::Offset(*o))?;
        }
        c.assign(&list)?;
        let mut pending = round.clone();
        while !pending.is_empty() && std::time::Instant::now() < deadline {
            // Tansu may answer from the start of the batch holding the offset.
            if let Some(Ok(m)) = c.poll(POLL)
                && let Some(i) = pending
                    .iter()
                    .position(|(p, o)| m.partition() == *p && m.offset() >= *o)
            {
                let k = pending.remove(i);
                if let Some(ts) = m.timestamp().to_millis() {
                    found.insert(k, ts);
                }
            }
        }
        left.retain(|k| !round.contains(k));
    }
    c.unassign()?;
    Ok(found)
}
