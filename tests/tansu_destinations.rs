//! A destination is the cluster, not its spelling (Tansu, its own process; both back ends):
//! events written while the broker was down under one KAFKA_HOST are published when the
//! service comes back with another bootstrap list for the same cluster; events for a cluster
//! that is gone are shown (status, `dataflow outbox`) and move only with `outbox reroute`,
//! which says how many it moved.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use common::tansu::{dataflow_tail, free_port, start_tansu_memory, start_tansu_memory_with};
use common::{Backend, TestDb, blusa, drain_pending, wait_broker_up};
use dataflow::service::Service;

const TOPIC: &str = "spelling-products";

async fn start(db: &TestDb, host: &str) -> Service {
    // Registrations answer at once (pending) while the broker is away.
    let vars = [
        ("KAFKA_HOST", host),
        ("TOPIC_PRODUCTS", TOPIC),
        ("PUBLISH_WAIT_MS", "0"),
    ];
    Service::start(db.settings(&vars)).await.expect("service")
}

async fn register(svc: &Service, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(svc.register(&blusa()).await.unwrap().product.id);
    }
    ids
}

/// The product ids on the topic at `host`, with how often each is there.
fn on_topic(host: &str, dir: &std::path::Path) -> BTreeMap<i64, usize> {
    let mut seen = BTreeMap::new();
    for m in dataflow_tail(host, TOPIC, dir, &["--from-beginning"]) {
        let id = m["value"]["id"].as_i64().expect("an id");
        *seen.entry(id).or_default() += 1;
    }
    seen
}

fn once_each(ids: &[i64]) -> BTreeMap<i64, usize> {
    ids.iter().map(|id| (*id, 1)).collect()
}

/// `dataflow outbox ARGS` on this database, publishing to `host`: its exit code and stdout.
fn outbox(db: &TestDb, host: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .arg("outbox")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("KAFKA_HOST", host)
        .env("TOPIC_PRODUCTS", TOPIC)
        .env("DATAFLOW_DATA_DIR", db.dir.path())
        .output()
        .expect("dataflow outbox runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let err = String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), format!("{text}{err}"))
}

async fn check(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = db.dir.path();
    let (port, other_port) = (free_port(), free_port());
    let one = format!("127.0.0.1:{port}");

    // The broker is down: four registrations wait for `kafka:127.0.0.1:P/topic`.
    let svc = start(&db, &one).await;
    let first = register(&svc, 4).await;
    svc.shutdown().await;

    // It comes back and the service restarts with one more address for the same broker.
    let mut broker = start_tansu_memory(port, dir);
    let two = format!("127.0.0.1:{port},localhost:{port}");
    let svc = start(&db, &two).await;
    wait_broker_up(&svc).await;
    assert_eq!(drain_pending(&svc).await, 0, "the other spelling's events");
    assert!(svc.status().await.elsewhere.is_empty());
    assert_eq!(on_topic(&two, dir), once_each(&first));
    svc.shutdown().await;

    // That cluster goes away for good while three more wait for it ...
    broker.kill().unwrap();
    broker.wait().unwrap();
    let svc = start(&db, &one).await;
    let second = register(&svc, 3).await;
    svc.shutdown().await;

    // ... and the service moves to another cluster: nothing moves on its own, and it says so.
    let mut other = start_tansu_memory_with(other_port, dir, &["--cluster-id", "elsewhere"]);
    let three = format!("127.0.0.1:{other_port}");
    let svc = start(&db, &three).await;
    wait_broker_up(&svc).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let from = format!("kafka:{one}/{TOPIC}");
    let status = svc.status().await;
    assert_eq!(status.pending, Some(3));
    let waiting: Vec<_> = status
        .elsewhere
        .iter()
        .map(|d| (d.name.as_str(), d.pending))
        .collect();
    assert_eq!(waiting, [(from.as_str(), 3)]);
    let (code, listing) = outbox(&db, &three, &[]);
    assert_eq!(code, 0, "{listing}");
    let line = listing
        .lines()
        .find(|l| l.starts_with(&from))
        .unwrap_or_else(|| panic!("{from} listed: {listing}"));
    assert!(
        line.contains(" 3 ") && line.contains("NOT published here"),
        "{line}"
    );

    // An explicit reroute moves them, says how many, and they are published there.
    let (code, bad) = outbox(&db, &three, &["reroute", "--from", "kafka:nowhere:1/x"]);
    assert_eq!(code, 2, "an unknown destination is refused: {bad}");
    assert!(bad.contains("--from"), "{bad}");
    let (code, said) = outbox(&db, &three, &["reroute", "--from", &from]);
    assert_eq!(code, 0, "{said}");
    let to = format!("kafka:{three}/{TOPIC}");
    assert!(
        said.contains(&format!("moved 3 pending events from {from} to {to}")),
        "{said}"
    );
    assert_eq!(
        drain_pending(&svc).await,
        0,
        "rerouted events are published"
    );
    assert!(svc.status().await.elsewhere.is_empty());
    assert_eq!(on_topic(&three, dir), once_each(&second));

    svc.shutdown().await;
    other.kill().unwrap();
    other.wait().unwrap();
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_is_the_cluster_not_its_spelling_sqlite() {
    check(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_is_the_cluster_not_its_spelling_postgres() {
    check(Backend::Postgres).await;
}
