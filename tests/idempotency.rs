//! `Idempotency-Key` on `POST register`, on both back ends: a retry replays the first answer
//! and registers nothing; the key with another body is refused; concurrent requests with one
//! key, in one process or two, make one product; an expired key registers again.

mod common;

use common::server::TestServer;
use common::{Backend, TestDb, blusa};
use dataflow::http::ThrottleRules;
use dataflow::service::{Keyed, Service, ServiceError};
use serde_json::{Value, json};

fn body(quantity: i64) -> Value {
    json!({"name": "Blusa", "description": "", "category": "Vestuário",
        "pricing": {"ammount": 59.99, "currency": "BRL"}, "availability": {"quantity": quantity}})
}

async fn post(s: &TestServer, token: &str, key: Option<&str>, b: &Value) -> (u16, bool, Value) {
    let mut req = s
        .client
        .post(s.url("/api/vert/register/product"))
        .bearer_auth(token)
        .json(b);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let replayed = r.headers().get("idempotent-replayed").is_some();
    (status, replayed, r.json().await.unwrap_or(Value::Null))
}

async fn count(s: &TestServer) -> i64 {
    s.svc.count_products(None).await.unwrap()
}

async fn retries_replay(backend: Backend) {
    let s = TestServer::start(backend, ThrottleRules::default()).await;
    let t = s.token().await;
    let (status, replayed, first) = post(&s, &t, Some("pedido-1"), &body(5)).await;
    assert_eq!((status, replayed), (200, false), "{first}");
    let id = first["result"]["id"].as_i64().unwrap();
    // The same key and request, bare or as an RFC 8941 string: the same answer, nothing new.
    for key in ["pedido-1", "\"pedido-1\""] {
        let (status, replayed, again) = post(&s, &t, Some(key), &body(5)).await;
        assert_eq!((status, replayed), (200, true), "{again}");
        assert_eq!(again["result"]["id"], id);
        assert_eq!(again["result"]["availability"]["quantity"], 5);
    }
    assert_eq!(count(&s).await, 1);
    // The same key with another request: refused, naming the header.
    let (status, _, other) = post(&s, &t, Some("pedido-1"), &body(6)).await;
    assert_eq!(status, 422, "{other}");
    assert_eq!(other["result"][0]["field"], "Idempotency-Key");
    // Malformed keys.
    let long = "k".repeat(256);
    for bad in ["", "\"\"", long.as_str(), "\"a\"b\"", "ção"] {
        let (status, _, v) = post(&s, &t, Some(bad), &body(5)).await;
        assert_eq!(status, 422, "{bad:?}: {v}");
        assert_eq!(v["result"][0]["field"], "Idempotency-Key");
    }
    // Another key, or none: new products.
    assert_eq!(post(&s, &t, Some("pedido-2"), &body(5)).await.0, 200);
    assert_eq!(post(&s, &t, None, &body(5)).await.0, 200);
    assert_eq!(count(&s).await, 3);
    // Keys are the user's own: another user's "pedido-1" is a request of its own.
    let theirs = s
        .svc
        .register_keyed("maria", "pedido-1", blusa().validate().unwrap())
        .await
        .unwrap();
    assert!(matches!(theirs, Keyed::First(_)));
    assert_eq!(count(&s).await, 4);

    // An expired key registers again (IDEMPOTENCY_TTL_HOURS, 24 by default).
    s.svc
        .store()
        .execute_script(
            "UPDATE idempotency_key SET created_at = '2000-01-01T00:00:00Z' WHERE key = 'pedido-2'",
        )
        .await
        .unwrap();
    let (status, replayed, _) = post(&s, &t, Some("pedido-2"), &body(5)).await;
    assert_eq!((status, replayed), (200, false));
    assert_eq!(count(&s).await, 5);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_replay_sqlite() {
    retries_replay(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_replay_postgres() {
    retries_replay(Backend::Postgres).await;
}

/// Eight requests with one key at once, split over two services on one database (the second
/// joins the first's broker, as a second replica would): one product; every answer is that
/// product (first or replayed) or 409 while the first was running.
async fn one_key_at_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let a = Service::start(db.settings(&[])).await.unwrap();
    let b = Service::start(db.settings(&[])).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let svc = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                svc.register_keyed("vert", "lote-7", blusa().validate().unwrap())
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    let mut busy = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(Keyed::First(r)) => ids.push(r.product.id),
            Ok(Keyed::Replayed { product_id, .. }) => ids.push(product_id),
            Err(ServiceError::InProgress(_)) => busy += 1,
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    ids.dedup();
    assert_eq!(
        ids.len(),
        1,
        "one product for the key: {ids:?} ({busy} answered 409)"
    );
    assert_eq!(a.count_products(None).await.unwrap(), 1);
    // Afterwards every retry replays it.
    match b
        .register_keyed("vert", "lote-7", blusa().validate().unwrap())
        .await
        .unwrap()
    {
        Keyed::Replayed { product_id, .. } => assert_eq!(product_id, ids[0]),
        other => panic!("expected a replay, got {other:?}"),
    }
    a.shutdown().await;
    b.shutdown().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_at_once_sqlite() {
    one_key_at_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_at_once_postgres() {
    one_key_at_once(Backend::Postgres).await;
}

/// The TUI's save key: the same form content under one nonce is one key (a retried save
/// registers once); other content or a new nonce (after a saved product) is another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_form_save_registers_once() {
    use dataflow::service::form_key;
    let item = blusa().validate().unwrap();
    let mut other = blusa();
    other.quantity = "51".into();
    let other = other.validate().unwrap();
    assert_eq!(form_key(7, &item), form_key(7, &item));
    assert_ne!(form_key(7, &item), form_key(7, &other));
    assert_ne!(form_key(7, &item), form_key(8, &item));
    common::with_service(Backend::Sqlite, |svc| async move {
        let key = form_key(7, &item);
        let first = svc
            .register_keyed("vert", &key, item.clone())
            .await
            .unwrap();
        let again = svc
            .register_keyed("vert", &key, item.clone())
            .await
            .unwrap();
        let (Keyed::First(r), Keyed::Replayed { product_id, .. }) = (first, again) else {
            panic!("first, then a replay");
        };
        assert_eq!(r.product.id, product_id);
        assert_eq!(svc.count_products(None).await.unwrap(), 1);
    })
    .await;
}

async fn call(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    b: Option<&Value>,
) -> (u16, bool, Value) {
    let mut req = s.client.request(method, s.url(path)).bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = b {
        req = req.json(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let replayed = r.headers().get("idempotent-replayed").is_some();
    (status, replayed, r.json().await.unwrap_or(Value::Null))
}

/// PUT and DELETE with a key: a retry replays the change instead of answering 412 or 404
/// (or changing twice); the key with another change is refused.
async fn changes_replay(backend: Backend) {
    use reqwest::Method;
    let s = TestServer::start(backend, ThrottleRules::default()).await;
    let t = s.token().await;
    let (_, _, first) = post(&s, &t, None, &body(5)).await;
    let id = first["result"]["id"].as_i64().unwrap();
    let path = format!("/api/vert/product/{id}");
    let put = [("If-Match", "\"1\""), ("Idempotency-Key", "muda-1")];
    let (status, replayed, v) = call(&s, Method::PUT, &path, &t, &put, Some(&body(7))).await;
    assert_eq!((status, replayed), (200, false), "{v}");
    assert_eq!(v["result"]["version"], 2);
    // The retry (its If-Match now stale) replays the change: version 2, not 412 or 3.
    let (status, replayed, v) = call(&s, Method::PUT, &path, &t, &put, Some(&body(7))).await;
    assert_eq!((status, replayed), (200, true), "{v}");
    assert_eq!(v["result"]["version"], 2);
    assert_eq!(v["result"]["availability"]["quantity"], 7);
    let (status, _, v) = call(&s, Method::PUT, &path, &t, &put, Some(&body(8))).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["result"][0]["field"], "Idempotency-Key");
    // A key is for one request: the PUT's key on a DELETE is another request.
    let (status, _, _) = call(
        &s,
        Method::DELETE,
        &path,
        &t,
        &[("Idempotency-Key", "muda-1")],
        None,
    )
    .await;
    assert_eq!(status, 422);

    let del = [("Idempotency-Key", "apaga-1")];
    let (status, replayed, v) = call(&s, Method::DELETE, &path, &t, &del, None).await;
    assert_eq!((status, replayed), (200, false), "{v}");
    assert_eq!(
        (
            v["result"]["deleted"].clone(),
            v["result"]["version"].clone()
        ),
        (json!(true), json!(3))
    );
    let (status, replayed, v) = call(&s, Method::DELETE, &path, &t, &del, None).await;
    assert_eq!((status, replayed), (200, true), "{v}");
    assert_eq!(v["result"]["version"], 3, "the version the delete made");
    // The PUT's retry after the delete: its answer keeps the route's shape, the product as
    // it was last, marked deleted (schemathesis found `{id, deleted}` here).
    let (status, replayed, v) = call(&s, Method::PUT, &path, &t, &put, Some(&body(7))).await;
    assert_eq!((status, replayed), (200, true), "{v}");
    assert_eq!(
        (
            &v["result"]["deleted"],
            &v["result"]["name"],
            &v["result"]["availability"]["quantity"]
        ),
        (&json!(true), &json!("Blusa"), &json!(7)),
        "{v}"
    );
    // Without the key, a second delete finds nothing.
    assert_eq!(call(&s, Method::DELETE, &path, &t, &[], None).await.0, 404);
    let versions = common::scalar(
        s.svc.store(),
        &format!("SELECT COUNT(*) FROM outbox WHERE product_id = {id}"),
    )
    .await;
    assert_eq!(versions, 3, "created, updated once, deleted once");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_replay_sqlite() {
    changes_replay(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_replay_postgres() {
    changes_replay(Backend::Postgres).await;
}

/// A keyed request dropped mid-way (its client gone) frees its key: the retry is not told
/// "still being processed" forever, and each key has one product in the end, however far
/// its dropped first attempt got.
async fn a_dropped_request_frees_its_key(backend: Backend) {
    common::with_service(backend, |svc| async move {
        for i in 0..20u64 {
            let key = format!("largado-{i}");
            let first = svc.register_keyed("vert", &key, blusa().validate().unwrap());
            let _ = tokio::time::timeout(std::time::Duration::from_micros(100 * i), first).await;
            let retry = svc
                .register_keyed("vert", &key, blusa().validate().unwrap())
                .await;
            assert!(
                matches!(retry, Ok(Keyed::First(_) | Keyed::Replayed { .. })),
                "retry {i} after a dropped first: {retry:?}"
            );
        }
        // Each retry's answer means its key's product is committed, and the key is unique
        // with the product: one per key, whatever the dropped attempts did.
        assert_eq!(
            svc.count_products(None).await.unwrap(),
            20,
            "one product per key"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_request_frees_its_key_sqlite() {
    a_dropped_request_frees_its_key(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_request_frees_its_key_postgres() {
    a_dropped_request_frees_its_key(Backend::Postgres).await;
}

/// A real `dataflow serve` killed (SIGKILL) after its transaction committed on the server
/// but before it could answer (PostgreSQL's replies held in a proxy): the client's retry
/// with the same key, on a new process, replays that product instead of registering again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_between_commit_and_answer_registers_once() {
    use common::proxy::Proxy;
    let db = TestDb::new(Backend::Postgres).await;
    let direct = db.store().await;
    let mut url = url::Url::parse(&db.url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = Proxy::start(upstream.parse().unwrap()).await;
    url.set_port(Some(proxy.addr.port())).unwrap();
    let (dir1, dir2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut first, port) =
        common::server::serve_process(dir1.path(), &[("DATABASE_URL", url.as_str())]);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let token = common::login(&client, &base).await;
    let mut b = body(9);
    b["name"] = json!("Morto no meio");
    let send = |base: String, token: String, b: Value| {
        let client = client.clone();
        async move {
            client
                .post(format!("{base}/api/vert/register/product"))
                .bearer_auth(token)
                .header("Idempotency-Key", "pedido-morto")
                .json(&b)
                .send()
                .await
        }
    };

    proxy.hold_replies_after(b"Morto no meio");
    let lost = tokio::spawn(send(base, token, b.clone()));
    let count = async || {
        common::scalar(
            &direct,
            "SELECT COUNT(*) FROM tb_product WHERE name = 'Morto no meio'",
        )
        .await
    };
    let start = std::time::Instant::now();
    while count().await == 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "never committed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        lost.await.unwrap().is_err(),
        "the first request got no answer"
    );
    proxy.hold_replies(false);

    let (mut second, port) =
        common::server::serve_process(dir2.path(), &[("DATABASE_URL", &db.url)]);
    let base = format!("http://127.0.0.1:{port}");
    let token = common::login(&client, &base).await;
    let r = send(base, token, b).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().get("idempotent-replayed").is_some(), "replayed");
    let v: Value = r.json().await.unwrap();
    let id = common::scalar(
        &direct,
        "SELECT id FROM tb_product WHERE name = 'Morto no meio'",
    )
    .await;
    assert_eq!(v["result"]["id"].as_i64(), Some(id), "{v}");
    assert_eq!(count().await, 1, "one product");
    second.kill().unwrap();
    second.wait().unwrap();
    direct.close().await;
    db.drop_db().await;
}

/// The same keyed change sent 6 times at once over two replicas (a client retrying while its
/// first attempt still runs), 8 rounds, for PUT (If-Match 1) and DELETE: every answer is the
/// change (first or replayed) or 409 while it ran; never 412 or 404 for a change that was made.
async fn concurrent_keyed_changes_never_hear_they_lost(backend: Backend) {
    let db = TestDb::new(backend).await;
    let a = Service::start(db.settings(&[])).await.unwrap();
    let b = Service::start(db.settings(&[])).await.unwrap();
    for round in 0..8 {
        let id = a.register(&blusa()).await.unwrap().product.id;
        for delete in [false, true] {
            let key = format!("r{round}-{}", if delete { "del" } else { "put" });
            let expected = if delete { 2 } else { 1 };
            let tasks: Vec<_> = (0..6)
                .map(|i| {
                    let svc = if i % 2 == 0 { a.clone() } else { b.clone() };
                    let key = key.clone();
                    tokio::spawn(async move {
                        let edit = dataflow::service::Edit {
                            id,
                            expected: Some(expected),
                            by: Some("vert"),
                            origin: None,
                        };
                        if delete {
                            svc.delete_keyed(edit, &key).await.map(|_| ())
                        } else {
                            let item = blusa().validate().unwrap();
                            svc.update_keyed(edit, &key, &item).await.map(|_| ())
                        }
                    })
                })
                .collect();
            for t in tasks {
                match t.await.unwrap() {
                    Ok(()) | Err(ServiceError::InProgress(_)) => {}
                    Err(e) => panic!("round {round}, delete {delete}: {e}"),
                }
            }
        }
    }
    a.shutdown().await;
    b.shutdown().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_keyed_changes_sqlite() {
    concurrent_keyed_changes_never_hear_they_lost(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_keyed_changes_postgres() {
    concurrent_keyed_changes_never_hear_they_lost(Backend::Postgres).await;
}

/// A keyed change whose client went away mid-request (the future dropped at a different
/// point each round), then retried with the same key and If-Match: the retry gets the change
/// (made now, or replayed), never 412 for the version its own first attempt wrote; the
/// product changed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_change_whose_client_left_is_replayed_on_retry() {
    common::with_service(Backend::Postgres, |svc| async move {
        for i in 0..20u64 {
            let id = svc.register(&blusa()).await.unwrap().product.id;
            let key = format!("gone-{i}");
            let item = blusa().validate().unwrap();
            let edit = || dataflow::service::Edit {
                id,
                expected: Some(1),
                by: Some("vert"),
                origin: None,
            };
            let first = svc.update_keyed(edit(), &key, &item);
            let _ = tokio::time::timeout(std::time::Duration::from_micros(200 * i), first).await;
            loop {
                match svc.update_keyed(edit(), &key, &item).await {
                    Err(ServiceError::InProgress(_)) => {
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                    other => {
                        assert!(other.is_ok(), "round {i}: {:?}", other.err());
                        break;
                    }
                }
            }
            let p = svc.product(id).await.unwrap().unwrap();
            assert_eq!(p.revision.version, 2, "round {i}: changed once");
        }
    })
    .await;
}
