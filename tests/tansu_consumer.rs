//! The consumer route on a real broker (Tansu, memory storage, whose marks lag its log):
//! products registered by two replicas while three callers, on both replicas, read the shared
//! group. Every product comes back exactly once. Then an offset reset made from outside, and a
//! broker that comes back empty.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::tansu::{free_port, start_tansu_memory};
use common::{Backend, TestDb, assert_once_each, blusa, drain_pending};
use dataflow::service::Service;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

const TOPIC: &str = "route-products";

/// Calls the route until it has answered nothing `empty` times in a row; the ids returned.
async fn read_until_quiet(svc: &Service, empty: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut quiet = 0;
    while quiet < empty {
        let got = svc.consume(200).await.expect("consume");
        quiet = if got.messages.is_empty() {
            quiet + 1
        } else {
            0
        };
        ids.extend(got.messages.iter().filter_map(|m| m.value["id"].as_i64()));
        got.commit().await.expect("commit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ids
}

/// Commits `offset` for every partition of the group, as Kafka's own reset tool would.
fn reset_group(host: &str, group: &str, partitions: i32, offset: i64) {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", host)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(TOPIC, p, Offset::Offset(offset))
            .unwrap();
    }
    c.commit(&tpl, CommitMode::Sync).expect("reset commits");
}

/// Products each writer registers while the callers read.
const PER_WRITER: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_once_across_callers_and_replicas_postgres() {
    every_message_once(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_once_across_callers_and_replicas_sqlite() {
    every_message_once(Backend::Sqlite).await;
}

async fn every_message_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let port = free_port();
    let mut broker = start_tansu_memory(port, db.dir.path());
    let host = format!("127.0.0.1:{port}");
    let vars = [("KAFKA_HOST", host.as_str()), ("TOPIC_PRODUCTS", TOPIC)];
    let a = Service::start(db.settings(&vars)).await.unwrap();
    let b = Service::start(db.settings(&vars)).await.unwrap();
    common::wait_broker_up(&a).await;

    // Writers on both replicas, while two callers on `a` and one on `b` read.
    let writing = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for svc in [&a, &b, &a, &b] {
        let svc = svc.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..PER_WRITER {
                ids.push(svc.register(&blusa()).await.unwrap().product.id);
            }
            ids
        }));
    }
    let mut readers = Vec::new();
    for svc in [&a, &a, &b] {
        let (svc, writing) = (svc.clone(), writing.clone());
        readers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while writing.load(Ordering::Relaxed) {
                let got = svc.consume(100).await.expect("consume");
                ids.extend(got.messages.iter().filter_map(|m| m.value["id"].as_i64()));
                got.commit().await.expect("commit");
            }
            ids
        }));
    }
    let mut registered = Vec::new();
    for w in writers {
        registered.extend(w.await.unwrap());
    }
    writing.store(false, Ordering::Relaxed);
    let mut returned = Vec::new();
    for r in readers {
        returned.extend(r.await.unwrap());
    }
    assert_eq!(drain_pending(&a).await, 0, "everything reached the broker");
    returned.extend(read_until_quiet(&b, 3).await);
    assert_eq!(registered.len(), 4 * PER_WRITER);
    assert_once_each(&returned, &registered);

    // A reset from outside (offsets back to 0) is honoured: everything comes again, once.
    reset_group(&host, "consumer-group", 3, 0);
    assert_once_each(&read_until_quiet(&a, 2).await, &registered);

    // The broker comes back empty (memory storage): only what is published there comes.
    broker.kill().unwrap();
    broker.wait().unwrap();
    let mut broker = start_tansu_memory(port, db.dir.path());
    let mut after = Vec::new();
    for _ in 0..5 {
        after.push(a.register(&blusa()).await.unwrap().product.id);
    }
    let left = drain_pending(&a).await;
    assert_eq!(left, 0, "published to the new broker");
    assert_once_each(&read_until_quiet(&b, 3).await, &after);

    a.shutdown().await;
    b.shutdown().await;
    broker.kill().unwrap();
    broker.wait().unwrap();
    db.drop_db().await;
}

/// Tansu answers a fetch from inside a record batch with the batches after it: calls that stop
/// inside one batch (`max` 3 of a batch of 10, the partition's last) still return all of it,
/// once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_that_stop_inside_a_batch_lose_none_of_it_sqlite() {
    stop_inside_a_batch(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_that_stop_inside_a_batch_lose_none_of_it_postgres() {
    stop_inside_a_batch(Backend::Postgres).await;
}

async fn stop_inside_a_batch(backend: Backend) {
    let db = TestDb::new(backend).await;
    let port = free_port();
    let mut broker = start_tansu_memory(port, db.dir.path());
    let host = format!("127.0.0.1:{port}");
    let vars = [("KAFKA_HOST", host.as_str()), ("TOPIC_PRODUCTS", TOPIC)];
    let svc = Service::start(db.settings(&vars)).await.unwrap();
    common::wait_broker_up(&svc).await; // the topic exists

    // Ten messages of one key, queued together: one batch.
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &host)
        .set("linger.ms", "500")
        .create()
        .expect("producer");
    let payloads: Vec<String> = (0..10)
        .map(|i| serde_json::json!({"id": 1000 + i}).to_string())
        .collect();
    let sends: Vec<_> = payloads
        .iter()
        .map(|p| {
            producer
                .send_result(FutureRecord::to(TOPIC).key("batch").payload(p))
                .expect("queued")
        })
        .collect();
    for s in sends {
        s.await.expect("delivered").expect("acknowledged");
    }

    let mut returned = Vec::new();
    for _ in 0..8 {
        let got = svc.consume(3).await.expect("consume");
        returned.extend(got.messages.iter().filter_map(|m| m.value["id"].as_i64()));
        got.commit().await.expect("commit");
    }
    assert_eq!(returned, (1000..1010).collect::<Vec<_>>());

    svc.shutdown().await;
    broker.kill().unwrap();
    broker.wait().unwrap();
    db.drop_db().await;
}
