//! The product pipeline into Kafka, against the embedded broker: librdkafka's mock cluster,
//! in-process, not a real broker (the messages go through the real rdkafka client). What the
//! product relies on from a real broker is tested against Tansu in the `tansu_*` tests.

mod common;

use common::{Backend, TestDb, blusa, read_all, read_at_least};
use dataflow::domain::PublishState;
use dataflow::kafka::{TailOptions, TailStart, committed_offsets};
use dataflow::service::Service;

async fn registered_product_is_on_the_topic(svc: Service) {
    let p = svc.register(&blusa()).await.unwrap().product;
    let PublishState::Published { partition, offset } = p.publish else {
        panic!("not published: {:?}", p.publish)
    };
    let msgs = read_all(&svc).await;
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(
        (m.partition, m.offset),
        (partition, offset),
        "stored position is the real one"
    );
    assert_eq!(m.key.as_deref(), Some(p.id.to_string().as_str()));
    let ts = p
        .timestamp
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let expected = format!(
        r#"{{"id":{},"name":"Blusa","description":"Blusa com touca","pricing":{{"amount":59.99,"currency":"BRL"}},"availability":{{"quantity":50,"timestamp":"{ts}"}},"category":"Vestuário"}}"#,
        p.id
    );
    assert_eq!(String::from_utf8(m.bytes().to_vec()).unwrap(), expected);
}
both_backends!(
    registered_product_is_on_the_topic,
    registered_product_is_on_the_topic
);

/// One consumer-route call, committed as the route does once the answer is out.
async fn consume(svc: &Service, max: usize) -> Vec<dataflow::service::ConsumedMessage> {
    let c = svc.consume(max).await.unwrap();
    let msgs = c.messages.clone();
    c.commit().await.unwrap();
    msgs
}

async fn consumer_reads_new_messages_and_commits(svc: Service) {
    for _ in 0..3 {
        svc.register(&blusa()).await.unwrap();
    }
    let first = consume(&svc, 500).await;
    assert_eq!(first.len(), 3);
    assert!(
        first
            .iter()
            .all(|m| m.value["pricing"]["amount"] == serde_json::json!(59.99))
    );
    let committed = committed_offsets(&svc.kafka(), &svc.settings().consumer_group)
        .await
        .unwrap();
    let total: i64 = committed.iter().filter_map(|(_, o)| *o).sum();
    assert_eq!(
        total, 3,
        "the group committed past every message it returned: {committed:?}"
    );
    assert!(
        consume(&svc, 500).await.is_empty(),
        "nothing new: answers empty, at once"
    );
    let p = svc.register(&blusa()).await.unwrap().product;
    let next = consume(&svc, 500).await;
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].key.as_deref(), Some(p.id.to_string().as_str()));
}
both_backends!(
    consumer_reads_new_messages_and_commits,
    consumer_reads_new_messages_and_commits
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_never_commits() {
    common::with_service(Backend::Sqlite, |svc| async move {
        for _ in 0..2 {
            svc.register(&blusa()).await.unwrap();
        }
        assert_eq!(read_all(&svc).await.len(), 2);
        assert_eq!(
            read_all(&svc).await.len(),
            2,
            "a second tail sees the same messages"
        );
        let group = format!("dataflow-tail-{}", std::process::id());
        let committed = committed_offsets(&svc.kafka(), &group).await.unwrap();
        assert!(
            !committed.is_empty() && committed.iter().all(|(_, o)| o.is_none()),
            "{committed:?}"
        );
        assert_eq!(
            consume(&svc, 500).await.len(),
            2,
            "the consumer group still has everything"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_starts_from_the_newest_n() {
    common::with_service(Backend::Sqlite, |svc| async move {
        for _ in 0..9 {
            svc.register(&blusa()).await.unwrap();
        }
        let mut tail = svc
            .tail(
                TailOptions {
                    start: TailStart::Last(1),
                    follow: false,
                    partition: None,
                },
                8,
            )
            .unwrap();
        let mut got = Vec::new();
        while let Some(m) = tail.rx.recv().await {
            got.push(m);
        }
        assert_eq!(got.len(), 3, "one per partition: {got:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_keeps_registrations_pending() {
    let db = TestDb::new(Backend::Sqlite).await;
    // Nothing listens on port 9: the broker is unreachable from the start.
    let settings = db.settings(&[("KAFKA_HOST", "127.0.0.1:9"), ("PUBLISH_WAIT_MS", "300")]);
    let svc = Service::start(settings).await.unwrap();
    for _ in 0..3 {
        let p = svc
            .register(&blusa())
            .await
            .expect("registration never fails for Kafka")
            .product;
        assert_eq!(p.publish, PublishState::Pending);
    }
    assert_eq!(svc.count_products(None).await.unwrap(), 3);
    assert_eq!(svc.status().await.pending, Some(3));
    assert!(!svc.status().await.broker_ok);
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_embedded_broker_gets_recent_events_replayed() {
    let db = TestDb::new(Backend::Sqlite).await;
    let svc = Service::start(db.settings(&[])).await.unwrap();
    let mut keys = Vec::new();
    for _ in 0..3 {
        keys.push(svc.register(&blusa()).await.unwrap().product.id.to_string());
    }
    svc.shutdown().await;
    let svc = Service::start(db.settings(&[])).await.unwrap();
    let msgs = read_at_least(&svc, 3).await;
    let mut got: Vec<String> = msgs.iter().filter_map(|m| m.key.clone()).collect();
    got.sort();
    assert_eq!(got, keys);
    svc.shutdown().await;
}

/// `max` bounds one answer, the rest comes next; a call dropped before its commit (the client
/// went away) leaves its messages for the next call.
async fn consumer_max_and_abandoned_calls(svc: Service) {
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(svc.register(&blusa()).await.unwrap().product.id.to_string());
    }
    let first = consume(&svc, 3).await;
    assert_eq!(first.len(), 3);
    let abandoned = svc.consume(10).await.unwrap();
    assert_eq!(abandoned.messages.len(), 4);
    drop(abandoned);
    let rest = consume(&svc, 10).await;
    assert_eq!(rest.len(), 4, "the abandoned call's messages come again");
    let mut got: Vec<String> = first
        .iter()
        .chain(&rest)
        .filter_map(|m| m.key.clone())
        .collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids, "every message once");
    assert!(consume(&svc, 10).await.is_empty());
}
both_backends!(
    consumer_max_and_abandoned_calls,
    consumer_max_and_abandoned_calls
);

/// Two callers in a loop while products are registered: no message is returned twice, none is
/// lost, and what was committed is exactly what was returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_consumers_share_the_group_exactly() {
    common::with_service(Backend::Sqlite, |svc| async move {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (svc, stop) = (svc.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut keys = Vec::new();
                    loop {
                        let done = stop.load(std::sync::atomic::Ordering::SeqCst);
                        let got = consume(&svc, 37).await;
                        if done && got.is_empty() {
                            return keys;
                        }
                        keys.extend(got.into_iter().filter_map(|m| m.key));
                    }
                })
            })
            .collect();
        let mut ids = Vec::new();
        for _ in 0..300 {
            ids.push(svc.register(&blusa()).await.unwrap().product.id.to_string());
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut all = Vec::new();
        for r in readers {
            all.extend(r.await.unwrap());
        }
        let total = all.len();
        all.sort();
        all.dedup();
        ids.sort();
        assert_eq!(total, 300, "no message returned twice");
        assert_eq!(all, ids, "every message returned");
        let committed = committed_offsets(&svc.kafka(), &svc.settings().consumer_group)
            .await
            .unwrap();
        let sum: i64 = committed.iter().filter_map(|(_, o)| *o).sum();
        assert_eq!(sum, 300, "committed exactly what was returned");
    })
    .await;
}

async fn read(svc: &Service, opts: TailOptions) -> Vec<dataflow::kafka::TailMessage> {
    let mut tail = svc.tail(opts, 64).unwrap();
    let mut got = Vec::new();
    while let Some(m) = tail.rx.recv().await {
        got.push(m);
    }
    got
}

/// Seeking the embedded broker's topic: by time (offsets-for-times), by offset, by partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_seeks_by_time_offset_and_partition() {
    common::with_service(Backend::Sqlite, |svc| async move {
        for _ in 0..6 {
            svc.register(&blusa()).await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let middle = chrono::Utc::now().timestamp_millis();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut late = Vec::new();
        for _ in 0..4 {
            late.push(svc.register(&blusa()).await.unwrap().product.id.to_string());
        }
        assert_eq!(common::drain_pending(&svc).await, 0);
        let all = read(&svc, TailOptions::new(TailStart::Beginning, false)).await;
        assert_eq!(all.len(), 10);

        let since = read(&svc, TailOptions::new(TailStart::Time(middle), false)).await;
        let mut keys: Vec<_> = since.iter().map(|m| m.key.clone().unwrap()).collect();
        keys.sort();
        late.sort();
        assert_eq!(keys, late, "only what came after the instant");
        let future = chrono::Utc::now().timestamp_millis() + 60_000;
        assert!(
            read(&svc, TailOptions::new(TailStart::Time(future), false))
                .await
                .is_empty()
        );

        let p = all[0].partition;
        let in_p: Vec<_> = all.iter().filter(|m| m.partition == p).collect();
        let only_p = read(
            &svc,
            TailOptions {
                partition: Some(p),
                ..TailOptions::new(TailStart::Offset(1), false)
            },
        )
        .await;
        assert!(only_p.iter().all(|m| m.partition == p));
        assert_eq!(
            only_p.len(),
            in_p.len().saturating_sub(1),
            "from offset 1 on"
        );
        assert!(only_p.iter().all(|m| m.offset >= 1));

        // A partition the topic lacks: the reader stops and says why.
        let mut none = svc
            .tail(
                TailOptions {
                    partition: Some(99),
                    ..TailOptions::new(TailStart::Beginning, false)
                },
                8,
            )
            .unwrap();
        assert!(none.rx.recv().await.is_none());
        let why = none.failure().expect("a reason");
        assert!(why.contains("partition 99 does not exist"), "{why}");
    })
    .await;
}
