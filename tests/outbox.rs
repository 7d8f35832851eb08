//! The outbox at the store level, on both back ends: group-commit batches with a bad row,
//! orphan claims, leases by the database's clock, marks that apply only to the holder, and
//! per-product order.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{Backend, TestDb, acks, blusa};
use dataflow::store::{Creation, EventRoute, Store};

const DEST: &str = "kafka:test:9092/t";

fn route(holder: Option<&str>, lease: Duration) -> EventRoute<'_> {
    EventRoute {
        destination: DEST,
        holder,
        lease,
    }
}

fn items(n: usize) -> Vec<Creation> {
    let item = blusa().validate().unwrap();
    std::iter::repeat_n(Creation::from(item), n).collect()
}

async fn on_both<F, Fut>(body: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        body(store.clone()).await;
        store.close().await;
        db.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_commits_together_and_a_bad_row_fails_alone() {
    on_both(|store| async move {
        let mut batch = items(9);
        batch[4].item.name = String::new(); // passes no validation: the database's CHECK rejects it
        batch[7].item.quantity = -1;
        let results = store
            .insert_each(&batch, Utc::now(), &route(None, Duration::ZERO))
            .await;
        assert_eq!(results.len(), 9);
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.is_err(), i == 4 || i == 7, "row {i}: {r:?}");
        }
        let ids: Vec<i64> = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|s| s.product.id)
            .collect();
        assert_eq!(ids.len(), 7);
        for (r, item) in results.iter().zip(&batch) {
            if let Ok(s) = r {
                assert_eq!(s.product.name, item.item.name);
                let back = store.get_product(s.product.id).await.unwrap().unwrap();
                assert_eq!(back.amount, item.item.amount);
                assert_eq!(s.event.product_id, s.product.id);
                assert_eq!(s.event.msg_key, s.product.id.to_string());
                let msg: serde_json::Value = serde_json::from_str(&s.event.payload).unwrap();
                assert_eq!(msg["id"], s.product.id);
                assert_eq!(msg["name"], "Blusa");
            }
        }
        assert_eq!(common::table_counts(&store).await, [7, 7, 7, 7]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_orphan_claims_are_disjoint() {
    on_both(|store| async move {
        for _ in 0..4 {
            store
                .insert_products(&items(50), Utc::now(), &route(None, Duration::ZERO))
                .await
                .unwrap();
        }
        let lease = Duration::from_secs(60);
        let claims = (0..4).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .claim_orphans(&format!("relay-{i}"), DEST, lease, 7)
                        .await
                        .unwrap();
                    if got.is_empty() {
                        break mine;
                    }
                    mine.extend(got.into_iter().map(|e| e.id));
                }
            })
        });
        let mut all: Vec<i64> = Vec::new();
        for c in claims {
            all.extend(c.await.unwrap());
        }
        let total = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(total, 200, "every event claimed");
        assert_eq!(all.len(), 200, "no event claimed twice");
        let other = store.claim_orphans("late", DEST, lease, 10).await.unwrap();
        assert!(other.is_empty(), "a live lease keeps others off");
        assert!(store.release_held("relay-0").await.unwrap() > 0);
        let again = store
            .claim_orphans("late", DEST, lease, 1000)
            .await
            .unwrap();
        assert!(!again.is_empty(), "released events are orphans at once");
        let elsewhere = store
            .claim_orphans("x", "kafka:other:9092/t", lease, 1000)
            .await
            .unwrap();
        assert!(
            elsewhere.is_empty(),
            "another destination's relay takes nothing"
        );
    })
    .await;
}

/// A holder that stalls past its lease loses its events to another relay; the stale holder's
/// mark then changes nothing, so nothing is marked twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_lease_hands_over_and_the_stale_mark_is_void() {
    on_both(|store| async move {
        let lease = Duration::from_secs(60);
        let saved = store
            .insert_products(&items(5), Utc::now(), &route(Some("a"), lease))
            .await
            .unwrap();
        let events: Vec<_> = saved.iter().map(|s| s.event.clone()).collect();
        let b_lease = Duration::from_secs(60);
        let b_claims = || store.claim_orphans("b", DEST, b_lease, 100);
        assert!(
            b_claims().await.unwrap().is_empty(),
            "held while the lease runs"
        );
        // Renewal keeps them: a live relay never loses its events.
        assert_eq!(store.renew_leases("a", lease).await.unwrap(), 5);
        assert!(b_claims().await.unwrap().is_empty(), "held after renewal");
        // Stalled: its last renewal runs out (a lease of 50 ms), and b takes all of them.
        assert_eq!(
            store
                .renew_leases("a", Duration::from_millis(50))
                .await
                .unwrap(),
            5
        );
        let start = std::time::Instant::now();
        let taken = loop {
            let got = b_claims().await.unwrap();
            if !got.is_empty() {
                break got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "b takes the events"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let ids = |e: &[dataflow::store::OutboxEvent]| e.iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(&taken), ids(&events));
        // a held them: they may be on the topic already, so b looks before it sends.
        let now_ms = Utc::now().timestamp_millis();
        assert!(
            taken.iter().all(|e| e.uncertain
                && e.created_ms.is_some_and(|ms| (ms - now_ms).abs() < 60_000)),
            "{taken:?}"
        );
        assert!(events.iter().all(|e| !e.uncertain));
        assert_eq!(store.mark_published("a", &acks(&events)).await.unwrap(), 0);
        assert_eq!(store.mark_published("b", &acks(&events)).await.unwrap(), 5);
        assert_eq!(store.mark_published("b", &acks(&events)).await.unwrap(), 0);
        assert_eq!(store.pending_count().await.unwrap(), 0);
    })
    .await;
}

/// An orphan is taken only while it is the oldest unpublished event of its product.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_products_events_are_claimed_in_commit_order() {
    on_both(|store| async move {
        let saved = store
            .insert_products(&items(2), Utc::now(), &route(None, Duration::ZERO))
            .await
            .unwrap();
        let p = saved[0].product.id;
        // A second event of the first product, committed later.
        store
            .execute_script(&format!(
                "INSERT INTO outbox (product_id, msg_key, payload, created_at, destination)
                 SELECT product_id, msg_key, payload, created_at, destination FROM outbox
                 WHERE product_id = {p}"
            ))
            .await
            .unwrap();
        let lease = Duration::from_secs(60);
        let first = store.claim_orphans("r", DEST, lease, 100).await.unwrap();
        assert!(
            first.iter().all(|e| !e.uncertain),
            "never held, never sent: {first:?}"
        );
        let products: Vec<i64> = first.iter().map(|e| e.product_id).collect();
        assert_eq!(
            products,
            vec![p, saved[1].product.id],
            "the later event waits"
        );
        assert!(
            store
                .claim_orphans("r2", DEST, lease, 100)
                .await
                .unwrap()
                .is_empty()
        );
        store.mark_published("r", &acks(&first)).await.unwrap();
        let next = store.claim_orphans("r2", DEST, lease, 100).await.unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].product_id, p);
        assert!(next[0].id > first[0].id);
    })
    .await;
}
