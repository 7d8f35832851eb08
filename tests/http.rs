//! Every route through a real HTTP client against a server on a loopback port, on both
//! storage back ends.

mod common;

use common::Backend;
use common::server::TestServer;
use dataflow::http::ThrottleRules;
use serde_json::{Value, json};

fn blusa_body() -> Value {
    json!({"name": "Blusa", "description": "Blusa com touca", "category": "Vestuário",
           "pricing": {"ammount": 59.99, "currency": "BRL"}, "availability": {"quantity": 50}})
}

async fn post(s: &TestServer, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = s.client.post(s.url(path)).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(s: &TestServer, path: &str, token: Option<&str>) -> (u16, String) {
    let mut req = s.client.get(s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

macro_rules! http_test {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let s = TestServer::start(Backend::Sqlite, ThrottleRules::default()).await;
                $body(&s).await;
                s.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let s = TestServer::start(Backend::Postgres, ThrottleRules::default()).await;
                $body(&s).await;
                s.stop().await;
            }
        }
    };
}

/// Replaces what differs between runs (timestamps) so shapes compare byte for byte.
fn normalize(text: &str) -> String {
    let v: Value = serde_json::from_str(text).unwrap();
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k == "timestamp" {
                        *x = json!("TS");
                    } else {
                        walk(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut v = v;
    walk(&mut v);
    serde_json::to_string(&v).unwrap()
}

async fn original_flow_byte_for_byte(s: &TestServer) {
    let (status, body) = get(s, "/", None).await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"message":"Welcome to Vert API"}"#)
    );

    let r = s
        .client
        .post(s.url("/api/vert/auth/login"))
        .json(&json!({"username": "vert", "password": "vert"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let login = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&login).unwrap();
    let token = v["result"]["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        login.replace(&token, "JWT"),
        r#"{"code":"200","status":"Ok","message":"Success Login","result":{"access_token":"JWT","token_type":"Bearer"}}"#
    );

    let (status, reg) = post(s, "/api/vert/register/product", Some(&token), &blusa_body()).await;
    assert_eq!(status, 200);
    assert_eq!(reg["code"], "200");
    assert_eq!(reg["message"], "Product register successfully");
    assert_eq!(reg["result"]["id"], 1);
    assert_eq!(reg["result"]["publish"]["state"], "published");

    let (status, all) = get(s, "/api/vert/product/all", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(
        normalize(&all),
        r#"{"code":"200","status":"Ok","message":"Retrieve products successfully","result":[{"id":1,"name":"Blusa","category":"Vestuário","description":"Blusa com touca","availability":{"id":1,"product_id":1,"quantity":50,"timestamp":"TS"},"pricing":{"id":1,"product_id":1,"ammount":59.99,"currency":"BRL"}}]}"#
    );
    let all: Value = serde_json::from_str(&all).unwrap();
    let ts = all["result"][0]["availability"]["timestamp"]
        .as_str()
        .unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");

    let (status, consumed) = get(s, "/api/vert/kafka/consumer/product", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(
        normalize(&consumed),
        r#"{"code":"200","status":"Ok","message":"Consumer topic kafka successfully","result":[{"id":1,"name":"Blusa","description":"Blusa com touca","pricing":{"amount":59.99,"currency":"BRL"},"availability":{"quantity":50,"timestamp":"TS"},"category":"Vestuário"}]}"#
    );
    let (_, again) = get(s, "/api/vert/kafka/consumer/product", Some(&token)).await;
    assert_eq!(
        again,
        r#"{"code":"200","status":"Ok","message":"Consumer topic kafka successfully","result":[]}"#
    );
}
http_test!(original_flow_byte_for_byte, original_flow_byte_for_byte);

async fn every_error_status(s: &TestServer) {
    let token = s.token().await;
    let reg = s.url("/api/vert/register/product");
    // 401: missing, invalid, expired.
    let (status, body) = post(s, "/api/vert/register/product", None, &blusa_body()).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("401")));
    let (status, _) = post(
        s,
        "/api/vert/register/product",
        Some("not.a.jwt"),
        &blusa_body(),
    )
    .await;
    assert_eq!(status, 401);
    let expired = s
        .jwt
        .issue("vert", 0, chrono::Utc::now().timestamp() - 2 * 3600)
        .unwrap();
    let (status, body) = post(
        s,
        "/api/vert/register/product",
        Some(&expired),
        &blusa_body(),
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Token expired"))
    );
    let forged = dataflow::http::Jwt::new(b"another-secret-another-secret-xx")
        .issue("vert", 0, chrono::Utc::now().timestamp())
        .unwrap();
    let (status, _) = post(
        s,
        "/api/vert/register/product",
        Some(&forged),
        &blusa_body(),
    )
    .await;
    assert_eq!(status, 401);
    // 400 malformed JSON.
    let r = s
        .client
        .post(&reg)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "400");
    // 415 wrong content type.
    let r = s
        .client
        .post(&reg)
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(blusa_body().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // 413 body too large.
    let mut big = blusa_body();
    big["description"] = json!("x".repeat(dataflow::http::BODY_LIMIT + 1));
    let (status, body) = post(s, "/api/vert/register/product", Some(&token), &big).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("413")));
    // 422 with one entry per failing field.
    let bad = json!({"name": "", "description": "ok", "category": 7,
                     "pricing": {"ammount": -1, "currency": "brl"}, "availability": {"quantity": 1.5}});
    let (status, body) = post(s, "/api/vert/register/product", Some(&token), &bad).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "category",
            "pricing.ammount",
            "pricing.currency",
            "availability.quantity"
        ]
    );
    // 404 unknown product, 422 bad id.
    let (status, _) = get(s, "/api/vert/product/999", Some(&token)).await;
    assert_eq!(status, 404);
    let (status, _) = get(s, "/api/vert/product/abc", Some(&token)).await;
    assert_eq!(status, 422);
    assert_eq!(
        s.svc.count_products(None).await.unwrap(),
        0,
        "no error saved anything"
    );
    // 503 when the database is gone; never SQL text in the answer.
    s.svc.store().close().await;
    let (status, body) = post(s, "/api/vert/register/product", Some(&token), &blusa_body()).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("503")));
    let (status, text) = get(s, "/api/vert/product/all", Some(&token)).await;
    assert_eq!(status, 503);
    assert!(
        !text.to_lowercase().contains("select") && !text.contains("sqlx"),
        "{text}"
    );
    let (status, _) = get(s, "/healthz", None).await;
    assert_eq!(status, 503);
}
http_test!(every_error_status, every_error_status);

async fn alias_unicode_paging_and_one(s: &TestServer) {
    let token = s.token().await;
    let mut body = blusa_body();
    body["pricing"] = json!({"amount": 10.5, "currency": "EUR"});
    body["name"] = json!("Café ☕ 漢字 👩‍👩‍👧");
    let (status, reg) = post(s, "/api/vert/register/product", Some(&token), &body).await;
    assert_eq!(status, 200, "{reg}");
    let id = reg["result"]["id"].as_i64().unwrap();
    for _ in 0..4 {
        assert_eq!(
            post(s, "/api/vert/register/product", Some(&token), &blusa_body())
                .await
                .0,
            200
        );
    }
    let (_, one) = get(s, &format!("/api/vert/product/{id}"), Some(&token)).await;
    let one: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one["result"]["name"], "Café ☕ 漢字 👩‍👩‍👧");
    assert_eq!(one["result"]["pricing"]["ammount"], json!(10.5));
    assert_eq!(one["result"]["publish"]["state"], "published");
    let (_, page) = get(
        s,
        &format!("/api/vert/product/all?after={id}&limit=2"),
        Some(&token),
    )
    .await;
    let page: Value = serde_json::from_str(&page).unwrap();
    let ids: Vec<i64> = page["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [id + 1, id + 2]);
    let (_, all) = get(s, "/api/vert/product/all", Some(&token)).await;
    let all: Value = serde_json::from_str(&all).unwrap();
    assert_eq!(all["result"].as_array().unwrap().len(), 5);
    let (status, _) = get(s, "/api/vert/product/all?limit=-1", Some(&token)).await;
    assert_eq!(status, 422);
}
http_test!(alias_unicode_paging_and_one, alias_unicode_paging_and_one);

async fn health_metrics_docs(s: &TestServer) {
    let (status, health) = get(s, "/healthz", None).await;
    assert_eq!(status, 200);
    let h: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(h["result"]["database"]["ok"], true);
    assert_eq!(h["result"]["broker"]["embedded"], true);
    let token = s.token().await;
    post(s, "/api/vert/register/product", Some(&token), &blusa_body()).await;
    // The answer comes on the broker's acknowledgement; the outbox's mark follows it.
    let start = std::time::Instant::now();
    let (status, metrics) = loop {
        let (status, metrics) = get(s, "/metrics", None).await;
        // Figures are read in the background every 5 s.
        let read = metrics.lines().any(|l| l == "dataflow_outbox_pending 0")
            && metrics
                .lines()
                .any(|l| l == "dataflow_events_published_total 1")
            && !metrics.contains("dataflow_pipeline_database_read_timestamp_seconds 0.0");
        if read || start.elapsed() > std::time::Duration::from_secs(15) {
            break (status, metrics);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(status, 200);
    // Whole lines: `_total 1` must not pass for `_total 13`.
    let line = |want: &str| metrics.lines().any(|l| l == want);
    assert!(
        line(
            r#"dataflow_http_requests_total{method="POST",route="/api/vert/register/product",status="200"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("dataflow_http_request_duration_seconds_bucket"));
    assert!(line("dataflow_outbox_pending 0"), "{metrics}");
    assert!(line("dataflow_events_published_total 1"), "{metrics}");
    // Every stage of that registration was timed (histograms are per process: at least 1).
    for stage in [
        "parse", "queue", "commit", "handoff", "send", "ack", "mark", "answer",
    ] {
        let count = format!(r#"dataflow_write_stage_seconds_count{{stage="{stage}"}} "#);
        let line = metrics.lines().find(|l| l.starts_with(&count));
        let n: u64 = line
            .and_then(|l| l[count.len()..].parse().ok())
            .unwrap_or(0);
        assert!(n >= 1, "stage {stage} timed: {line:?}");
    }
    let (status, docs) = get(s, "/docs/", None).await;
    assert_eq!(status, 200);
    assert!(
        docs.contains("swagger"),
        "the docs page is served from the binary"
    );
}
http_test!(health_metrics_docs, health_metrics_docs);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_throttling_sqlite() {
    login_throttling_answers_429_with_retry_after(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_throttling_postgres() {
    login_throttling_answers_429_with_retry_after(Backend::Postgres).await;
}

async fn login_throttling_answers_429_with_retry_after(backend: Backend) {
    let rules = ThrottleRules {
        per_user: 3,
        per_address: 50,
        ..ThrottleRules::default()
    };
    let s = TestServer::start(backend, rules).await;
    let bad = json!({"username": "vert", "password": "nope"});
    for _ in 0..3 {
        assert_eq!(post(&s, "/api/vert/auth/login", None, &bad).await.0, 401);
    }
    let r = s
        .client
        .post(s.url("/api/vert/auth/login"))
        .json(&json!({"username": "vert", "password": "vert"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "locked even with the right password");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "429");
    // Another user from the same address is not locked by vert's failures.
    let (status, _) = post(
        &s,
        "/api/vert/auth/login",
        None,
        &json!({"username": "other", "password": "x"}),
    )
    .await;
    assert_eq!(status, 401);
    // Unknown user and wrong password answer alike.
    let (s1, b1) = post(
        &s,
        "/api/vert/auth/login",
        None,
        &json!({"username": "ghost", "password": "x"}),
    )
    .await;
    let (s2, b2) = post(
        &s,
        "/api/vert/auth/login",
        None,
        &json!({"username": "other", "password": "y"}),
    )
    .await;
    assert_eq!((s1, b1), (s2, b2));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_parses_and_matches_the_routes() {
    let s = TestServer::start(Backend::Sqlite, ThrottleRules::default()).await;
    let (status, text) = get(&s, "/openapi.json", None).await;
    assert_eq!(status, 200);
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"));
    let mut paths: Vec<String> = spec.paths.as_ref().unwrap().keys().cloned().collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/",
            "/api/vert/audit",
            "/api/vert/auth/login",
            "/api/vert/kafka/consumer/product",
            "/api/vert/product/all",
            "/api/vert/product/{id}",
            "/api/vert/register/product",
            "/api/vert/users",
            "/api/vert/users/{username}",
            "/healthz",
            "/metrics"
        ]
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let register = &v["paths"]["/api/vert/register/product"]["post"]["responses"];
    for code in ["200", "400", "401", "413", "415", "422", "503"] {
        assert!(register.get(code).is_some(), "register documents {code}");
    }
    assert!(v["components"]["securitySchemes"]["bearer"].is_object());
    // Every documented path answers (not the fallback 404).
    for p in ["/", "/healthz", "/metrics"] {
        assert_eq!(get(&s, p, None).await.0, 200);
    }
    // The fallbacks answer in the envelope too: an unknown path, a method a path does not take.
    for (method, path, code) in [
        (reqwest::Method::GET, "/no/such/path", 404),
        (reqwest::Method::DELETE, "/", 405),
        (reqwest::Method::POST, "/api/vert/product/all", 405),
    ] {
        let r = s
            .client
            .request(method.clone(), s.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), code, "{method} {path}");
        if code == 405 {
            assert!(
                r.headers().contains_key("allow"),
                "{method} {path} keeps Allow"
            );
        }
        let v: Value = r.json().await.expect("a JSON envelope");
        assert_eq!(v["code"], code.to_string(), "{method} {path}: {v}");
    }
    s.stop().await;
}

/// Collects every log line of this test binary.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_has_method_path_status_latency_and_no_secrets() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only test that installs one");
    let s = TestServer::start(Backend::Sqlite, ThrottleRules::default()).await;
    let secret = "pw-that-must-never-be-logged";
    let (status, _) = post(
        &s,
        "/api/vert/auth/login",
        None,
        &json!({"username": "vert", "password": secret}),
    )
    .await;
    assert_eq!(status, 401);
    let token = s.token().await;
    assert_eq!(
        post(
            &s,
            "/api/vert/register/product",
            Some(&token),
            &blusa_body()
        )
        .await
        .0,
        200
    );
    s.stop().await;
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("method=POST path=/api/vert/auth/login status=401 latency_ms="),
        "{text}"
    );
    assert!(
        text.contains("method=POST path=/api/vert/register/product status=200"),
        "{text}"
    );
    assert!(!text.contains(secret), "a password reached the log");
    assert!(!text.contains(&token), "a token reached the log");
    let hash = "$argon2id$";
    assert!(!text.contains(hash), "a hash reached the log");
}

/// A username the database cannot hold (NUL: PostgreSQL refuses it in text) or no user can
/// have is refused at the edge, naming the field and the rule; it never reaches the database.
async fn usernames_are_checked_at_the_edge(s: &TestServer) {
    for (name, rule) in [("a\u{0}b", "control"), ("a\nb", "control"), ("", "1-200")] {
        let (status, v) = post(
            s,
            "/api/vert/auth/login",
            None,
            &json!({"username": name, "password": "vert"}),
        )
        .await;
        assert_eq!(status, 422, "{name:?}: {v}");
        assert_eq!(v["result"][0]["field"], "username", "{v}");
        assert!(
            v["result"][0]["message"].as_str().unwrap().contains(rule),
            "{v}"
        );
    }
    let long = "x".repeat(201);
    let (status, _) = post(
        s,
        "/api/vert/auth/login",
        None,
        &json!({"username": long, "password": "vert"}),
    )
    .await;
    assert_eq!(status, 422);
    // The service itself says no to such a name (the TUI logs in through it).
    assert!(!s.svc.login("a\u{0}b", "vert").await.unwrap());
    s.token().await; // the real user still logs in
}
http_test!(
    usernames_are_checked_at_the_edge,
    usernames_are_checked_at_the_edge
);
