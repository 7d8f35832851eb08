//! /metrics during the outage it exists to show: the broker unreachable, events pending.
//! Figures are read in the background: the database's are there within the refresh period,
//! the broker's are absent (not frozen), and a scrape never waits for either.

mod common;

use std::time::{Duration, Instant};

use dataflow::http::{AppState, Jwt, ThrottleRules};
use dataflow::service::Service;

const TOKEN: &str = "scrape-token-for-tests-0123";

fn gauge(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_backlog_while_the_broker_is_down() {
    let db = common::TestDb::new(common::Backend::Postgres).await;
    let settings = db.settings(&[
        ("KAFKA_HOST", "127.0.0.1:9"),
        ("PUBLISH_WAIT_MS", "100"),
        ("METRICS_TOKEN", TOKEN),
    ]);
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
    let url = format!("{base}/metrics");

    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401, "METRICS_TOKEN set: no token, no figures");
    let r = client.get(&url).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status(), 401);

    // Within the refresh period (5 s) the backlog shows; every scrape answers at once.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut slowest = Duration::ZERO;
    let text = loop {
        let t = Instant::now();
        let r = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        slowest = slowest.max(t.elapsed());
        if gauge(&text, "dataflow_outbox_destination_pending{") == Some(4.0) {
            break text;
        }
        assert!(Instant::now() < deadline, "no backlog in 15 s:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!("slowest scrape while waiting: {slowest:?}");
    // The broker took 1 s or more to give up on before; now nothing waits for it.
    assert!(
        slowest < Duration::from_millis(500),
        "a scrape took {slowest:?}"
    );
    assert!(
        gauge(&text, "dataflow_outbox_oldest_pending_seconds{").unwrap() > 0.0,
        "{text}"
    );
    assert_eq!(
        gauge(&text, "dataflow_pipeline_broker_up "),
        Some(0.0),
        "{text}"
    );
    assert!(
        !text.contains("dataflow_topic_high_watermark{"),
        "no broker figures rather than stale ones:\n{text}"
    );
    assert!(gauge(&text, "dataflow_pipeline_database_read_timestamp_seconds ").unwrap() > 0.0);

    // A flood of scrapes costs no reading: the API still answers.
    let flood: Vec<_> = (0..200)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move { client.get(url).bearer_auth(TOKEN).send().await })
        })
        .collect();
    let r = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the API answers during the flood");
    for f in flood {
        assert_eq!(f.await.unwrap().unwrap().status(), 200);
    }
    let _ = stop.send(());
    let _ = server.await;
    svc.shutdown().await;
    db.drop_db().await;
}
