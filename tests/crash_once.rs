//! `dataflow serve` killed with SIGKILL under load (PostgreSQL, Tansu), then another process
//! takes its events over: every product is on the topic exactly once. The killed relay left
//! events the broker had acknowledged but nobody had marked; the relay that claims them looks
//! for them on the topic (by `event-id`) and marks them there instead of sending them again.
//! The lease they were held under is ended in the database rather than waited for (30 s).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::tansu::{free_port, start_tansu_memory};
use common::{Backend, TestDb, drain_pending, read_all};
use dataflow::service::Service;

/// One run: products registered over HTTP until the kill; the events left pending then.
async fn run(round: usize, host: &str) -> i64 {
    let topic = format!("crash-products-{round}");
    let db = TestDb::new(Backend::Postgres).await;
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("KAFKA_HOST", host),
        ("TOPIC_PRODUCTS", topic.as_str()),
        ("PUBLISH_WAIT_MS", "0"),
    ];
    let served = common::server::spawn_serve(&db.dir.path().join("a"), &env, None);
    let mut child = served.child;
    let client = reqwest::Client::new();
    let token = common::login(&client, &served.base).await;
    let (going, done) = (
        Arc::new(AtomicBool::new(true)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut writers = Vec::new();
    for _ in 0..4 {
        let (client, base, token) = (client.clone(), served.base.clone(), token.clone());
        let (going, done) = (going.clone(), done.clone());
        writers.push(tokio::spawn(async move {
            let body = serde_json::json!({"name": "Blusa", "description": "", "category": "V",
                "pricing": {"ammount": 1, "currency": "BRL"}, "availability": {"quantity": 1}});
            while going.load(Ordering::Relaxed) {
                let sent = client
                    .post(format!("{base}/api/vert/register/product"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await;
                if sent.is_err() {
                    return; // the process is gone
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = std::time::Instant::now();
    while done.load(Ordering::Relaxed) < 300 {
        assert!(start.elapsed().as_secs() < 60, "registrations go through");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().ok();
    going.store(false, Ordering::Relaxed);
    for w in writers {
        w.await.ok();
    }

    let store = db.store().await;
    let pending = common::scalar(
        &store,
        "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL",
    )
    .await;
    // The killed holder's lease, ended now instead of in up to 30 s.
    store
        .execute_script(
            "UPDATE outbox SET claimed_until = now() - interval '1 second' \
             WHERE published_at IS NULL AND claimed_by IS NOT NULL",
        )
        .await
        .unwrap();
    let vars = [("KAFKA_HOST", host), ("TOPIC_PRODUCTS", topic.as_str())];
    let b = Service::start(db.settings(&vars)).await.unwrap();
    assert_eq!(
        drain_pending(&b).await,
        0,
        "round {round}: taken over and published"
    );
    let products = common::scalar(&store, "SELECT COUNT(*) FROM tb_product").await;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut tries = 0;
    let msgs = loop {
        let msgs = read_all(&b).await;
        tries += 1;
        if msgs.len() as i64 >= products || tries > 50 {
            break msgs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    for m in &msgs {
        *seen.entry(m.key.clone().unwrap_or_default()).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "round {round}: {} records twice of {products} products ({pending} pending at the kill): {twice:?}",
        twice.len()
    );
    assert_eq!(
        seen.len() as i64,
        products,
        "round {round}: every product on the topic"
    );
    b.shutdown().await;
    store.close().await;
    db.drop_db().await;
    pending
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_leaves_every_product_on_the_topic_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut broker = start_tansu_memory(port, dir.path());
    let host = format!("127.0.0.1:{port}");
    let mut left = Vec::new();
    for round in 0..3 {
        left.push(run(round, &host).await);
    }
    // The runs must have left events behind for the claim to be tested at all.
    assert!(
        left.iter().any(|n| *n > 0),
        "pending at each kill: {left:?}"
    );
    println!("pending at each kill: {left:?}");
    broker.kill().ok();
    broker.wait().ok();
}
