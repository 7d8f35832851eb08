//! A send that times out after the broker stored it: Tansu behind a TCP proxy that holds the
//! broker's answers from the moment a product's record passes. The broker has the record; the
//! client hears nothing and gives up (message.timeout.ms), so the relay must send it again,
//! but first looks for it on the topic and finds it: the product is on the topic once (twice
//! with the look switched off).

mod common;

use common::proxy::Proxy;
use common::tansu::{free_port, start_tansu_memory_advertising};
use common::{Backend, TestDb, blusa, drain_pending, read_all};
use dataflow::service::Service;

const NAME: &str = "Resposta retida";

async fn check(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (port, _) = (free_port(), ());
    // The proxy first, so Tansu can tell clients to come through it.
    let proxy = Proxy::start(format!("127.0.0.1:{port}").parse().unwrap()).await;
    // Memory storage: Tansu 0.6's sqlite storage stalled for good after this (RELIABILITY).
    let mut broker = start_tansu_memory_advertising(port, proxy.addr.port(), db.dir.path(), &[]);
    let host = proxy.addr.to_string();
    let vars = [
        ("KAFKA_HOST", host.as_str()),
        ("TOPIC_PRODUCTS", "held-answers"),
        ("PUBLISH_WAIT_MS", "200"),
    ];
    let svc = Service::start(db.settings(&vars)).await.unwrap();
    common::wait_broker_up(&svc).await;
    for _ in 0..3 {
        svc.register(&blusa()).await.unwrap();
    }
    assert_eq!(drain_pending(&svc).await, 0);

    proxy.hold_replies_after(NAME.as_bytes());
    let mut held = blusa();
    held.name = NAME.into();
    let id = svc.register(&held).await.unwrap().product.id;
    // The relay's send failed (timed out) while the broker stored the record.
    let store = svc.store();
    let failed = format!("SELECT COUNT(*) FROM outbox WHERE product_id = {id} AND attempts > 0");
    let start = std::time::Instant::now();
    while common::scalar(store, &failed).await == 0 {
        assert!(start.elapsed().as_secs() < 60, "the send timed out");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    proxy.hold_replies(false);
    proxy.cut();
    // Bounded generously; it takes seconds.
    let start = std::time::Instant::now();
    while store.pending_count().await.unwrap() > 0 {
        assert!(
            start.elapsed().as_secs() < 120,
            "published after the answers came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let key = id.to_string();
    let copies = read_all(&svc)
        .await
        .iter()
        .filter(|m| m.key.as_deref() == Some(key.as_str()))
        .count();
    assert_eq!(
        copies, 1,
        "the record the broker stored is found, not sent again"
    );
    svc.shutdown().await;
    broker.kill().ok();
    broker.wait().ok();
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_send_the_broker_stored_is_not_sent_again_postgres() {
    check(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_send_the_broker_stored_is_not_sent_again_sqlite() {
    check(Backend::Sqlite).await;
}
