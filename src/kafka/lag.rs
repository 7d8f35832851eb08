//! The topic's watermarks and the offsets consumer groups committed on it, for the pipeline
//! view. librdkafka's calls block, so readings run on a thread of their own that keeps one
//! client per group between readings (a client per reading would reconnect every time).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::TopicPartitionList;
use tokio::sync::oneshot;

use super::consumer::{base_consumer, committed_of, watermarks};
use super::{KafkaConfig, KafkaError};

const TIMEOUT: Duration = Duration::from_secs(3);
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
            out.push(GroupOffsets { group, committed });
        } else {
            clients.by_group.remove(&group);
            clients.elsewhere.insert(group);
        }
    }
    Ok(TopicReading { marks, groups: out })
}
