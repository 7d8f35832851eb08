//! `dataflow verify` against a real broker (Tansu, memory storage, whose marks lag its log):
//! registrations, edits and deletes verify clean; then an independent producer doubles a record
//! and sends a product's old version after its newer one, an outbox row is pointed at an offset
//! that holds another record, and a record no event explains is added: the binary names each
//! and exits 1. On the embedded broker, a partition trimmed below recorded offsets (it keeps
//! 5 MiB per partition) is reported as expired, not missing.

mod common;

use std::process::Command;
use std::time::Duration;

use common::tansu::{free_port, start_tansu_memory};
use common::{Backend, TestDb, blusa, drain_pending, read_at_least};
use dataflow::domain::{Finding, VerifyReport};
use dataflow::service::{Edit, Service, VerifyTarget};
use dataflow::store::PublishedFilter;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

const TOPIC: &str = "verify-products";

async fn verify(svc: &Service, filter: PublishedFilter) -> VerifyReport {
    let cfg = svc.kafka();
    let target = VerifyTarget {
        store: svc.store(),
        kafka: &cfg,
        destination: svc.destination(),
        filter,
    };
    dataflow::service::verify(&target, &|_| {})
        .await
        .expect("verify reads")
}

/// The binary against the same database and broker: exit code and stdout.
fn verify_binary(db: &TestDb, host: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .arg("verify")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("KAFKA_HOST", host)
        .env("TOPIC_PRODUCTS", TOPIC)
        .env("DATAFLOW_DATA_DIR", db.dir.path())
        .output()
        .expect("dataflow runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), format!("{text}{err}"))
}

fn edit(id: i64) -> Edit<'static> {
    Edit {
        id,
        expected: None,
        by: None,
        origin: None,
    }
}

async fn send(p: &FutureProducer, key: &str, headers: &[(&str, String)], payload: &str) {
    let mut h = OwnedHeaders::new();
    for (k, v) in headers {
        h = h.insert(Header {
            key: k,
            value: Some(v.as_str()),
        });
    }
    p.send(
        FutureRecord::to(TOPIC).key(key).payload(payload).headers(h),
        Duration::from_secs(10),
    )
    .await
    .expect("the independent producer's record is stored");
}

async fn finds_each_problem(backend: Backend) {
    let db = TestDb::new(backend).await;
    let port = free_port();
    let mut broker = start_tansu_memory(port, db.dir.path());
    let host = format!("127.0.0.1:{port}");
    let vars = [("KAFKA_HOST", host.as_str()), ("TOPIC_PRODUCTS", TOPIC)];
    let svc = Service::start(db.settings(&vars)).await.unwrap();
    common::wait_broker_up(&svc).await;

    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(svc.register(&blusa()).await.unwrap().product.id);
    }
    assert_eq!(drain_pending(&svc).await, 0);
    let changes_from = chrono::Utc::now();
    svc.update(edit(ids[1]), &blusa()).await.unwrap();
    svc.update(edit(ids[1]), &blusa()).await.unwrap(); // version 3
    svc.update(edit(ids[2]), &blusa()).await.unwrap();
    svc.delete(edit(ids[3])).await.unwrap();
    assert_eq!(drain_pending(&svc).await, 0);
    let events = 6 + 3 + 1;
    let on_topic = read_at_least(&svc, events).await;
    assert_eq!(on_topic.len(), events);

    let clean = verify(&svc, PublishedFilter::default()).await;
    assert!(clean.clean(), "{clean:?}");
    assert_eq!(clean.total(|p| p.present), events as u64);
    let changes = verify(
        &svc,
        PublishedFilter {
            since: Some(changes_from),
            product: None,
        },
    )
    .await;
    assert!(changes.clean(), "{changes:?}");
    assert_eq!(
        changes.total(|p| p.present),
        4,
        "only the changes: {changes:?}"
    );
    let (code, out) = verify_binary(&db, &host, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("clean"), "{out}");

    // An independent producer: a second copy of product 0's record (its event id and all), an
    // old version of product 1 (version 1, after its version 3), and a record of nobody's.
    let other: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &host)
        .create()
        .unwrap();
    let copy = on_topic
        .iter()
        .find(|m| m.key.as_deref() == Some(ids[0].to_string().as_str()))
        .unwrap();
    let copied: Vec<(&str, String)> = copy
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    send(
        &other,
        &ids[0].to_string(),
        &copied,
        &String::from_utf8_lossy(copy.bytes()),
    )
    .await;
    let old = [
        ("event", "created".to_string()),
        ("version", "1".to_string()),
    ];
    send(&other, &ids[1].to_string(), &old, "{}").await;
    send(&other, "not-a-product", &[], "hello").await;
    // Product 4's event recorded at the offset where product 5's record is.
    let store = svc.store();
    let at = |id: i64| {
        format!(
            "(SELECT kafka_offset FROM outbox WHERE product_id = {id}), \
                 kafka_partition = (SELECT kafka_partition FROM outbox WHERE product_id = {id})"
        )
    };
    let sql = format!(
        "UPDATE outbox SET kafka_offset = {} WHERE product_id = {}",
        at(ids[5]),
        ids[4]
    );
    store.execute_script(&sql).await.unwrap();

    let r = verify(&svc, PublishedFilter::default()).await;
    assert!(!r.clean());
    let dup = r.problems.iter().any(|f| {
        matches!(f, Finding::Duplicate { record, .. } if record.key == Some(ids[0].to_string()))
    });
    assert!(dup, "the copy is named a duplicate: {r:#?}");
    let late = r.problems.iter().any(|f| {
        matches!(f, Finding::OutOfOrder { product, version: 1, after: 3, .. } if *product == ids[1])
    });
    assert!(late, "the old version after the newer one: {r:#?}");
    let foreign = r.problems.iter().any(|f| {
        matches!(f, Finding::Unexplained { record } if record.key.as_deref() == Some("not-a-product"))
    });
    assert!(foreign, "the stranger's record: {r:#?}");
    let displaced = r.problems.iter().any(|f| {
        matches!(f, Finding::Missing { product, holds: Some(h), .. }
            if *product == ids[4] && h.key == Some(ids[5].to_string()))
    });
    assert!(displaced, "the row pointing at another record: {r:#?}");
    assert_eq!(r.total(|p| p.missing), 1, "{r:#?}");
    assert_eq!(r.total(|p| p.expired), 0, "{r:#?}");

    // Scoped to one product: only its problems.
    let one = verify(
        &svc,
        PublishedFilter {
            since: None,
            product: Some(ids[0]),
        },
    )
    .await;
    assert_eq!(one.total(|p| p.duplicates), 1, "{one:#?}");
    assert_eq!(
        one.total(|p| p.missing + p.unexplained + p.out_of_order),
        0,
        "{one:#?}"
    );

    let (code, out) = verify_binary(&db, &host, &[]);
    assert_eq!(code, 1, "{out}");
    for word in ["duplicate:", "out of order:", "unexplained:", "missing:"] {
        assert!(out.contains(word), "{word} in {out}");
    }
    let (code, json) = verify_binary(&db, &host, &["--json"]);
    assert_eq!(code, 1, "{json}");
    let v: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert!(
        v["problems"].as_array().is_some_and(|a| a.len() >= 4),
        "{v}"
    );
    let (code, out) = verify_binary(&db, &host, &["--since", "yesterday"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--since"), "{out}");

    svc.shutdown().await;
    broker.kill().ok();
    broker.wait().ok();
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_each_problem_sqlite() {
    finds_each_problem(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_each_problem_postgres() {
    finds_each_problem(Backend::Postgres).await;
}

/// The embedded broker keeps 5 MiB per partition: events recorded below what it still holds
/// are expired, not missing, and the records that pushed them out are nobody's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trimmed_partition_is_expired_not_missing() {
    let db = TestDb::new(Backend::Sqlite).await;
    let svc = Service::start(db.settings(&[("TOPIC_PARTITIONS", "1")]))
        .await
        .unwrap();
    for _ in 0..5 {
        svc.register(&blusa()).await.unwrap();
    }
    assert_eq!(drain_pending(&svc).await, 0);
    let other: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", svc.kafka().bootstrap)
        .set("linger.ms", "0")
        .create()
        .unwrap();
    let big = "x".repeat(200_000);
    let topic = svc.kafka().topic;
    for _ in 0..40 {
        let r = FutureRecord::to(&topic).key("filler").payload(&big);
        other
            .send(r, Duration::from_secs(10))
            .await
            .expect("stored");
    }
    let r = verify(&svc, PublishedFilter::default()).await;
    let p = &r.partitions[0];
    assert!(p.low > 4, "the broker trimmed the partition: {p:?}");
    assert_eq!((p.expired, p.missing, p.present), (5, 0, 0), "{p:?}");
    assert_eq!(p.unexplained, p.records, "{p:?}");
    svc.shutdown().await;
}
