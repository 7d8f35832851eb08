//! A row held under a relay's name that the relay never had (an INSERT committed on the
//! server whose answer was lost, so nothing was handed over; a claim whose answer was lost)
//! is given back to the outbox and published, instead of being renewed forever.

mod common;

use std::time::{Duration, Instant};

use common::{blusa, drain_pending, read_all};
use dataflow::service::Service;

async fn held_but_unknown_is_published(svc: Service) {
    let product = svc.register(&blusa()).await.unwrap().product.id;
    assert_eq!(drain_pending(&svc).await, 0);
    let store = svc.store();
    let relay: String = match store {
        dataflow::store::Store::Postgres(p) => {
            sqlx::query_scalar("SELECT owner FROM destination WHERE name = $1")
                .bind(svc.destination())
                .fetch_one(p)
                .await
        }
        dataflow::store::Store::Sqlite(p) => {
            sqlx::query_scalar("SELECT owner FROM destination WHERE name = $1")
                .bind(svc.destination())
                .fetch_one(p)
                .await
        }
    }
    .expect("this process owns the embedded broker; its relay's name");

    // Version 2 of the product, committed under the relay's name with a long lease, and never
    // handed over: what a writer leaves when its commit's answer is lost.
    const COPY_PG: &str = "INSERT INTO outbox (product_id, msg_key, payload, created_at,
        destination, claimed_by, claimed_until, event, version)
      SELECT product_id, msg_key, payload, created_at, destination, $1,
        now() + interval '1 hour', 'updated', 2 FROM outbox WHERE product_id = $2";
    const COPY_SQLITE: &str = "INSERT INTO outbox (product_id, msg_key, payload, created_at,
        destination, claimed_by, claimed_until, event, version)
      SELECT product_id, msg_key, payload, created_at, destination, $1,
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+3600 seconds'), 'updated', 2
      FROM outbox WHERE product_id = $2";
    let added = match store {
        dataflow::store::Store::Postgres(p) => sqlx::query(COPY_PG)
            .bind(&relay)
            .bind(product)
            .execute(p)
            .await
            .map(|r| r.rows_affected()),
        dataflow::store::Store::Sqlite(p) => sqlx::query(COPY_SQLITE)
            .bind(&relay)
            .bind(product)
            .execute(p)
            .await
            .map(|r| r.rows_affected()),
    };
    assert_eq!(added.unwrap(), 1);

    // Two sweeps a renewal period (10 s) apart find it unknown; then it is claimed and sent.
    let start = Instant::now();
    while store.pending_count().await.unwrap() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the unknown row is never published"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let key = product.to_string();
    let versions: Vec<String> = read_all(&svc)
        .await
        .into_iter()
        .filter(|m| m.key.as_deref() == Some(key.as_str()))
        .filter_map(|m| {
            m.headers
                .into_iter()
                .find(|(k, _)| k == "version")
                .map(|(_, v)| v)
        })
        .collect();
    assert_eq!(versions, ["1", "2"]);
}
both_backends!(held_but_unknown, held_but_unknown_is_published);
