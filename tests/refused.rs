//! A record refused for good holds back only its own product: every other product is
//! published, the product's later change waits behind it, the broker stays up, and the status
//! says why. Two refusers, on Tansu with memory storage: the broker itself (its schema registry
//! holds a policy of the topic's readers, descriptions of at most 1,000 characters, so it
//! answers InvalidRecord), and our own client (a record over `message.max.bytes` is refused
//! before it is sent, as a broker with a low limit would).

mod common;

use common::tansu::{free_port, start_tansu_memory_with};
use common::{Backend, TestDb, blusa, read_all, wait_broker_up};
use dataflow::service::{Edit, Service};

#[derive(Clone, Copy)]
enum Refuser {
    Broker,
    Client,
}

/// The published schema with a narrower description: what a topic's owner may register.
fn narrower_schema() -> String {
    let mut schema: serde_json::Value = serde_json::from_str(dataflow::domain::SCHEMA).unwrap();
    schema["properties"]["value"]["properties"]["description"]["maxLength"] = 1000.into();
    schema.to_string()
}

async fn check(backend: Backend, refuser: Refuser) {
    let db = TestDb::new(backend).await;
    let port = free_port();
    let host = format!("127.0.0.1:{port}");
    let mut vars = vec![("KAFKA_HOST", host.as_str()), ("PUBLISH_WAIT_MS", "200")];
    let mut broker = match refuser {
        Refuser::Broker => {
            let registry = db.dir.path().join("schemas");
            std::fs::create_dir_all(&registry).unwrap();
            std::fs::write(
                registry.join("produtos-persistidos.json"),
                narrower_schema(),
            )
            .unwrap();
            start_tansu_memory_with(
                port,
                db.dir.path(),
                &["--schema-registry", "file://./schemas"],
            )
        }
        Refuser::Client => {
            vars.push(("KAFKA_PROPERTY_MESSAGE_MAX_BYTES", "1000"));
            start_tansu_memory_with(port, db.dir.path(), &[])
        }
    };
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
    match refuser {
        Refuser::Broker => assert!(why.contains("InvalidRecord"), "{why}"),
        Refuser::Client => assert!(
            why.contains("MessageSizeTooLarge") || why.contains("too large"),
            "{why}"
        ),
    }

    svc.shutdown().await;
    broker.kill().unwrap();
    broker.wait().unwrap();
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_broker_refuses_holds_back_only_its_product_sqlite() {
    check(Backend::Sqlite, Refuser::Broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_broker_refuses_holds_back_only_its_product_postgres() {
    check(Backend::Postgres, Refuser::Broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_client_refuses_holds_back_only_its_product_sqlite() {
    check(Backend::Sqlite, Refuser::Client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_client_refuses_holds_back_only_its_product_postgres() {
    check(Backend::Postgres, Refuser::Client).await;
}
