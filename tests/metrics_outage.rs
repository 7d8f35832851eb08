//! /metrics during the outage it exists to show: the broker unreachable, events pending.
//! The database's figures are there, and the scrape does not wait for the broker's.

mod common;

use std::time::{Duration, Instant};

use dataflow::http::{AppState, Jwt, ThrottleRules};
use dataflow::service::Service;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_backlog_while_the_broker_is_down() {
    let db = common::TestDb::new(common::Backend::Postgres).await;
    let settings = db.settings(&[("KAFKA_HOST", "127.0.0.1:9"), ("PUBLISH_WAIT_MS", "100")]);
    let svc = Service::start(settings).await.unwrap();
    for _ in 0..4 {
        svc.register(&common::blusa()).await.unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(
        svc.clone(),
        Jwt::new(common::server::SECRET),
        ThrottleRules::default(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dataflow::http::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let t = Instant::now();
        let text = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let took = t.elapsed();
        let pending: f64 = text
            .lines()
            .find(|l| l.starts_with("dataflow_outbox_destination_pending{"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no pending gauge:\n{text}"));
        assert_eq!(pending, 4.0, "{text}");
        let oldest: f64 = text
            .lines()
            .find(|l| l.starts_with("dataflow_outbox_oldest_pending_seconds{"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!(oldest > 0.0, "the oldest event's age: {text}");
        assert!(
            took < Duration::from_millis(2_500),
            "a scrape took {took:?}"
        );
    }
    let _ = stop.send(());
    let _ = server.await;
    svc.shutdown().await;
    db.drop_db().await;
}
