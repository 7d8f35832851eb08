//! Shared test harness: every service test body runs once on SQLite and once on PostgreSQL
//! (a fresh database per test on the server named by DATABASE_URL), each with its own
//! embedded broker.
#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;

use dataflow::config::{Layers, Paths, Settings};
use dataflow::domain::ProductDraft;
use dataflow::service::Service;
use dataflow::store::Store;
use sqlx::Connection;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of its own for one test; `drop_db` removes it.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    pg_name: Option<String>,
}

pub fn admin_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL must name a PostgreSQL server for the tests, \
         e.g. postgres://postgres@127.0.0.1:5432/postgres",
    )
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite:{}", dir.path().join("test.sqlite3").display());
                TestDb {
                    url,
                    dir,
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let admin = admin_url();
                let name = format!("dataflow_test_{:016x}", rand_u64());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("connect to DATABASE_URL");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let mut url = url::Url::parse(&admin).expect("DATABASE_URL parses");
                url.set_path(&name);
                TestDb {
                    url: url.to_string(),
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }

    pub async fn drop_db(self) {
        if let Some(name) = &self.pg_name {
            let mut conn = sqlx::PgConnection::connect(&admin_url())
                .await
                .expect("connect");
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await;
        }
    }

    /// Settings for this database with the embedded broker, plus any overrides.
    pub fn settings(&self, extra: &[(&str, &str)]) -> Settings {
        let mut pairs: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), self.url.clone()),
            ("PUBLISH_WAIT_MS".into(), "5000".into()),
        ];
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let data: PathBuf = self.dir.path().to_path_buf();
        Settings::from_layers(&Layers::from_pairs(pairs), Paths::under(data.clone(), data))
            .expect("test settings")
    }

    pub async fn store(&self) -> Store {
        let s = self.settings(&[]);
        let store = Store::connect(&s.database).await.expect("connect");
        store.migrate().await.expect("migrate");
        store
    }
}

pub fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

/// Runs `body` with a started service on `backend`, then shuts down and drops the database.
pub async fn with_service<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Service) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDb::new(backend).await;
    let service = Service::start(db.settings(&[]))
        .await
        .expect("service starts");
    body(service.clone()).await;
    service.shutdown().await;
    db.drop_db().await;
}

/// Declares `sqlite` and `postgres` variants of one test body.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                common::with_service(common::Backend::Sqlite, $body).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                common::with_service(common::Backend::Postgres, $body).await
            }
        }
    };
}

/// A CSV file of one valid product (`one.csv` in `dir`), for commands that import.
pub fn one_product_csv(dir: &std::path::Path) -> PathBuf {
    let file = dir.join("one.csv");
    std::fs::write(
        &file,
        "name,description,category,amount,currency,quantity\nBlusa,,V,1,BRL,1\n",
    )
    .expect("write one.csv");
    file
}

pub fn blusa() -> ProductDraft {
    ProductDraft {
        name: "Blusa".into(),
        description: "Blusa com touca".into(),
        category: "Vestuário".into(),
        amount: "59.99".into(),
        currency: "BRL".into(),
        quantity: "50".into(),
    }
}
/// Every id of `expected` in `returned` exactly once, and nothing else (a consumer's view).
pub fn assert_once_each(returned: &[i64], expected: &[i64]) {
    let mut counts: std::collections::BTreeMap<i64, usize> = std::collections::BTreeMap::new();
    for id in returned {
        *counts.entry(*id).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !counts.contains_key(id))
        .collect();
    assert!(
        twice.is_empty() && missing.is_empty(),
        "of {} products: returned twice {twice:?}, never returned {missing:?}",
        expected.len()
    );
    assert_eq!(
        counts.len(),
        expected.len(),
        "only registered products come back"
    );
}

pub mod proxy;
pub mod records;
pub mod server;
pub mod tansu;
pub mod tmux;

/// An acknowledgement for each event, in order: partition 0, offsets 0, 1, 2...
pub fn acks(events: &[dataflow::store::OutboxEvent]) -> Vec<dataflow::store::PublishedAck> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| dataflow::store::PublishedAck {
            outbox_id: e.id,
            product_id: e.product_id,
            partition: 0,
            offset: i as i64,
        })
        .collect()
}

/// One number from a query of the tests' own (never user input).
pub async fn scalar(store: &Store, sql: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

/// Rows in each table of a product, in order: product, pricing, availability, outbox.
pub async fn table_counts(store: &Store) -> [i64; 4] {
    let mut out = [0; 4];
    for (i, table) in ["tb_product", "tb_pricing", "tb_availability", "outbox"]
        .iter()
        .enumerate()
    {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
        out[i] = match store {
            Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        };
    }
    out
}

/// Everything on the topic now, read with the live tail (which never commits).
pub async fn read_all(svc: &Service) -> Vec<dataflow::kafka::TailMessage> {
    use dataflow::kafka::{TailOptions, TailStart};
    let mut tail = svc
        .tail(
            TailOptions {
                start: TailStart::Beginning,
                follow: false,
                partition: None,
            },
            64,
        )
        .unwrap();
    let mut out = Vec::new();
    while let Some(m) = tail.rx.recv().await {
        out.push(m);
    }
    out
}

/// Reads until `n` messages are there or a generous bound passes.
pub async fn read_at_least(svc: &Service, n: usize) -> Vec<dataflow::kafka::TailMessage> {
    let start = std::time::Instant::now();
    loop {
        let all = read_all(svc).await;
        if all.len() >= n || start.elapsed() > std::time::Duration::from_secs(30) {
            return all;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Waits until no event is pending, or a generous bound passes; returns what is left.
pub async fn drain_pending(svc: &Service) -> i64 {
    let start = std::time::Instant::now();
    loop {
        let left = svc.store().pending_count().await.unwrap();
        if left == 0 || start.elapsed() > std::time::Duration::from_secs(30) {
            return left;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits until the service has reached its broker (health starts unknown), within a bound.
pub async fn wait_broker_up(svc: &Service) {
    let start = std::time::Instant::now();
    while !svc.status().await.broker_ok {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the broker never came up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A service on a fresh SQLite database with `vars`, which the broker refuses: its
/// registration is saved and stays pending, the status gives the client's reason (one of
/// `reasons`), and the topic, read by `reader` (a service the broker accepts), holds no record
/// of it.
pub async fn assert_refused(reader: &Service, vars: &[(&str, &str)], reasons: &[&str], why: &str) {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut all = vec![("PUBLISH_WAIT_MS", "1000")];
    all.extend_from_slice(vars);
    let svc = Service::start(db.settings(&all)).await.unwrap();
    let mut draft = blusa();
    draft.name = format!("refused-{}", rand_u64());
    svc.register(&draft).await.unwrap();
    let start = std::time::Instant::now();
    let reason = loop {
        let status = svc.status().await;
        if let Some(e) = &status.broker_error
            && reasons.iter().any(|r| e.contains(r))
        {
            break e.clone();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "{why}: the broker's refusal ({reasons:?}) never reached the status: {status:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(!svc.status().await.broker_ok, "{why}: {reason}");
    assert_eq!(
        svc.store().pending_count().await.unwrap(),
        1,
        "{why}: {reason}"
    );
    let on_topic = read_all(reader).await;
    assert!(!on_topic.is_empty(), "the reader reads the topic");
    let leaked = on_topic.iter().filter(|m| {
        m.payload
            .as_deref()
            .is_some_and(|p| String::from_utf8_lossy(p).contains(&draft.name))
    });
    assert_eq!(leaked.count(), 0, "{why}: the product reached the topic");
    assert_eq!(
        svc.store().pending_count().await.unwrap(),
        1,
        "{why}: {reason}"
    );
    svc.shutdown().await;
}

/// Against a running `dataflow serve` at `base`: logs in as vert/vert and registers one product;
/// the answer's status and JSON.
/// Logs in as the first-run API user over HTTP: the access token.
pub async fn login(client: &reqwest::Client, base: &str) -> String {
    let login: serde_json::Value = client
        .post(format!("{base}/api/vert/auth/login"))
        .json(&serde_json::json!({"username": "vert", "password": "vert"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["result"]["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Registers the usual blouse over HTTP: the status and the JSON answer.
pub async fn register_http(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> (u16, serde_json::Value) {
    let body = serde_json::json!({"name": "Blusa", "description": "", "category": "Vestuário",
        "pricing": {"ammount": 59.99, "currency": "BRL"}, "availability": {"quantity": 50}});
    let r = client
        .post(format!("{base}/api/vert/register/product"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

pub async fn login_and_register(base: &str) -> (u16, serde_json::Value) {
    let client = reqwest::Client::new();
    let token = login(&client, base).await;
    register_http(&client, base, &token).await
}
