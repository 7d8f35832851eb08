//! `dataflow tail`'s flags against a real broker (Tansu, its own process): --since, --partition,
//! --offset, --key, --grep; headers on every line; without --follow it stops at the end; a
//! filter that matches nothing prints nothing and exits 0.

mod common;

use common::tansu::{dataflow_tail, free_port, start_tansu};
use common::{Backend, TestDb, blusa};
use dataflow::domain::ProductDraft;
use dataflow::service::Service;

const TOPIC: &str = "tail-flags";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_flags_on_a_real_broker() {
    let db = TestDb::new(Backend::Sqlite).await;
    let port = free_port();
    let mut broker = start_tansu(port, db.dir.path());
    let host = format!("127.0.0.1:{port}");
    let svc = Service::start(db.settings(&[("KAFKA_HOST", &host), ("TOPIC_PRODUCTS", TOPIC)]))
        .await
        .unwrap();
    for i in 0..4 {
        let d = ProductDraft {
            name: format!("Produto {i}"),
            ..blusa()
        };
        svc.register(&d).await.unwrap();
    }
    assert_eq!(common::drain_pending(&svc).await, 0);
    let middle = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let late = svc
        .register(&ProductDraft {
            name: "Tardio".into(),
            ..blusa()
        })
        .await
        .unwrap()
        .product
        .id;
    assert_eq!(common::drain_pending(&svc).await, 0);

    let tail = |args: &[&str]| dataflow_tail(&host, TOPIC, db.dir.path(), args);
    let all = tail(&["--from-beginning"]);
    assert_eq!(all.len(), 5);
    assert!(
        all.iter()
            .all(|m| m["headers"]["event"] == "created" && m["headers"]["version"] == "1")
    );

    let keyed = tail(&["--from-beginning", "--key", "3"]);
    assert_eq!(keyed.len(), 1);
    assert_eq!(keyed[0]["value"]["name"], "Produto 2");
    let grepped = tail(&["--from-beginning", "--grep", "produto 1"]);
    assert_eq!(grepped.len(), 1);
    assert!(tail(&["--from-beginning", "--grep", "nothing like this"]).is_empty());

    let p = all[0]["partition"].as_i64().unwrap();
    let in_p = all.iter().filter(|m| m["partition"] == p).count();
    let from_p = tail(&["--partition", &p.to_string(), "--offset", "0"]);
    assert_eq!(from_p.len(), in_p);
    assert!(from_p.iter().all(|m| m["partition"] == p));

    let since = tail(&["--since", &middle.to_rfc3339()]);
    let keys: Vec<_> = since
        .iter()
        .map(|m| m["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, [late.to_string()], "only what came after the instant");
    assert_eq!(tail(&["--since", "1h"]).len(), 5);
    assert_eq!(
        tail(&["--since", "-1h"]).len(),
        5,
        "a leading minus reads as ago"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .args(["tail", "--partition", "99"])
        .env("KAFKA_HOST", &host)
        .env("TOPIC_PRODUCTS", TOPIC)
        .env("DATAFLOW_DATA_DIR", db.dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("partition 99 does not exist: tail-flags has partitions 0 to"),
        "{err}"
    );

    svc.shutdown().await;
    broker.kill().ok();
    broker.wait().ok();
    db.drop_db().await;
}
