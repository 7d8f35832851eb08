//! The pipeline view on real brokers: a group that has read part of the topic shows the
//! right committed offset and lag per partition, through the service (the TUI pane), through
//! `dataflow status --json` (its own process) and on `/metrics`. The embedded broker on both
//! back ends, and Tansu.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::tansu::{free_port, start_tansu_memory};
use common::{Backend, TestDb, blusa, drain_pending};
use dataflow::service::Service;
use dataflow::service::pipeline::{Reading, Watch};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// Messages per partition on the topic, read with the tail.
async fn per_partition(svc: &Service, n: usize) -> HashMap<i32, i64> {
    let all = common::read_at_least(svc, n).await;
    assert_eq!(all.len(), n, "every product on the topic once");
    let mut out = HashMap::new();
    for m in all {
        *out.entry(m.partition).or_default() += 1;
    }
    out
}

/// Commits `offsets` for `group`, as a consumer elsewhere would.
fn commit(host: &str, topic: &str, group: &str, offsets: &HashMap<i32, i64>) {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", host)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for (p, o) in offsets {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*o))
            .expect("partition");
    }
    c.commit(&tpl, CommitMode::Sync).expect("commit");
}

/// Half of each partition, rounded down.
fn halves(counts: &HashMap<i32, i64>) -> HashMap<i32, i64> {
    counts.iter().map(|(p, n)| (*p, n / 2)).collect()
}

/// Checks `group` in `r`: committed where it committed, lag = messages - committed.
fn check_group(
    r: &Reading,
    group: &str,
    counts: &HashMap<i32, i64>,
    committed: &HashMap<i32, i64>,
) {
    let g = r
        .groups
        .iter()
        .find(|g| g.group == group)
        .unwrap_or_else(|| panic!("{group} missing: {r:#?}"));
    let mut total = 0;
    for p in &g.partitions {
        let n = counts.get(&p.partition).copied().unwrap_or(0);
        let c = committed.get(&p.partition).copied();
        assert_eq!(p.committed, c, "partition {}: {r:#?}", p.partition);
        assert_eq!(
            p.lag,
            n - c.unwrap_or(0),
            "partition {}: {r:#?}",
            p.partition
        );
        total += p.lag;
    }
    assert_eq!(g.lag, total);
    assert!(total > 0 && !g.stalled);
}

/// Reads until the topic's high marks match what was written (Tansu's marks can lag its log
/// for a moment), within a bound.
async fn settled(svc: &Service, w: &mut Watch, counts: &HashMap<i32, i64>) -> Reading {
    for _ in 0..100 {
        let r = svc.read_pipeline(w).await;
        let marks: HashMap<i32, i64> = r.partitions.iter().map(|p| (p.partition, p.high)).collect();
        if counts.iter().all(|(p, n)| marks.get(p) == Some(n)) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the marks never matched the topic {counts:?}");
}

async fn lag_of_a_group_that_read_half(svc: Service) {
    common::wait_broker_up(&svc).await;
    for _ in 0..30 {
        svc.register(&blusa()).await.expect("registered");
    }
    assert_eq!(drain_pending(&svc).await, 0);
    let counts = per_partition(&svc, 30).await;
    let half = halves(&counts);
    let kafka = svc.kafka();
    commit(
        &kafka.bootstrap,
        &kafka.topic,
        &svc.settings().consumer_group,
        &half,
    );

    let mut w = Watch::new(10);
    let r = settled(&svc, &mut w, &counts).await;
    check_group(&r, &svc.settings().consumer_group, &counts, &half);
    assert_eq!(r.pending, Some(0));
    assert!(r.broker.up && r.database_error.is_none(), "{r:#?}");
    assert_eq!(r.latency.events, 30);
    // Every event in one bar of the histogram; the percentiles in order and above zero (an
    // acknowledgement takes time).
    assert_eq!(r.latency.bars.iter().sum::<u64>(), 30, "{:?}", r.latency);
    let (p50, p99) = (r.latency.p50_ms.unwrap(), r.latency.p99_ms.unwrap());
    assert!(p50 > 0.0 && p50 <= p99, "{:?}", r.latency);
    let own = r
        .destinations
        .iter()
        .find(|d| d.name == r.destination)
        .expect("own");
    assert!(own.served && own.pending == 0 && own.oldest_age_s.is_none());
}

both_backends!(embedded_broker, |svc: Service| async move {
    lag_of_a_group_that_read_half(svc).await
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_status_and_metrics_show_each_group_lag() {
    const TOPIC: &str = "pipeline-products";
    let db = TestDb::new(Backend::Postgres).await;
    let port = free_port();
    let mut broker = start_tansu_memory(port, db.dir.path());
    let host = format!("127.0.0.1:{port}");
    let vars = [("KAFKA_HOST", host.as_str()), ("TOPIC_PRODUCTS", TOPIC)];
    let svc = Service::start(db.settings(&vars)).await.expect("service");
    lag_of_a_group_that_read_half(svc.clone()).await;

    // Another reader of the topic, found by listing the cluster's groups.
    let counts = per_partition(&svc, 30).await;
    let half = halves(&counts);
    let some: HashMap<i32, i64> = counts.iter().map(|(p, n)| (*p, n / 3)).collect();
    commit(&host, TOPIC, "analytics", &some);

    // The same from a process of its own: `dataflow status --json`.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .args(["status", "--json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATAFLOW_DATA_DIR", db.dir.path())
        .env("DATABASE_URL", &db.url)
        .env("KAFKA_HOST", &host)
        .env("TOPIC_PRODUCTS", TOPIC)
        .output()
        .expect("status runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let lag_of = |group: &str| {
        let g = r["groups"]
            .as_array()
            .and_then(|gs| gs.iter().find(|g| g["group"] == group))
            .unwrap_or_else(|| panic!("{group} missing: {r:#}"))
            .clone();
        g["partitions"]
            .as_array()
            .expect("partitions")
            .iter()
            .map(|p| {
                (
                    p["partition"].as_i64().unwrap() as i32,
                    (p["committed"].as_i64(), p["lag"].as_i64().unwrap()),
                )
            })
            .collect::<HashMap<i32, (Option<i64>, i64)>>()
    };
    for (group, committed) in [("consumer-group", &half), ("analytics", &some)] {
        let got = lag_of(group);
        for (p, n) in &counts {
            assert_eq!(
                got[p],
                (Some(committed[p]), n - committed[p]),
                "{group} partition {p}: {r:#}"
            );
        }
    }
    assert_eq!(r["broker"]["up"], true);
    assert_eq!(r["pending"], 0);

    // And on /metrics of a serving process, once its background reading came.
    let state = dataflow::http::AppState::new(
        svc.clone(),
        dataflow::http::Jwt::new(b"pipeline-test-secret-pipeline-test"),
        Default::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(dataflow::http::serve(
        listener,
        state,
        std::future::pending(),
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let text = loop {
        let text = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        if text.contains("dataflow_consumer_group_lag{") || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    for (p, n) in &counts {
        let want = format!(
            "dataflow_consumer_group_lag{{group=\"consumer-group\",partition=\"{p}\"}} {}",
            n - half[p]
        );
        assert!(text.contains(&want), "missing {want}:\n{text}");
    }
    assert!(
        text.contains("dataflow_outbox_oldest_pending_seconds{destination="),
        "{text}"
    );
    // Process-wide: the other tests of this binary count too.
    let acked: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("dataflow_commit_to_ack_seconds_count "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no commit-to-ack histogram:\n{text}"));
    assert!(acked >= 30, "{acked}");

    svc.shutdown().await;
    let _ = broker.kill();
    let _ = broker.wait();
    db.drop_db().await;
}

// Events waiting for a cluster no process of this configuration serves: counted, aged, and
// said to be unserved.
both_backends!(
    backlog_of_an_unserved_destination,
    |svc: Service| async move {
        const GONE: &str = "kafka:gone:9092/produtos-persistidos";
        let store = svc.store();
        store
            .register_destination(GONE, "kafka")
            .await
            .expect("destination");
        let route = dataflow::store::EventRoute {
            destination: GONE,
            holder: None,
            lease: Duration::from_secs(30),
        };
        let at = chrono::Utc::now() - chrono::Duration::seconds(90);
        let item: dataflow::store::Creation = blusa().validate().expect("valid").into();
        store
            .insert_products(&[item], at, &route)
            .await
            .expect("inserted");
        let mut w = Watch::new(2);
        let r = svc.read_pipeline(&mut w).await;
        let d = r
            .destinations
            .iter()
            .find(|d| d.name == GONE)
            .unwrap_or_else(|| panic!("{r:#?}"));
        assert_eq!(d.pending, 1);
        assert!(!d.served);
        assert!(d.oldest_age_s.is_some_and(|a| a >= 89.0), "{r:#?}");
        assert_eq!(r.pending, Some(1));
    }
);

/// A group that committed once on the topic and went away is still listed by the cluster
/// (its offsets are kept): its lag is read, but the reader keeps no client for it (it kept
/// one for the life of the process before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_a_group_that_committed_and_left_keeps_no_client() {
    const TOPIC: &str = "leaver-products";
    let db = TestDb::new(Backend::Postgres).await;
    let port = free_port();
    let mut broker = start_tansu_memory(port, db.dir.path());
    let host = format!("127.0.0.1:{port}");
    let vars = [("KAFKA_HOST", host.as_str()), ("TOPIC_PRODUCTS", TOPIC)];
    let svc = Service::start(db.settings(&vars)).await.expect("service");
    for _ in 0..6 {
        svc.register(&blusa()).await.expect("registered");
    }
    let counts = per_partition(&svc, 6).await;
    commit(&host, TOPIC, "one-off", &halves(&counts));
    let reader = dataflow::kafka::LagReader::start(&svc.kafka()).expect("reader");
    for _ in 0..3 {
        let r = reader.read(Vec::new()).await.expect("a reading");
        assert!(
            r.groups.iter().any(|g| g.group == "one-off"),
            "found by listing: {r:?}"
        );
        assert_eq!(
            reader.kept_clients(),
            1,
            "only the reader's own client is kept"
        );
    }
    svc.shutdown().await;
    let _ = broker.kill();
    let _ = broker.wait();
    db.drop_db().await;
}

/// Lag in seconds, on Tansu: a group that stops reading while products arrive is behind by the
/// age of the oldest record it has not committed, which grows with the clock between two
/// readings (the record stays the same); once it has committed everything it is 0 behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_lag_in_seconds_grows_with_the_clock_and_returns_to_zero() {
    const TOPIC: &str = "seconds-products";
    let db = TestDb::new(Backend::Postgres).await;
    let port = free_port();
    let mut broker = start_tansu_memory(port, db.dir.path());
    let host = format!("127.0.0.1:{port}");
    let vars = [
        ("KAFKA_HOST", host.as_str()),
        ("TOPIC_PRODUCTS", TOPIC),
        ("TOPIC_PARTITIONS", "1"),
    ];
    let svc = Service::start(db.settings(&vars)).await.expect("service");
    common::wait_broker_up(&svc).await;
    for _ in 0..4 {
        svc.register(&blusa()).await.expect("registered");
    }
    let counts = per_partition(&svc, 4).await;
    let group = svc.settings().consumer_group.clone();
    commit(&host, TOPIC, &group, &HashMap::from([(0, 1)])); // read one, then stopped

    let mut w = Watch::new(10);
    let lag_of = |r: &Reading| {
        let g = r
            .groups
            .iter()
            .find(|g| g.group == group)
            .expect("the group");
        (
            g.lag,
            g.lag_seconds.expect("its oldest record was read"),
            r.at,
        )
    };
    let (lag1, secs1, at1) = lag_of(&settled(&svc, &mut w, &counts).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (lag2, secs2, at2) = lag_of(&settled(&svc, &mut w, &counts).await);
    assert_eq!((lag1, lag2), (3, 3));
    let clock = (at2 - at1).num_milliseconds() as f64 / 1000.0;
    assert!(
        secs1 > 0.0 && (secs2 - secs1 - clock).abs() < 0.01,
        "behind {secs1} s, then {secs2} s, {clock} s later"
    );
    let r = svc.read_pipeline(&mut w).await;
    let g = r
        .groups
        .iter()
        .find(|g| g.group == group)
        .expect("the group");
    assert!(
        g.partitions[0].lag_seconds.is_some_and(|s| s >= secs2),
        "{g:?}"
    );

    commit(&host, TOPIC, &group, &HashMap::from([(0, 4)]));
    let (lag, secs, _) = lag_of(&settled(&svc, &mut w, &counts).await);
    assert_eq!((lag, secs), (0, 0.0));
    svc.shutdown().await;
    let _ = broker.kill();
    let _ = broker.wait();
    db.drop_db().await;
}
