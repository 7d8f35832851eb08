//! Spans over OTLP: an OTLP/HTTP receiver started here (decoding with `opentelemetry-proto`)
//! gets the request, commit and publish spans of one registration, linked parent to child in
//! the caller's trace, and the record's `traceparent` header names the publish span. Both
//! back ends, the embedded broker. One test function: the exporter is once per process.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use common::Backend;
use common::records::records;
use common::server::TestServer;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

type Received = Arc<Mutex<Vec<Span>>>;

/// A minimal OTLP/HTTP traces receiver on a free port.
async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                let req = ExportTraceServiceRequest::decode(body).expect("an OTLP request");
                let spans = req
                    .resource_spans
                    .into_iter()
                    .flat_map(|r| r.scope_spans)
                    .flat_map(|s| s.spans);
                sink.lock().expect("lock").extend(spans);
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), got)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn attr(s: &Span, key: &str) -> Option<Value> {
    s.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone())
        .and_then(|v| v.value)
}

fn text(s: &Span, key: &str) -> String {
    match attr(s, key) {
        Some(Value::StringValue(v)) => v,
        other => panic!("{}: {key} is {other:?}", s.name),
    }
}

fn int(s: &Span, key: &str) -> i64 {
    match attr(s, key) {
        Some(Value::IntValue(v)) => v,
        other => panic!("{}: {key} is {other:?}", s.name),
    }
}

/// The request, commit and publish spans of `trace` once all three arrived.
async fn spans_of(got: &Received, trace: &str) -> (Span, Span, Span) {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let mine: Vec<Span> = got
            .lock()
            .expect("lock")
            .iter()
            .filter(|s| hex(&s.trace_id) == trace)
            .cloned()
            .collect();
        let find = |p: &dyn Fn(&Span) -> bool| mine.iter().find(|s| p(s)).cloned();
        let request = find(&|s| s.kind == SpanKind::Server as i32);
        let commit = find(&|s| s.name == "commit");
        let send = find(&|s| s.name.starts_with("send "));
        if let (Some(r), Some(c), Some(s)) = (request, commit, send) {
            return (r, c, s);
        }
        assert!(
            Instant::now() < until,
            "spans of {trace} not all received: {:?}",
            mine.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn one_registration_is_traced(backend: Backend, got: &Received) {
    let s = TestServer::start(backend, Default::default()).await;
    let token = s.token().await;
    let sent_trace = format!("{:032x}", rand::random::<u128>() | 1);
    let sent = format!("00-{sent_trace}-00f067aa0ba902b7-01");
    let mut ids = Vec::new();
    for caller in [Some(sent.as_str()), None] {
        let mut req = s
            .client
            .post(s.url("/api/vert/register/product"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"name": "Blusa", "description": "", "category": "Vestuário",
                "pricing": {"ammount": 59.99, "currency": "BRL"}, "availability": {"quantity": 50}}));
        if let Some(t) = caller {
            req = req.header("traceparent", t);
        }
        let r = req.send().await.expect("answer");
        assert_eq!(r.status(), 200);
        let answered = r.headers()["traceparent"]
            .to_str()
            .expect("ascii")
            .to_string();
        let v: serde_json::Value = r.json().await.expect("json");
        ids.push((
            v["result"]["id"].as_i64().expect("id"),
            answered,
            caller.is_some(),
        ));
    }
    let kafka = s.svc.kafka();
    let on_topic = records(&kafka.bootstrap, &kafka.topic);
    for (id, answered, continued) in ids {
        let parts: Vec<&str> = answered.split('-').collect();
        let (trace, request_span) = (parts[1], parts[2]);
        if continued {
            assert_eq!(trace, sent_trace, "the caller's trace continues");
        }
        let (request, commit, send) = spans_of(got, trace).await;

        // The request: our span (the one the answer names), child of the caller's.
        assert_eq!(hex(&request.span_id), request_span);
        let caller = if continued { "00f067aa0ba902b7" } else { "" };
        assert_eq!(hex(&request.parent_span_id), caller);
        assert_eq!(request.name, "POST /api/vert/register/product");
        assert_eq!(int(&request, "http.response.status_code"), 200);

        // The commit, child of the request, with its batch size and database.
        assert_eq!(hex(&commit.parent_span_id), request_span);
        assert!(int(&commit, "db.operation.batch.size") >= 1);
        assert_eq!(int(&commit, "dataflow.product.id"), id);
        let system = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        };
        assert_eq!(text(&commit, "db.system.name"), system);

        // The publish: `send <topic>`, a producer span, child of the request, naming where
        // the record landed; the record's header carries this span.
        assert_eq!(hex(&send.parent_span_id), request_span);
        assert_eq!(send.name, format!("send {}", kafka.topic));
        assert_eq!(send.kind, SpanKind::Producer as i32);
        assert_eq!(text(&send, "messaging.system"), "kafka");
        assert_eq!(text(&send, "messaging.destination.name"), kafka.topic);
        assert_eq!(text(&send, "messaging.kafka.message.key"), id.to_string());
        let record = on_topic
            .iter()
            .find(|r| r.key == id.to_string())
            .unwrap_or_else(|| panic!("product {id} not on the topic"));
        assert_eq!(
            text(&send, "messaging.destination.partition.id"),
            record.partition.to_string()
        );
        assert_eq!(int(&send, "messaging.kafka.offset"), record.offset);
        assert_eq!(
            record.traceparent.as_deref(),
            Some(format!("00-{trace}-{}-01", hex(&send.span_id)).as_str())
        );

        // In time order: the commit inside the request, the send after the commit.
        assert!(request.start_time_unix_nano <= commit.start_time_unix_nano);
        assert!(commit.end_time_unix_nano <= send.start_time_unix_nano);
        assert!(send.start_time_unix_nano <= send.end_time_unix_nano);
    }
    s.stop().await;
}

#[test]
fn request_commit_and_publish_spans_reach_an_otlp_receiver() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (endpoint, got) = rt.block_on(receiver());
    // Set before the exporter starts, while this test is the binary's only thread at work.
    unsafe {
        std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
        std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "100");
    }
    let telemetry = dataflow::telemetry::init()
        .expect("exporter starts")
        .expect("an endpoint is set");
    rt.block_on(one_registration_is_traced(Backend::Sqlite, &got));
    rt.block_on(one_registration_is_traced(Backend::Postgres, &got));
    drop(telemetry);
}
