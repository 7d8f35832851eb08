//! The write path with many writers, on both back ends: group commit with a bad row, a mark
//! that fails after the broker's ack, two services on one database sharing one broker, a
//! crashed holder's events taken over, an embedded broker refused on a real pipeline's
//! database, and no error after the commit.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use common::{Backend, TestDb, blusa, drain_pending, read_at_least, table_counts};
use dataflow::domain::PublishState;
use dataflow::service::{Service, ServiceError, embedded_destination};
use dataflow::store::{Creation, EventRoute};

fn keys(msgs: &[dataflow::kafka::TailMessage]) -> Vec<String> {
    msgs.iter().filter_map(|m| m.key.clone()).collect()
}

/// Every key once, and `n` of them.
fn assert_once_each(msgs: &[dataflow::kafka::TailMessage], n: usize) {
    let all = keys(msgs);
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(all.len(), n, "messages on the topic");
    assert_eq!(distinct.len(), n, "no event published twice");
}

async fn concurrent_writers_fail_only_the_bad_row(svc: Service) {
    let good = blusa().validate().unwrap();
    let mut bad = good.clone();
    bad.name = String::new(); // only the database's CHECK refuses it
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (svc, item) = (
                svc.clone(),
                if i == 17 { bad.clone() } else { good.clone() },
            );
            tokio::spawn(async move { svc.register_new(item).await })
        })
        .collect();
    let mut ok = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(r) => {
                ok += 1;
                assert!(i != 17);
                assert!(matches!(r.product.publish, PublishState::Published { .. }));
            }
            Err(e) => {
                assert_eq!(i, 17, "only the bad row fails: {e}");
                // The schema's rule comes back as the field's error, never a 500.
                let ServiceError::Invalid(errs) = e else {
                    panic!("{e:?}")
                };
                assert_eq!(errs.0[0].field, "name");
            }
        }
    }
    assert_eq!(ok, 63);
    assert_eq!(table_counts(svc.store()).await, [63, 63, 63, 63]);
    assert_eq!(drain_pending(&svc).await, 0);
    assert_once_each(&read_at_least(&svc, 63).await, 63);
}
both_backends!(
    concurrent_writers_fail_only_the_bad_row,
    concurrent_writers_fail_only_the_bad_row
);

/// The broker acknowledged, the mark failed: the relay retries the mark and never sends the
/// events again. The fault is a trigger refusing to set `published_at` while a flag is on.
async fn a_failed_mark_is_retried_not_republished(svc: Service) {
    let store = svc.store();
    let fault = if store.backend() == "postgres" {
        "CREATE TABLE fault (on_mark INT); INSERT INTO fault VALUES (1);
         CREATE FUNCTION mark_fault() RETURNS trigger AS $$ BEGIN
           IF (SELECT on_mark FROM fault) = 1 THEN RAISE EXCEPTION 'injected'; END IF;
           RETURN NEW; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER mark_fault BEFORE UPDATE OF published_at ON outbox
           FOR EACH ROW EXECUTE FUNCTION mark_fault();"
    } else {
        "CREATE TABLE fault (on_mark INTEGER); INSERT INTO fault VALUES (1);
         CREATE TRIGGER mark_fault BEFORE UPDATE OF published_at ON outbox
           WHEN (SELECT on_mark FROM fault) = 1 BEGIN SELECT RAISE(ABORT, 'injected'); END;"
    };
    store.execute_script(fault).await.unwrap();
    let p = svc.register(&blusa()).await.unwrap().product;
    assert!(
        matches!(p.publish, PublishState::Published { .. }),
        "acknowledged even though not yet recorded"
    );
    // A read in this process says what the caller heard, mark or no mark.
    assert_eq!(store.pending_count().await.unwrap(), 1, "not marked");
    let read = svc.product(p.id).await.unwrap().expect("stored");
    assert_eq!(
        read.publish, p.publish,
        "read as the broker acknowledged it"
    );
    // Marks keep failing while more events are published: a caller hears "published" only
    // after its mark was tried, so once all four answered, every mark has failed at least once.
    let later: Vec<_> = (0..4)
        .map(|_| {
            let svc = svc.clone();
            tokio::spawn(async move { svc.register(&blusa()).await })
        })
        .collect();
    for t in later {
        let p = t
            .await
            .unwrap()
            .expect("saved whatever the relay does")
            .product;
        assert!(
            matches!(p.publish, PublishState::Published { .. }),
            "{:?}",
            p.publish
        );
    }
    assert_eq!(store.pending_count().await.unwrap(), 5, "marks failed");
    store
        .execute_script("UPDATE fault SET on_mark = 0")
        .await
        .unwrap();
    assert_eq!(drain_pending(&svc).await, 0, "the retried mark lands");
    // A resend would have been sent before this later product was: the read waits for the
    // later one instead of a fixed time (exact on its own partition, the producer's order).
    let last = svc.register(&blusa()).await.unwrap().product;
    assert!(
        matches!(last.publish, PublishState::Published { .. }),
        "{:?}",
        last.publish
    );
    assert_once_each(&read_at_least(&svc, 6).await, 6);
}
both_backends!(
    a_failed_mark_is_retried_not_republished,
    a_failed_mark_is_retried_not_republished
);

/// Two services on one database (one data directory for SQLite): the second joins the first's
/// embedded broker, each is acknowledged for its own events, and every event is on the topic
/// once.
async fn two_services_on_one_database(backend: Backend) {
    let db = TestDb::new(backend).await;
    let a = Service::start(db.settings(&[])).await.unwrap();
    let b = Service::start(db.settings(&[])).await.unwrap();
    assert!(a.owns_broker());
    assert!(!b.owns_broker(), "one embedded broker per database");
    assert_eq!(a.kafka().bootstrap, b.kafka().bootstrap);
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let svc = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { svc.register(&blusa()).await })
        })
        .collect();
    for t in tasks {
        let p = t.await.unwrap().unwrap().product;
        assert!(
            matches!(p.publish, PublishState::Published { .. }),
            "each service hears its own acks: {:?}",
            p.publish
        );
    }
    assert_eq!(drain_pending(&a).await, 0);
    assert_once_each(&read_at_least(&a, 100).await, 100);
    b.shutdown().await;
    a.shutdown().await;
    // The owner released the broker: the next process owns one again.
    let c = Service::start(db.settings(&[])).await.unwrap();
    assert!(c.owns_broker());
    c.shutdown().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_services_on_one_database_sqlite() {
    two_services_on_one_database(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_services_on_one_database_postgres() {
    two_services_on_one_database(Backend::Postgres).await;
}

/// Events held by a process that crashed after its commit are taken over once their lease
/// (by the database's clock) runs out, and published once.
async fn a_crashed_holders_events_are_taken_over(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let dest = embedded_destination("produtos-persistidos");
    let items: Vec<_> =
        std::iter::repeat_n(Creation::from(blusa().validate().unwrap()), 7).collect();
    let route = EventRoute {
        destination: &dest,
        holder: Some("crashed"),
        lease: Duration::from_secs(1),
    };
    store
        .insert_products(&items, Utc::now(), &route)
        .await
        .unwrap();
    store.close().await;
    let svc = Service::start(db.settings(&[])).await.unwrap();
    assert_eq!(drain_pending(&svc).await, 0);
    assert_once_each(&read_at_least(&svc, 7).await, 7);
    svc.shutdown().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_holders_events_are_taken_over_sqlite() {
    a_crashed_holders_events_are_taken_over(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_holders_events_are_taken_over_postgres() {
    a_crashed_holders_events_are_taken_over(Backend::Postgres).await;
}

/// A database that has fed a real cluster refuses an embedded broker, and keeps its events.
async fn embedded_refused_on_a_real_pipelines_database(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let real = dataflow::service::cluster_destination("kafka:9092", "produtos-persistidos");
    store.register_destination(&real, "kafka").await.unwrap();
    // Only named (a start with KAFKA_HOST whose broker never answered): not refused.
    let svc = Service::start(db.settings(&[]))
        .await
        .expect("a cluster never fed does not refuse");
    svc.shutdown().await;
    let route = EventRoute {
        destination: &real,
        holder: None,
        lease: Duration::ZERO,
    };
    let items = vec![Creation::from(blusa().validate().unwrap())];
    store
        .insert_products(&items, Utc::now(), &route)
        .await
        .unwrap();
    match Service::start(db.settings(&[])).await {
        Err(ServiceError::Refused(why)) => {
            assert!(why.starts_with("KAFKA_HOST: "), "{why}");
            assert!(why.contains(&real), "{why}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("an embedded broker must not start on this database"),
    }
    assert_eq!(
        store.pending_count().await.unwrap(),
        1,
        "the real pipeline's event stays"
    );
    assert!(
        !store.retire_destination(&real).await.unwrap(),
        "not retired while an event waits for it"
    );
    store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_refused_on_a_real_pipelines_database_sqlite() {
    embedded_refused_on_a_real_pipelines_database(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_refused_on_a_real_pipelines_database_postgres() {
    embedded_refused_on_a_real_pipelines_database(Backend::Postgres).await;
}

/// The broker goes away and the database fails right after the commit: the caller still hears
/// "saved, pending", never an error that would make it register the product again.
async fn trouble_after_the_commit_answers_pending(backend: Backend) {
    let db = TestDb::new(backend).await;
    let owner = Service::start(db.settings(&[])).await.unwrap();
    let joined = Service::start(db.settings(&[("PUBLISH_WAIT_MS", "3000")]))
        .await
        .unwrap();
    owner.shutdown().await; // the embedded broker is gone
    let counter = db.store().await; // a connection of the test's own
    let count = || common::scalar(&counter, "SELECT COUNT(*) FROM tb_product");
    let before = count().await;
    let job = {
        let joined = joined.clone();
        tokio::spawn(async move { joined.register(&blusa()).await })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while count().await == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the registration never committed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    joined.store().close().await; // committed; now the database is unreachable from here
    let p = job
        .await
        .unwrap()
        .expect("no error after the commit")
        .product;
    assert_eq!(p.publish, PublishState::Pending);
    counter.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trouble_after_the_commit_answers_pending_sqlite() {
    trouble_after_the_commit_answers_pending(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trouble_after_the_commit_answers_pending_postgres() {
    trouble_after_the_commit_answers_pending(Backend::Postgres).await;
}
