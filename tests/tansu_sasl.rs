//! Real SASL end to end: Tansu with `--authentication` and a SCRAM user, dataflow configured
//! only through KAFKA_PROPERTY_*: topic creation, the relay's producer and the tail all
//! authenticate; a wrong password gets nothing through.

mod common;

use std::process::Command;

use common::tansu::{free_port, start_tansu, start_tansu_with, tansu_bin};
use common::{Backend, TestDb, blusa, read_at_least};
use dataflow::domain::PublishState;
use dataflow::service::Service;

fn sasl(password: &'static str) -> [(&'static str, &'static str); 4] {
    [
        ("KAFKA_PROPERTY_SECURITY_PROTOCOL", "sasl_plaintext"),
        ("KAFKA_PROPERTY_SASL_MECHANISM", "SCRAM-SHA-512"),
        ("KAFKA_PROPERTY_SASL_USERNAME", "alice"),
        ("KAFKA_PROPERTY_SASL_PASSWORD", password),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_and_reads_with_scram() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    // Users are created while authentication is off, then the broker restarts requiring it.
    let mut open = start_tansu(port, dir.path());
    let made = Command::new(tansu_bin())
        .args(["user", "create", "alice", "s3cret", "--broker", &url])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    open.kill().ok();
    open.wait().ok();
    let mut broker = start_tansu_with(port, port, dir.path(), &["--authentication"]);

    let host = format!("127.0.0.1:{port}");
    let db = TestDb::new(Backend::Sqlite).await;
    let mut vars = vec![("KAFKA_HOST", host.as_str()), ("PUBLISH_WAIT_MS", "10000")];
    vars.extend(sasl("s3cret"));
    let svc = Service::start(db.settings(&vars)).await.unwrap();
    common::wait_broker_up(&svc).await;
    let p = svc.register(&blusa()).await.unwrap().product;
    assert!(
        matches!(p.publish, PublishState::Published { .. }),
        "{:?}",
        p.publish
    );
    let msgs = read_at_least(&svc, 1).await;
    assert_eq!(msgs[0].key, Some(p.id.to_string()));

    let mut vars = vec![("KAFKA_HOST", host.as_str())];
    vars.extend(sasl("wrong"));
    common::assert_refused(
        &svc,
        &vars,
        &["Authentication", "authentication"],
        "a wrong password gets nothing through",
    )
    .await;
    svc.shutdown().await;
    broker.kill().ok();
    broker.wait().ok();
}
