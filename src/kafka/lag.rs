//! The topic's watermarks and the offsets consumer groups committed on it, for the pipeline
//! view. librdkafka's calls block, so readings run on a thread of their own that keeps one
//! client per group between readings (a client per reading would reconnect every time).

use std::collections::{HashMap, HashSet};
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

/// Reads the topic and its groups on its own thread; the thread ends with the reader.
pub struct LagReader {
    tx: std::sync::mpsc::Sender<Ask>,
}

impl LagReader {
    pub fn start(cfg: &KafkaConfig) -> Result<LagReader, KafkaError> {
        let (tx, rx) = std::sync::mpsc::channel::<Ask>();
        let cfg = cfg.clone();
        std::thread::Builder::new()
            .name("kafka-lag".into())
            .spawn(move || serve(&cfg, &rx))
            .map_err(|e| KafkaError::Other(format!("cannot start the lag reader: {e}")))?;
        Ok(LagReader { tx })
    }

    /// The topic's marks, and the offsets of `groups` and of the other groups that committed
    /// on the topic (those the cluster lists, up to 16 more).
    pub async fn read(&self, groups: Vec<String>) -> Result<TopicReading, KafkaError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((groups, reply))
            .map_err(|_| KafkaError::Other("the lag reader has stopped".into()))?;
        rx.await
            .map_err(|_| KafkaError::Other("the lag reader ended without an answer".into()))?
    }
}

/// Clients kept between readings, and the listed groups found reading other topics (looked
/// at again every RECHECK readings, not every time).
#[derive(Default)]
struct Clients {
    by_group: HashMap<String, BaseConsumer<super::quiet::Quiet>>,
    elsewhere: HashSet<String>,
    readings: u32,
}

const RECHECK: u32 = 30;

fn serve(cfg: &KafkaConfig, rx: &std::sync::mpsc::Receiver<Ask>) {
    let mut clients = Clients::default();
    while let Ok((groups, reply)) = rx.recv() {
        clients.readings += 1;
        if clients.readings % RECHECK == 0 {
            clients.elsewhere.clear();
        }
        let _ = reply.send(read(cfg, &mut clients, groups));
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
        let listed: Vec<String> = own
            .fetch_group_list(None, TIMEOUT)
            .map(|l| l.groups().iter().map(|g| g.name().to_string()).collect())
            .unwrap_or_default();
        (marks, listed)
    };
    let asked = groups.len();
    let mut more: Vec<String> = listed
        .into_iter()
        .filter(|g| g != OWN_GROUP && !groups.contains(g) && !clients.elsewhere.contains(g))
        .collect();
    more.sort();
    more.truncate(MORE_GROUPS);
    groups.extend(more);
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
        let got = client(cfg, clients, &group)?.committed_offsets(list, TIMEOUT)?;
        let committed = committed_of(&got);
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
