//! A registration whose commit answer is lost (the connection to PostgreSQL drops after the
//! statement was sent) is settled by asking the database: saved products are answered as
//! saved, never 503, and a commit still on its way when the writer asks is fenced off, so
//! "not saved" stays true. Real PostgreSQL behind a TCP proxy the test holds and cuts.

mod common;

use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::{Backend, TestDb};
use dataflow::service::{Service, ServiceError};
use dataflow::store::Store;

async fn through_proxy() -> (TestDb, Proxy, Service) {
    let db = TestDb::new(Backend::Postgres).await;
    let mut url = url::Url::parse(&db.url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = Proxy::start(upstream.parse().unwrap()).await;
    url.set_port(Some(proxy.addr.port())).unwrap();
    let svc = Service::start(db.settings(&[("DATABASE_URL", url.as_str())]))
        .await
        .expect("service starts");
    (db, proxy, svc)
}

fn named(name: &str) -> dataflow::domain::ProductDraft {
    let mut d = common::blusa();
    d.name = name.into();
    d
}

async fn count_named(store: &Store, name: &str) -> i64 {
    common::scalar(
        store,
        &format!("SELECT COUNT(*) FROM tb_product WHERE name = '{name}'"),
    )
    .await
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < Duration::from_secs(20), "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_is_lost_is_answered_as_saved() {
    let (db, proxy, svc) = through_proxy().await;
    let direct = db.store().await;
    svc.register(&named("Aquecimento")).await.unwrap();
    common::wait_broker_up(&svc).await;

    proxy.hold_replies_after("Resposta perdida".as_bytes());
    let task = tokio::spawn({
        let svc = svc.clone();
        async move { svc.register(&named("Resposta perdida")).await }
    });
    until("the batch commits on the server", async || {
        count_named(&direct, "Resposta perdida").await == 1
    })
    .await;
    proxy.cut();
    proxy.hold_replies(false);

    let saved = task
        .await
        .unwrap()
        .expect("a saved product is answered as saved");
    let id = common::scalar(
        &direct,
        "SELECT id FROM tb_product WHERE name = 'Resposta perdida'",
    )
    .await;
    assert_eq!(
        saved.product.id, id,
        "the answer names the row that is there"
    );
    assert_eq!(saved.product.name, "Resposta perdida");
    assert_eq!(count_named(&direct, "Resposta perdida").await, 1);

    // Its event reaches the topic, once.
    assert_eq!(
        common::drain_pending(&svc).await,
        0,
        "its event is published"
    );
    let key = id.to_string();
    let on_topic = common::read_at_least(&svc, 2).await;
    assert_eq!(
        on_topic
            .iter()
            .filter(|m| m.key.as_deref() == Some(&key))
            .count(),
        1,
        "its event is on the topic once"
    );
    svc.shutdown().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_still_running_when_the_writer_asks_is_fenced_off() {
    let (db, proxy, svc) = through_proxy().await;
    let direct = db.store().await;
    svc.register(&named("Aquecimento")).await.unwrap();
    let Store::Postgres(pool) = &direct else {
        unreachable!()
    };
    // The next batch's statement waits on this lock on the server, past its connection.
    let mut lock = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE tb_pricing IN EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let task = tokio::spawn({
        let svc = svc.clone();
        async move { svc.register(&named("Tardia")).await }
    });
    let waiting = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                   AND wait_event_type = 'Lock' AND query LIKE 'WITH input AS%'";
    until("the batch's statement waits on the lock", async || {
        common::scalar(&direct, waiting).await == 1
    })
    .await;
    proxy.cut();

    let answer = task.await.unwrap();
    match answer {
        Err(ServiceError::Unavailable(e)) => assert!(
            e.to_string().contains("nothing of it was saved"),
            "the answer says nothing was saved: {e}"
        ),
        other => panic!("expected 'not saved', got {other:?}"),
    }
    // Let the statement run on: it must fail, since the answer already said "not saved".
    lock.commit().await.unwrap();
    let running = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                   AND state = 'active' AND query LIKE 'WITH input AS%'";
    until("the lost statement ends", async || {
        common::scalar(&direct, running).await == 0
    })
    .await;
    assert_eq!(count_named(&direct, "Tardia").await, 0, "nothing was saved");
    assert_eq!(
        common::scalar(&direct, "SELECT COUNT(*) FROM outbox").await,
        1,
        "only the first product's event"
    );

    // The service goes on.
    let next = svc.register(&named("Depois")).await.unwrap();
    assert_eq!(count_named(&direct, "Depois").await, 1);
    assert!(next.product.id > 0);
    svc.shutdown().await;
    db.drop_db().await;
}
