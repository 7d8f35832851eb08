//! Every record of a topic read from the beginning by a plain rdkafka consumer (not our tail):
//! an independent reader of what reached the broker.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

pub struct Record {
    pub key: String,
    pub traceparent: Option<String>,
    pub partition: i32,
    pub offset: i64,
}

/// Reads until the broker has had nothing more for two seconds.
pub fn records(host: &str, topic: &str) -> Vec<Record> {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", host)
        .set("group.id", "records-test")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let meta = c
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .expect("metadata");
    let mut tpl = TopicPartitionList::new();
    for p in meta.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .expect("partition");
    }
    c.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let mut quiet = 0;
    while quiet < 10 {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                quiet = 0;
                let traceparent = m.headers().and_then(|h| {
                    h.iter()
                        .find(|h| h.key == "traceparent")
                        .and_then(|h| h.value)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                });
                let key = m.key().map(|k| String::from_utf8_lossy(k).into_owned());
                out.push(Record {
                    key: key.unwrap_or_default(),
                    traceparent,
                    partition: m.partition(),
                    offset: m.offset(),
                });
            }
            _ => quiet += 1,
        }
    }
    out
}
