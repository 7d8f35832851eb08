//! The topic as the catalogue's changelog, end to end on a real broker (Tansu, its own process)
//! read by an independent consumer (`dataflow tail` in its own process): many products are
//! created, edited, deleted and edited again concurrently; rebuilding the catalogue from the
//! topic (last value per key, a tombstone removes) gives exactly what product/all lists, and
//! every key's versions arrive in order.

mod common;

use std::collections::BTreeMap;

use common::server::SECRET;
use common::tansu::{dataflow_tail, free_port, start_tansu};
use common::{Backend, TestDb, blusa};
use dataflow::domain::ProductDraft;
use dataflow::http::{AppState, Jwt, ThrottleRules};
use dataflow::service::{Edit, Service, ServiceError};
use serde_json::Value;

const TOPIC: &str = "changelog-products";

fn draft(i: usize, round: usize) -> ProductDraft {
    ProductDraft {
        name: format!("Produto {i} r{round}"),
        amount: format!("{}.{:02}", 10 + i, round),
        quantity: (i * 10 + round).to_string(),
        ..blusa()
    }
}

/// One writer's share: create, edit twice, delete every third, edit again what is left, and
/// edit the shared product on every step (concurrent edits of one key).
async fn writer(svc: Service, w: usize, shared: i64) {
    let by = Some("e2e");
    for n in 0..6 {
        let i = w * 100 + n;
        let id = svc
            .register_as("e2e", &draft(i, 0))
            .await
            .unwrap()
            .product
            .id;
        for round in 1..=2usize {
            let edit = Edit {
                id,
                expected: Some(round as i64),
                by,
                origin: None,
            };
            svc.update(edit, &draft(i, round)).await.unwrap();
        }
        let any = Edit {
            id,
            expected: None,
            by,
            origin: None,
        };
        if n % 3 == 0 {
            svc.delete(Edit {
                expected: Some(3),
                ..any
            })
            .await
            .unwrap();
            let again = svc.update(any, &draft(i, 9)).await;
            assert!(matches!(again, Err(ServiceError::NotFound(_))), "{again:?}");
        } else {
            svc.update(any, &draft(i, 3)).await.unwrap();
        }
        let shared_edit = Edit {
            id: shared,
            expected: None,
            by,
            origin: None,
        };
        svc.update(shared_edit, &draft(w, 50 + n)).await.unwrap();
    }
}

async fn product_all(svc: &Service) -> Vec<Value> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(svc.clone(), Jwt::new(SECRET), ThrottleRules::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dataflow::http::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/api/vert/auth/login"))
        .json(&serde_json::json!({"username": "vert", "password": "vert"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["result"]["access_token"].as_str().unwrap();
    let all: Value = client
        .get(format!("{base}/api/vert/product/all"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let _ = stop.send(());
    let _ = server.await;
    all["result"].as_array().unwrap().clone()
}

/// A topic setting as the broker stored it. Tansu 0.6 answers DescribeConfigs with no entries,
/// so it is read from the broker's own storage (its SQLite file, `topic_configuration`).
async fn topic_config(tansu_db: &std::path::Path, name: &str) -> Option<String> {
    use sqlx::sqlite::SqliteConnectOptions;
    let opts = SqliteConnectOptions::new()
        .filename(tansu_db)
        .read_only(true);
    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    let value: Option<Option<String>> = sqlx::query_scalar(
        "SELECT c.value FROM topic_configuration c JOIN topic t ON t.id = c.topic
         WHERE t.name = ? AND c.name = ?",
    )
    .bind(TOPIC)
    .bind(name)
    .fetch_optional(&pool)
    .await
    .unwrap();
    pool.close().await;
    value.flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_topic_rebuilds_the_catalogue() {
    let db = TestDb::new(Backend::Postgres).await;
    let port = free_port();
    let mut broker = start_tansu(port, db.dir.path());
    let host = format!("127.0.0.1:{port}");
    let svc = Service::start(db.settings(&[
        ("KAFKA_HOST", &host),
        ("TOPIC_PRODUCTS", TOPIC),
        ("TOPIC_CLEANUP_POLICY", "compact"),
    ]))
    .await
    .unwrap();
    let shared = svc.register(&draft(0, 0)).await.unwrap().product.id;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 1..=6 {
        tasks.spawn(writer(svc.clone(), w, shared));
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert_eq!(common::drain_pending(&svc).await, 0, "everything published");
    assert_eq!(
        topic_config(&db.dir.path().join("tansu.db"), "cleanup.policy")
            .await
            .as_deref(),
        Some("compact"),
        "TOPIC_CLEANUP_POLICY applied when the relay created the topic"
    );

    let mut catalogue: BTreeMap<i64, Value> = BTreeMap::new();
    let mut versions: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for m in dataflow_tail(&host, TOPIC, db.dir.path(), &["--from-beginning"]) {
        let key: i64 = m["key"].as_str().unwrap().parse().unwrap();
        let version: i64 = m["headers"]["version"].as_str().unwrap().parse().unwrap();
        versions.entry(key).or_default().push(version);
        match m["headers"]["event"].as_str().unwrap() {
            "deleted" => {
                assert_eq!(m["value"], Value::Null, "a delete is a tombstone");
                catalogue.remove(&key);
            }
            "created" | "updated" => {
                catalogue.insert(key, m["value"].clone());
            }
            other => panic!("unexpected event {other}"),
        }
    }
    for (key, seen) in &versions {
        let want: Vec<i64> = (1..=seen.len() as i64).collect();
        assert_eq!(seen, &want, "key {key}: every version once, in order");
    }
    assert_eq!(
        versions[&shared].len(),
        1 + 6 * 6,
        "the shared product's edits"
    );
    let listed = product_all(&svc).await;
    assert_eq!(listed.len(), 1 + 6 * 4, "created 36 + 1, deleted 12");
    let rebuilt: Vec<i64> = catalogue.keys().copied().collect();
    let ids: Vec<i64> = listed.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert_eq!(rebuilt, ids, "the same products");
    for p in &listed {
        let m = &catalogue[&p["id"].as_i64().unwrap()];
        for field in ["name", "description", "category"] {
            assert_eq!(m[field], p[field], "{field} of {}", p["id"]);
        }
        assert_eq!(m["pricing"]["amount"], p["pricing"]["ammount"]);
        assert_eq!(m["pricing"]["currency"], p["pricing"]["currency"]);
        assert_eq!(m["availability"]["quantity"], p["availability"]["quantity"]);
        let instant = |v: &Value| {
            chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
                .unwrap()
                .timestamp_micros()
        };
        assert_eq!(
            instant(&m["availability"]["timestamp"]),
            instant(&p["availability"]["timestamp"])
        );
    }

    svc.shutdown().await;
    broker.kill().ok();
    broker.wait().ok();
    db.drop_db().await;
}
