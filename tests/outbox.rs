//! Outbox claims at the store level: concurrent relays never hold the same event.

mod common;

use chrono::Utc;
use common::{Backend, TestDb, blusa};

async fn concurrent_claims_are_disjoint(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let item = blusa().validate().unwrap();
    let batch: Vec<_> = std::iter::repeat_n(item, 50).collect();
    for _ in 0..4 {
        store.insert_products(&batch, Utc::now()).await.unwrap();
    }
    let until = Utc::now() + chrono::Duration::seconds(60);
    let claims = (0..4).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_events(&format!("relay-{i}"), until, 7)
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
    let mut first = Vec::new();
    for (i, c) in claims.enumerate() {
        let mine = c.await.unwrap();
        if i == 0 {
            first = mine.clone();
        }
        all.extend(mine);
    }
    let total = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(total, 200, "every event claimed");
    assert_eq!(all.len(), 200, "no event claimed twice");
    // A live lease keeps others off; releasing gives the event back.
    assert!(
        store
            .claim_events("late", until, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.release_events("relay-0", &all, "test").await.unwrap();
    let again = store.claim_events("late", until, 1000).await.unwrap();
    let mut again: Vec<i64> = again.into_iter().map(|e| e.id).collect();
    first.sort_unstable();
    again.sort_unstable();
    assert_eq!(again, first, "only relay-0's events come back");
    assert_eq!(store.pending_count().await.unwrap(), 200);
    store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_are_disjoint_sqlite() {
    concurrent_claims_are_disjoint(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_are_disjoint_postgres() {
    concurrent_claims_are_disjoint(Backend::Postgres).await;
}
