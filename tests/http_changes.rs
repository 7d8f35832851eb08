//! PUT and DELETE of /api/vert/product/{id}: versions as ETags, If-Match with 412, 404 after a
//! delete, and the consumer route's view of changes; on both storage back ends.

mod common;

use common::Backend;
use common::server::TestServer;
use dataflow::http::ThrottleRules;
use reqwest::Method;
use serde_json::{Value, json};

fn body(amount: f64, quantity: i64) -> Value {
    json!({"name": "Blusa", "description": "Blusa com touca", "category": "Vestuário",
           "pricing": {"ammount": amount, "currency": "BRL"}, "availability": {"quantity": quantity}})
}

/// Status, ETag and JSON of one call.
async fn call(
    s: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    json: Option<&Value>,
) -> (u16, Option<String>, Value) {
    let mut req = s.client.request(method, s.url(path)).bearer_auth(token);
    if let Some(m) = if_match {
        req = req.header("If-Match", m);
    }
    if let Some(j) = json {
        req = req.json(j);
    }
    let r = req.send().await.unwrap();
    let etag = r
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    (
        r.status().as_u16(),
        etag,
        r.json().await.unwrap_or(Value::Null),
    )
}

async fn edit_delete_and_versions(s: &TestServer) {
    let t = s.token().await;
    let (status, _, reg) = call(
        s,
        Method::POST,
        "/api/vert/register/product",
        &t,
        None,
        Some(&body(59.99, 50)),
    )
    .await;
    assert_eq!(status, 200);
    let id = reg["result"]["id"].as_i64().unwrap();
    assert_eq!(reg["result"]["version"], 1);
    assert_eq!(reg["result"]["created_by"], "vert");
    let path = format!("/api/vert/product/{id}");

    let (status, etag, got) = call(s, Method::GET, &path, &t, None, None).await;
    assert_eq!((status, etag.as_deref()), (200, Some("\"1\"")));
    assert_eq!(got["result"]["version"], 1);
    assert_eq!(got["result"]["updated_by"], Value::Null);
    assert_eq!(got["result"]["updated_at"], Value::Null);

    let (status, etag, put) = call(
        s,
        Method::PUT,
        &path,
        &t,
        Some("\"1\""),
        Some(&body(64.9, 7)),
    )
    .await;
    assert_eq!((status, etag.as_deref()), (200, Some("\"2\"")), "{put}");
    assert_eq!(put["message"], "Product updated successfully");
    let r = &put["result"];
    assert_eq!(
        (r["version"].as_i64(), r["id"].as_i64()),
        (Some(2), Some(id))
    );
    assert_eq!(r["pricing"]["ammount"], 64.9);
    assert_eq!(r["availability"]["quantity"], 7);
    assert_eq!(r["updated_by"], "vert");
    assert!(r["updated_at"].as_str().is_some());
    assert!(r["publish"]["state"].as_str().is_some());

    // Stale: 412 with the current version, and nothing changes.
    let (status, etag, stale) = call(
        s,
        Method::PUT,
        &path,
        &t,
        Some("\"1\""),
        Some(&body(1.0, 1)),
    )
    .await;
    assert_eq!((status, etag.as_deref()), (412, Some("\"2\"")), "{stale}");
    assert_eq!(stale["code"], "412");
    let (_, _, now) = call(s, Method::GET, &path, &t, None, None).await;
    assert_eq!(now["result"]["pricing"]["ammount"], 64.9);
    let (status, _, _) = call(s, Method::DELETE, &path, &t, Some("\"1\""), None).await;
    assert_eq!(status, 412);
    // The bare number, as many clients send it, is read the same.
    let (status, _, _) = call(s, Method::DELETE, &path, &t, Some("1"), None).await;
    assert_eq!(status, 412);

    // Bad input: field by field, nothing saved.
    let (status, _, bad) = call(s, Method::PUT, &path, &t, Some("v3"), Some(&body(1.0, 1))).await;
    assert_eq!(status, 422);
    assert_eq!(bad["result"][0]["field"], "If-Match");
    let mut invalid = body(-1.0, 1);
    invalid["name"] = json!("");
    let (status, _, bad) = call(s, Method::PUT, &path, &t, None, Some(&invalid)).await;
    assert_eq!(status, 422);
    let fields: Vec<_> = bad["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "pricing.ammount"]);
    let (status, etag, _) = call(s, Method::GET, &path, &t, None, None).await;
    assert_eq!((status, etag.as_deref()), (200, Some("\"2\"")));

    // Unknown ids.
    let (status, _, _) = call(
        s,
        Method::PUT,
        "/api/vert/product/999999",
        &t,
        None,
        Some(&body(1.0, 1)),
    )
    .await;
    assert_eq!(status, 404);

    // Delete: then 404 everywhere, gone from product/all.
    let (status, _, del) = call(s, Method::DELETE, &path, &t, Some("\"2\""), None).await;
    assert_eq!(status, 200, "{del}");
    assert_eq!(
        (
            &del["result"]["id"],
            &del["result"]["deleted"],
            &del["result"]["version"]
        ),
        (&json!(id), &json!(true), &json!(3))
    );
    for method in [Method::GET, Method::DELETE] {
        let (status, _, _) = call(s, method, &path, &t, None, None).await;
        assert_eq!(status, 404);
    }
    let (status, _, _) = call(s, Method::PUT, &path, &t, None, Some(&body(1.0, 1))).await;
    assert_eq!(status, 404);
    let (_, _, all) = call(s, Method::GET, "/api/vert/product/all", &t, None, None).await;
    assert_eq!(all["result"], json!([]));

    // The consumer route: the creation, the update as a product, the delete as a deletion.
    assert_eq!(common::drain_pending(&s.svc).await, 0);
    let (status, _, consumed) = call(
        s,
        Method::GET,
        "/api/vert/kafka/consumer/product",
        &t,
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let got = consumed["result"].as_array().unwrap();
    assert_eq!(got.len(), 3, "{consumed}");
    assert_eq!(got[0]["pricing"]["amount"], 59.99);
    assert_eq!(got[1]["pricing"]["amount"], 64.9);
    assert_eq!(got[1]["id"], json!(id));
    assert_eq!(got[2], json!({"id": id, "deleted": true}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_delete_and_versions_sqlite() {
    let s = TestServer::start(Backend::Sqlite, ThrottleRules::default()).await;
    edit_delete_and_versions(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_delete_and_versions_postgres() {
    let s = TestServer::start(Backend::Postgres, ThrottleRules::default()).await;
    edit_delete_and_versions(&s).await;
    s.stop().await;
}
