//! Hostile input over HTTP: amounts are read from the JSON number's text, exponents are
//! bounded, and each refusal names the field and the rule.

mod common;

use common::Backend;
use common::server::TestServer;
use dataflow::http::ThrottleRules;
use serde_json::Value;

/// On both back ends: amounts are TEXT on SQLite and NUMERIC on PostgreSQL.
async fn amounts_are_exact_and_exponents_bounded(backend: Backend) {
    let s = TestServer::start(backend, ThrottleRules::default()).await;
    let token = s.token().await;
    let send = |amount: &'static str| {
        let body = format!(
            r#"{{"name": "Blusa", "description": "", "category": "Vestuário",
                "pricing": {{"ammount": {amount}, "currency": "BRL"}},
                "availability": {{"quantity": 1}}}}"#
        );
        s.client
            .post(s.url("/api/vert/register/product"))
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    for (amount, rule) in [
        ("1.0000000000000001", "must have at most 2 decimals"),
        ("1e-999999999", "must have an exponent from -20 to 20"),
        ("1e999999999", "must have an exponent from -20 to 20"),
        ("0.001", "must have at most 2 decimals"),
    ] {
        let r = send(amount).await.unwrap();
        assert_eq!(r.status(), 422, "{amount}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["result"][0]["field"], "pricing.ammount", "{amount}: {v}");
        assert_eq!(v["result"][0]["message"], rule, "{amount}");
    }
    let r = send("1e3").await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["result"]["pricing"]["ammount"].to_string(), "1000.0");
    // Read back from the database as it was stored.
    let id = v["result"]["id"].as_i64().unwrap();
    let r = s
        .client
        .get(s.url(&format!("/api/vert/product/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["result"]["pricing"]["ammount"].to_string(),
        "1000.0",
        "{v}"
    );
    assert_eq!(
        s.svc.count_products(None).await.unwrap(),
        1,
        "only the valid one saved"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amounts_are_exact_and_exponents_bounded_sqlite() {
    amounts_are_exact_and_exponents_bounded(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amounts_are_exact_and_exponents_bounded_postgres() {
    amounts_are_exact_and_exponents_bounded(Backend::Postgres).await;
}
