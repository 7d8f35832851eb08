//! `dataflow import` ends with every imported product on the topic: the command waits for
//! the outbox to drain before it exits. A real broker (Tansu, its own process) that starts
//! only after the rows are saved, and the real binary, on PostgreSQL; the topic is read back
//! with `dataflow tail` afterwards.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Command;

use common::tansu::{dataflow_tail, free_port, start_tansu};
use common::{Backend, TestDb};

const TOPIC: &str = "import-products";
const ROWS: usize = 3000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_imported_product_is_on_the_topic_when_the_command_ends() {
    let db = TestDb::new(Backend::Postgres).await;
    let port = free_port();
    let host = format!("127.0.0.1:{port}");
    let file = db.dir.path().join("products.csv");
    let mut f = std::fs::File::create(&file).unwrap();
    writeln!(f, "name,description,category,amount,currency,quantity").unwrap();
    for i in 0..ROWS {
        writeln!(
            f,
            "Produto {i},\"linha, {i}\",Cat {},{}.50,BRL,{i}",
            i % 7,
            i % 100
        )
        .unwrap();
    }
    drop(f);

    let import = Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .args(["import", file.to_str().unwrap()])
        .env("DATABASE_URL", &db.url)
        .env("KAFKA_HOST", &host)
        .env("TOPIC_PRODUCTS", TOPIC)
        .env("DATAFLOW_DATA_DIR", db.dir.path().join("import"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The rows are saved with no broker (registrations never wait for one); it comes later.
    let store = db.store().await;
    let start = std::time::Instant::now();
    while common::scalar(&store, "SELECT COUNT(*) FROM tb_product").await < ROWS as i64 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "rows saved"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let mut broker = start_tansu(port, db.dir.path());
    let out = import.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("imported {ROWS}, duplicates 0, rejected 0\n")
    );

    // Right after the command: nothing pending, every product on the topic once.
    let pending = common::scalar(
        &store,
        "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL",
    )
    .await;
    assert_eq!(pending, 0, "the command waited for the broker");
    let messages = dataflow_tail(&host, TOPIC, db.dir.path(), &["--from-beginning"]);
    let keys: BTreeSet<String> = messages
        .iter()
        .map(|m| m["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(messages.len(), ROWS, "one message per product");
    assert_eq!(keys.len(), ROWS, "every product once");

    broker.kill().unwrap();
    broker.wait().unwrap();
    db.drop_db().await;
}
