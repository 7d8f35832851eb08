//! A record refused for good (here: larger than `message.max.bytes`, so the client refuses it
//! before sending, as a broker with a low limit would; Tansu, memory storage) holds back only
//! its own product: every other product is published, the product's later change waits behind
//! it, the broker stays up, and the status says why.

mod common;

use common::tansu::{free_port, start_tansu_memory};
use common::{Backend, TestDb, blusa, read_all, wait_broker_up};
use dataflow::service::{Edit, Service};

async fn check(backend: Backend) {
    let db = TestDb::new(backend).await;
    let port = free_port();
    let mut broker = start_tansu_memory(port, db.dir.path());
    let host = format!("127.0.0.1:{port}");
    let vars = [
        ("KAFKA_HOST", host.as_str()),
        ("KAFKA_PROPERTY_MESSAGE_MAX_BYTES", "1000"),
        ("PUBLISH_WAIT_MS", "200"),
    ];
    let svc = Service::start(db.settings(&vars)).await.unwrap();
    wait_broker_up(&svc).await;
    let mut big = blusa();
    big.description = "x".repeat(1500);
    let refused = svc.register(&big).await.unwrap().product.id;
    let mut others = Vec::new();
    for _ in 0..50 {
        others.push(svc.register(&blusa()).await.unwrap().product.id);
    }
    // Its next version waits for it: a product's events keep their order.
    let edit = Edit {
        id: refused,
        expected: Some(1),
        by: None,
        origin: None,
    };
    svc.update(edit, &blusa()).await.unwrap();

    let start = std::time::Instant::now();
    while svc.store().pending_count().await.unwrap() > 2 {
        assert!(
            start.elapsed().as_secs() < 30,
            "other products are published"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let on_topic: Vec<i64> = read_all(&svc)
        .await
        .iter()
        .filter_map(|m| m.key.as_deref()?.parse().ok())
        .collect();
    assert_eq!(
        on_topic.len(),
        others.len(),
        "each other product once: {on_topic:?} refused {refused}"
    );
    assert!(others.iter().all(|id| on_topic.contains(id)));
    assert!(!on_topic.contains(&refused));

    let status = svc.status().await;
    assert!(
        status.broker_ok,
        "one refused record does not mark the broker down"
    );
    assert_eq!(status.pending, Some(2));
    let (n, why) = status.refused.expect("the status names the refused event");
    assert_eq!(n, 1);
    assert!(why.starts_with(dataflow::kafka::REFUSED), "{why}");
    assert!(
        why.contains("MessageSizeTooLarge") || why.contains("too large"),
        "{why}"
    );

    svc.shutdown().await;
    broker.kill().unwrap();
    broker.wait().unwrap();
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_holds_back_only_its_product_sqlite() {
    check(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_holds_back_only_its_product_postgres() {
    check(Backend::Postgres).await;
}
