//! The consumer route's reader: one long-lived consumer per group on a thread of its own
//! (librdkafka blocks). A fetch reads from the group's committed positions up to the
//! high-water marks (at most `max` messages); nothing moves until the caller commits what it
//! returned, so an abandoned fetch is read again by the next one.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::oneshot;

use super::consumer::{POLL, TailMessage, consumer_config, offsets_of, to_message, watermarks};
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
}

impl GroupReader {
    pub fn start(cfg: &KafkaConfig, group: &str) -> Result<GroupReader, KafkaError> {
        let (tx, rx) = mpsc::channel();
        let (cfg, topic, group) = (cfg.clone(), cfg.topic.clone(), group.to_string());
        std::thread::Builder::new()
            .name("kafka-group".into())
            .spawn(move || serve(&cfg, &topic, &group, rx))
            .map_err(|e| KafkaError::Other(format!("cannot start the group reader: {e}")))?;
        Ok(GroupReader { tx })
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
    let mut consumer: Option<BaseConsumer> = None;
    // The group's committed positions, as this reader last committed or read them.
    let mut committed: Option<HashMap<i32, i64>> = None;
    for req in rx {
        let c = match &consumer {
            Some(c) => c,
            // Short fetch waits: a fetch left waiting at the broker would hold up the next
            // call's offset requests (the embedded broker answered an empty call in 1.5 s).
            None => match consumer_config(cfg, group)
                .set("fetch.wait.max.ms", "10")
                .create::<BaseConsumer>()
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
                let r = fetch(c, topic, &mut committed, max);
                if r.is_err() {
                    committed = None; // read them again from the broker next time
                }
                let _ = reply.send(r);
            }
            Request::Commit { positions, reply } => {
                let r = commit(c, topic, &positions);
                match (&r, committed.as_mut()) {
                    (Ok(()), Some(map)) => map.extend(positions),
                    _ => committed = None,
                }
                let _ = reply.send(r);
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

fn fetch(
    c: &BaseConsumer,
    topic: &str,
    committed: &mut Option<HashMap<i32, i64>>,
    max: usize,
) -> Result<Fetched, KafkaError> {
    let marks = watermarks(c, topic)?;
    if marks.is_empty() {
        return Ok(Fetched::default());
    }
    let positions = match committed {
        Some(map) => map,
        None => committed.insert(load_committed(c, topic, &marks)?),
    };
    let mut assign = TopicPartitionList::new();
    let mut remaining = HashMap::new();
    for (p, low, high) in &marks {
        let start = positions.get(p).copied().unwrap_or(*low).clamp(*low, *high);
        if start < *high {
            assign.add_partition_offset(topic, *p, Offset::Offset(start))?;
            remaining.insert(*p, *high);
        }
    }
    let mut out = Fetched::default();
    if remaining.is_empty() || max == 0 {
        return Ok(out);
    }
    c.assign(&assign)?;
    let mut next: HashMap<i32, i64> = HashMap::new();
    let deadline = Instant::now() + FETCH_DEADLINE;
    while !remaining.is_empty() && out.messages.len() < max && Instant::now() < deadline {
        match c.poll(POLL) {
            Some(Ok(m)) => {
                let msg = to_message(&m);
                let Some(high) = remaining.get(&msg.partition).copied() else {
                    continue;
                };
                if msg.offset >= high {
                    continue;
                }
                if msg.offset + 1 >= high {
                    remaining.remove(&msg.partition);
                }
                next.insert(msg.partition, msg.offset + 1);
                out.messages.push(msg);
            }
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
    }
    // Nothing keeps fetching between calls.
    c.unassign()?;
    out.positions = next.into_iter().collect();
    out.positions.sort_unstable();
    Ok(out)
}

fn load_committed(
    c: &BaseConsumer,
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

fn commit(c: &BaseConsumer, topic: &str, positions: &[(i32, i64)]) -> Result<(), KafkaError> {
    let mut tpl = TopicPartitionList::new();
    for (p, offset) in positions {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*offset))?;
    }
    c.commit(&tpl, CommitMode::Sync)?;
    Ok(())
}
