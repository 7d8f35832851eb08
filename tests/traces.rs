//! W3C trace context from the HTTP request to the Kafka record: a `traceparent` sent with a
//! registration reaches the record's headers (same trace, the send's span), one is started when
//! none is sent, and the answer says which. Read back by an independent consumer (rdkafka,
//! not our tail). Both back ends, the embedded broker, with and without an Idempotency-Key.

mod common;

use common::records::records;
use common::server::TestServer;
use common::{Backend, drain_pending};

const SENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn blouse() -> serde_json::Value {
    serde_json::json!({"name": "Blusa", "description": "", "category": "Vestuário",
        "pricing": {"ammount": 59.99, "currency": "BRL"}, "availability": {"quantity": 50}})
}

async fn register(
    s: &TestServer,
    token: &str,
    trace: Option<&str>,
    key: Option<&str>,
) -> (i64, String) {
    let body = blouse();
    let mut req = s
        .client
        .post(s.url("/api/vert/register/product"))
        .bearer_auth(token)
        .json(&body);
    if let Some(t) = trace {
        req = req.header("traceparent", t);
    }
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await.expect("answer");
    assert_eq!(r.status(), 200);
    let answered = r
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .expect("the answer names its trace")
        .to_string();
    let v: serde_json::Value = r.json().await.expect("json");
    (v["result"]["id"].as_i64().expect("id"), answered)
}

fn parts(t: &str) -> Vec<String> {
    t.split('-').map(str::to_string).collect()
}

async fn trace_reaches_the_record(backend: Backend) {
    let s = TestServer::start(backend, Default::default()).await;
    let token = s.token().await;
    let (with, answered) = register(&s, &token, Some(SENT), None).await;
    let (a, b) = (parts(SENT), parts(&answered));
    assert_eq!(
        (&b[0], &b[1], &b[3]),
        (&a[0], &a[1], &a[3]),
        "same trace: {answered}"
    );
    assert_ne!(b[2], a[2], "a span of ours, child of the caller's");
    let (keyed, keyed_trace) = register(&s, &token, Some(SENT), Some("k-1")).await;
    assert_eq!(parts(&keyed_trace)[1], a[1]);
    // A replay registers nothing and publishes nothing: it names no trace of its own.
    let replay = s
        .client
        .post(s.url("/api/vert/register/product"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "k-1")
        .header("traceparent", SENT)
        .json(&blouse())
        .send()
        .await
        .expect("answer");
    assert_eq!(replay.status(), 200);
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    assert!(replay.headers().get("traceparent").is_none());
    let (without, started) = register(&s, &token, None, None).await;
    let (bad, restarted) = register(&s, &token, Some("00-zz-zz-01"), None).await;
    for t in [&started, &restarted] {
        assert!(dataflow::domain::TraceParent::parse(t).is_some(), "{t}");
        assert_ne!(parts(t)[1], a[1], "a new trace");
    }
    assert_eq!(drain_pending(&s.svc).await, 0);

    let kafka = s.svc.kafka();
    let got = records(&kafka.bootstrap, &kafka.topic);
    let header = |id: i64| {
        got.iter()
            .find(|r| r.key == id.to_string())
            .unwrap_or_else(|| panic!("product {id} not on the topic"))
            .traceparent
            .clone()
    };
    // The record carries the send's own span, child of the request's: same trace, its own
    // span id (tests/otlp.rs checks the parent link through the exported spans).
    for (id, request) in [
        (with, &answered),
        (keyed, &keyed_trace),
        (without, &started),
        (bad, &restarted),
    ] {
        let h = header(id).unwrap_or_else(|| panic!("product {id}'s record has no traceparent"));
        assert!(dataflow::domain::TraceParent::parse(&h).is_some(), "{h}");
        let (h, r) = (parts(&h), parts(request));
        assert_eq!((&h[0], &h[1], &h[3]), (&r[0], &r[1], &r[3]), "same trace");
        assert_ne!(h[2], r[2], "the send's span, not the request's");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    trace_reaches_the_record(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    trace_reaches_the_record(Backend::Postgres).await;
}
