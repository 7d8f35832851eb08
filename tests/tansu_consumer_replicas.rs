//! Two real `dataflow serve` processes on one PostgreSQL database and one Tansu broker, sharing
//! CONSUMER_GROUP: HTTP writers on both while a caller on each reads the consumer route. Every
//! product comes back exactly once across the two processes (the group's turn is a database
//! row, so the replicas never read the same offsets twice).

mod common;

use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::tansu::{free_port, start_tansu_memory};
use common::{Backend, TestDb};

const TOPIC: &str = "replica-products";
/// Products each HTTP writer registers while the callers read.
const PER_WRITER: usize = 40;

fn serve(db: &TestDb, kafka: &str, name: &str) -> (Child, String) {
    let data = db.dir.path().join(name);
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("KAFKA_HOST", kafka),
        ("TOPIC_PRODUCTS", TOPIC),
        ("PUBLISH_WAIT_MS", "0"),
    ];
    let s = common::server::spawn_serve(&data, &env, None);
    assert!(s.line.contains(kafka), "{name} started: {}", s.line);
    (s.child, s.base)
}

/// One consumer-route call: the product ids it returned (committed once the body is read).
async fn consume(client: &reqwest::Client, base: &str, token: &str) -> Vec<i64> {
    let r = client
        .get(format!("{base}/api/vert/kafka/consumer/product?max=100"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    if r.status() != 200 {
        return Vec::new(); // 503 while the other replica holds the turn: try again
    }
    let v: serde_json::Value = r.json().await.unwrap();
    v["result"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["id"].as_i64()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_return_each_message_once() {
    let db = TestDb::new(Backend::Postgres).await;
    let port = free_port();
    let mut broker = start_tansu_memory(port, db.dir.path());
    let kafka = format!("127.0.0.1:{port}");
    let replicas = [serve(&db, &kafka, "a"), serve(&db, &kafka, "b")];
    let client = reqwest::Client::new();
    let mut bases = Vec::new();
    for (_, base) in &replicas {
        bases.push((base.clone(), common::login(&client, base).await));
    }

    let writing = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for (base, token) in bases.iter().chain(bases.iter()) {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..PER_WRITER {
                let (status, v) = common::register_http(&client, &base, &token).await;
                assert_eq!(status, 200, "{v}");
                ids.push(v["result"]["id"].as_i64().unwrap());
            }
            ids
        }));
    }
    let mut readers = Vec::new();
    for (base, token) in bases.clone() {
        let (client, writing) = (client.clone(), writing.clone());
        readers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            // A caller whose calls while the writes went on found the other replica holding
            // the turn, or only started the group's reader, reads on (bounded) until it has
            // something: the writes can be over in a second on a fast machine.
            let start = Instant::now();
            while writing.load(Ordering::Relaxed)
                || (ids.is_empty() && start.elapsed() < Duration::from_secs(30))
            {
                ids.extend(consume(&client, &base, &token).await);
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
        let ids = r.await.unwrap();
        assert!(
            !ids.is_empty(),
            "each replica's caller read while products were written"
        );
        returned.extend(ids);
    }
    let store = db.store().await;
    let start = Instant::now();
    while common::scalar(
        &store,
        "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL",
    )
    .await
        > 0
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "events left pending"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Then both replicas, in turn, until each has answered nothing three times in a row.
    let (mut quiet, mut turn) = (0, 0);
    while quiet < 6 {
        turn += 1;
        let (base, token) = &bases[turn % 2];
        let got = consume(&client, base, token).await;
        quiet = if got.is_empty() { quiet + 1 } else { 0 };
        returned.extend(got);
    }

    assert_eq!(registered.len(), 4 * PER_WRITER);
    common::assert_once_each(&returned, &registered);

    for (mut child, _) in replicas {
        let _ = child.kill();
        let _ = child.wait();
    }
    broker.kill().unwrap();
    broker.wait().unwrap();
    db.drop_db().await;
}
