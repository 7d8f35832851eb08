//! End to end against a real Kafka-compatible broker (Tansu, a separate process): register,
//! stop the broker, register more (they succeed, pending), start it again, and every event
//! arrives exactly once per product, counted by an independent consumer process.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Backend, TestDb, blusa};
use dataflow::domain::PublishState;
use dataflow::service::Service;

use common::tansu::{dataflow_tail, free_port, start_tansu};

async fn wait_until_published(svc: &Service, bound: Duration) {
    let start = Instant::now();
    loop {
        let s = svc.status().await;
        if s.pending == Some(0) {
            return;
        }
        // What the process itself says of its broker, for a run that stays pending (seen
        // once; RELIABILITY): the broker back or not, and the relay's last note.
        assert!(
            start.elapsed() < bound,
            "still {:?} pending after {bound:?}; broker ok {}, note {:?}, refused {:?}",
            s.pending,
            s.broker_ok,
            s.broker_note,
            s.refused
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_loses_nothing_and_duplicates_nothing() {
    let db = TestDb::new(Backend::Postgres).await;
    let port = free_port();
    let mut broker = start_tansu(port, db.dir.path());
    let host = format!("127.0.0.1:{port}");
    let svc =
        Service::start(db.settings(&[("KAFKA_HOST", &host), ("TOPIC_PRODUCTS", "e2e-products")]))
            .await
            .unwrap();

    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(svc.register(&blusa()).await.unwrap().product.id);
    }
    wait_until_published(&svc, Duration::from_secs(30)).await;

    broker.kill().unwrap();
    broker.wait().unwrap();
    for _ in 0..5 {
        let p = svc
            .register(&blusa())
            .await
            .expect("registers while the broker is down")
            .product;
        assert_eq!(p.publish, PublishState::Pending);
        ids.push(p.id);
    }
    // Changes while the broker is down: two edits of one product, a delete of another.
    let edit = |id| dataflow::service::Edit {
        id,
        expected: None,
        by: None,
        origin: None,
    };
    for _ in 0..2 {
        svc.update(edit(ids[0]), &blusa()).await.unwrap();
    }
    svc.delete(edit(ids[1])).await.unwrap();
    assert_eq!(svc.status().await.pending, Some(8));

    let mut broker = start_tansu(port, db.dir.path());
    wait_until_published(&svc, Duration::from_secs(90)).await;

    // An independent consumer: our CLI in its own process, with its own client.
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for v in dataflow_tail(&host, "e2e-products", db.dir.path(), &["--from-beginning"]) {
        let key = v["key"].as_str().unwrap().to_string();
        if !v["value"].is_null() {
            assert_eq!(v["value"]["id"].to_string(), key);
        }
        let version = v["headers"]["version"].as_str().unwrap().to_string();
        by_key.entry(key).or_default().push(version);
    }
    let expected: BTreeMap<String, Vec<String>> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let n = match i {
                0 => 3, // created, updated twice
                1 => 2, // created, deleted
                _ => 1,
            };
            (id.to_string(), (1..=n).map(|v| v.to_string()).collect())
        })
        .collect();
    assert_eq!(
        by_key, expected,
        "every event exactly once, in version order"
    );

    svc.shutdown().await;
    broker.kill().ok();
    broker.wait().ok();
    db.drop_db().await;
}

/// A broker that comes back without its data (new storage: the topic is gone) must not take
/// the process down; the relay creates the topic again, renews its producer, publishes, and
/// the live tail goes on reading.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_that_lost_its_data_is_survived() {
    let db = TestDb::new(Backend::Sqlite).await;
    let port = free_port();
    let first_dir = tempfile::tempdir().unwrap();
    let mut broker = start_tansu(port, first_dir.path());
    let host = format!("127.0.0.1:{port}");
    let svc = Service::start(db.settings(&[("KAFKA_HOST", &host), ("PUBLISH_WAIT_MS", "10000")]))
        .await
        .unwrap();
    common::wait_broker_up(&svc).await;
    let first = svc.register(&blusa()).await.unwrap().product;
    assert!(matches!(first.publish, PublishState::Published { .. }));
    let opts = dataflow::kafka::TailOptions {
        start: dataflow::kafka::TailStart::Beginning,
        follow: true,
        partition: None,
    };
    let mut tail = svc.tail(opts, 64).unwrap();
    let m = tokio::time::timeout(Duration::from_secs(30), tail.rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.key, Some(first.id.to_string()));

    broker.kill().unwrap();
    broker.wait().unwrap();
    let second = svc.register(&blusa()).await.unwrap().product;
    assert_eq!(second.publish, PublishState::Pending);
    let empty_dir = tempfile::tempdir().unwrap();
    let mut broker = start_tansu(port, empty_dir.path());
    wait_until_published(&svc, Duration::from_secs(90)).await;
    let key = second.id.to_string();
    let seen = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(m) = tail.rx.recv().await {
            if m.key.as_deref() == Some(key.as_str()) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(seen, Ok(true), "the tail reads the new broker's message");
    drop(tail);
    svc.shutdown().await;
    broker.kill().ok();
    broker.wait().ok();
    db.drop_db().await;
}
