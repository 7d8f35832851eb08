//! The HTTP API with many callers at once: a login flood against one user, and two clients
//! draining the consumer route while products are registered.

mod common;

use std::collections::BTreeMap;

use common::Backend;
use common::server::TestServer;
use dataflow::http::ThrottleRules;
use serde_json::{Value, json};

/// 400 concurrent wrong passwords for one user: no more passwords are checked than the
/// lock-out allows, the rest are refused at once, and the right password is locked out too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_flood_checks_no_more_than_the_limit() {
    let rules = ThrottleRules {
        per_user: 5,
        per_address: 10_000,
        ..ThrottleRules::default()
    };
    let s = TestServer::start(Backend::Sqlite, rules).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let url = s.url("/api/vert/auth/login");
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let body = json!({"username": "vert", "password": format!("guess-{i}")});
                let r = client.post(url).json(&body).send().await.unwrap();
                let retry = r.headers().get("retry-after").is_some();
                (r.status().as_u16(), retry)
            })
        })
        .collect();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for t in tasks {
        let (status, retry) = t.await.unwrap();
        *by_status.entry(status).or_default() += 1;
        if status == 429 || status == 503 {
            assert!(retry, "{status} carries Retry-After");
        }
    }
    let checked = by_status.get(&401).copied().unwrap_or(0);
    assert!(
        (1..=5).contains(&checked),
        "at most 5 passwords checked: {by_status:?}"
    );
    assert_eq!(
        by_status
            .keys()
            .filter(|k| ![401, 429, 503].contains(k))
            .count(),
        0,
        "{by_status:?}"
    );
    let r = client
        .post(&url)
        .json(&json!({"username": "vert", "password": "vert"}))
        .send()
        .await
        .unwrap();
    if checked == 5 {
        assert_eq!(r.status(), 429, "locked out, even with the right password");
    }
    s.stop().await;
}

/// Two clients call the consumer route in a loop while products are registered: every product
/// is returned once in all, and the group's committed offsets equal what was returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumer_route_with_two_clients() {
    let s = TestServer::start(Backend::Postgres, ThrottleRules::default()).await;
    let token = s.token().await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (client, token, stop) = (s.client.clone(), token.clone(), stop.clone());
            let url = s.url("/api/vert/kafka/consumer/product?max=25");
            tokio::spawn(async move {
                let mut ids = Vec::new();
                loop {
                    let done = stop.load(std::sync::atomic::Ordering::SeqCst);
                    let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                    let v: Value = r.json().await.unwrap();
                    let got = v["result"].as_array().unwrap().clone();
                    assert!(got.len() <= 25, "max bounds an answer");
                    if done && got.is_empty() {
                        return ids;
                    }
                    ids.extend(got.iter().map(|m| m["id"].as_i64().unwrap()));
                }
            })
        })
        .collect();
    let body = json!({"name": "Blusa", "description": "", "category": "Vestuário",
        "pricing": {"ammount": 59.99, "currency": "BRL"}, "availability": {"quantity": 1}});
    let mut registered = Vec::new();
    for _ in 0..200 {
        let r = s
            .client
            .post(s.url("/api/vert/register/product"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        registered.push(v["result"]["id"].as_i64().unwrap());
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut returned = Vec::new();
    for r in readers {
        returned.extend(r.await.unwrap());
    }
    let total = returned.len();
    returned.sort_unstable();
    returned.dedup();
    assert_eq!(total, 200, "no product returned twice");
    assert_eq!(returned, registered, "none lost");
    let committed =
        dataflow::kafka::committed_offsets(&s.svc.kafka(), &s.svc.settings().consumer_group)
            .await
            .unwrap();
    let sum: i64 = committed.iter().filter_map(|(_, o)| *o).sum();
    assert_eq!(sum, 200, "committed exactly what was returned");
    // A bound outside the documented range is refused, naming the field.
    let r = s
        .client
        .get(s.url("/api/vert/kafka/consumer/product?max=0"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["result"][0]["field"], "max");
    s.stop().await;
}

fn short_limits() -> dataflow::http::Limits {
    dataflow::http::Limits {
        in_flight: 1,
        header: std::time::Duration::from_millis(500),
        body: std::time::Duration::from_millis(800),
        request: std::time::Duration::from_secs(5),
    }
}

/// A client that sends half its headers and waits is cut off after the header timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start_with(Backend::Sqlite, ThrottleRules::default(), short_limits()).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        conn.read_to_end(&mut buf),
    )
    .await;
    assert!(closed.is_ok(), "the server closed the connection");
    s.stop().await;
}

/// Past the bound on requests in flight, a request is refused at once with 503 and
/// Retry-After instead of waiting; a body sent too slowly ends its request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_is_shed_and_slow_bodies_time_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start_with(Backend::Sqlite, ThrottleRules::default(), short_limits()).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    // Holds the only slot: headers sent, body promised but not sent. A probe that holds the
    // slot as the slow request arrives gets the slow one shed instead: then it starts again.
    let hold = || async {
        let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
        slow.write_all(
            b"POST /api/vert/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
        slow
    };
    let unanswered = |slow: &tokio::net::TcpStream| {
        let mut peek = [0u8; 1];
        matches!(slow.try_read(&mut peek), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    };
    // The first probe shed was refused at once, not after waiting for the slot: the slow
    // request is still unanswered then.
    let start = std::time::Instant::now();
    let mut slow = hold().await;
    let r = loop {
        let r = s.client.get(s.url("/")).send().await.unwrap();
        if r.status() == 503 && unanswered(&slow) {
            break r;
        }
        if !unanswered(&slow) {
            slow = hold().await; // it was shed (or timed out): hold the slot again
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the slow request takes the slot"
        );
    };
    assert_eq!(r.headers()["retry-after"], "1");
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), slow.read(&mut answer))
        .await
        .expect("the slow body's request ends")
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 4"), "{head}");
    let r = s.client.get(s.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the slot is free again");
    s.stop().await;
}

/// `dataflow_http_requests_in_flight` of the consumer route, as /metrics says now.
async fn consumers_in_flight(s: &TestServer) -> i64 {
    let text = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let name = r#"dataflow_http_requests_in_flight{route="/api/vert/kafka/consumer/product"} "#;
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .map_or(0, |n| n.trim().parse().unwrap())
}

async fn wait_consumers_in_flight(s: &TestServer, n: i64, what: &str) {
    let start = std::time::Instant::now();
    while consumers_in_flight(s).await != n {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "{what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A client that goes away while its call waits for the group (an earlier call holds it) gets
/// nothing committed; the next call returns the messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_route_client_gone_before_the_answer_commits_nothing() {
    use tokio::io::AsyncWriteExt;
    let s = TestServer::start(Backend::Sqlite, ThrottleRules::default()).await;
    let token = s.token().await;
    for _ in 0..3 {
        s.svc.register(&common::blusa()).await.unwrap();
    }
    let held = s.svc.consume(10).await.unwrap(); // holds the group's turn
    assert_eq!(held.messages.len(), 3);
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "GET /api/vert/kafka/consumer/product HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    wait_consumers_in_flight(&s, 1, "the call reaches the server and waits for the group").await;
    drop(conn); // gone while waiting
    drop(held); // the earlier call is abandoned too
    wait_consumers_in_flight(&s, 0, "the abandoned call ends").await;
    let r = s
        .client
        .get(s.url("/api/vert/kafka/consumer/product"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["result"].as_array().map(Vec::len),
        Some(3),
        "nothing was committed for the callers that went away: {v}"
    );
    s.stop().await;
}

/// A made-up method is counted under a fixed label: clients cannot grow the metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_labels_stay_bounded() {
    let s = TestServer::start(Backend::Sqlite, ThrottleRules::default()).await;
    for i in 0..5 {
        let m = reqwest::Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
        let _ = s
            .client
            .request(m, s.url(&format!("/x{i}")))
            .send()
            .await
            .unwrap();
    }
    let text = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("BREW"), "{text}");
    assert!(!text.contains("/x1"), "{text}");
    assert!(
        text.contains(r#"method="OTHER",route="unmatched""#),
        "{text}"
    );
    s.stop().await;
}
