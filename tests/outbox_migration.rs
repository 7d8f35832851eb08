//! Migration 0015 drops three outbox indexes, 0016 puts the pending one on (id) alone (and,
//! on PostgreSQL, drops the outbox's and import_key's foreign keys): on a 1,000,000-event
//! outbox it keeps every event as it was, and the relay's statements, which used those
//! indexes, still find the right rows: pending events in id order, held ones once their lease
//! is gone, the newest published ones for the pipeline.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestDb};
use dataflow::store::Store;

const EVENTS: i64 = 1_000_000;
/// Every 1,000th event is pending; of those, every other one held by a relay that failed once.
const PENDING: i64 = EVENTS / 1000;

async fn migrate_to(store: &Store, last: i64) {
    let keep = |mut m: sqlx::migrate::Migrator| {
        let upto: Vec<_> = m
            .migrations
            .iter()
            .filter(|x| x.version <= last)
            .cloned()
            .collect();
        m.migrations = upto.into();
        m
    };
    match store {
        Store::Postgres(p) => keep(sqlx::migrate!("migrations/postgres")).run(p).await,
        Store::Sqlite(p) => keep(sqlx::migrate!("migrations/sqlite")).run(p).await,
    }
    .expect("migrations up to the given one");
}

// The outbox as 0014 left it: published events with their place, pending ones with their
// claim state on the outbox row itself.
const FILL_PG: &str = "
INSERT INTO tb_product (id, name, description, category)
  SELECT g, 'Produto ' || g, 'd', 'c' FROM generate_series(1, 1000000) g;
INSERT INTO outbox (id, product_id, msg_key, payload, created_at, destination, claimed_by,
    claimed_until, attempts, last_error, published_at, kafka_partition, kafka_offset)
  SELECT g, g, g::text, '{\"id\":' || g || ',\"name\":\"Produto\"}', now(), 'products',
    CASE WHEN g % 2000 = 0 THEN 'relay-a' END,
    CASE WHEN g % 2000 = 0 THEN now() + interval '1 hour' END,
    CASE WHEN g % 2000 = 0 THEN 1 ELSE 0 END,
    CASE WHEN g % 2000 = 0 THEN 'timed out' END,
    CASE WHEN g % 1000 = 0 THEN NULL ELSE now() END,
    CASE WHEN g % 1000 = 0 THEN NULL ELSE g % 3 END,
    CASE WHEN g % 1000 = 0 THEN NULL ELSE g END
  FROM generate_series(1, 1000000) g;
SELECT setval('tb_product_id_seq', 1000000);
SELECT setval('outbox_id_seq', 1000000);";
const FILL_SQLITE: &str = "
WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < 1000000)
INSERT INTO tb_product (id, name, description, category)
  SELECT g, 'Produto ' || g, 'd', 'c' FROM n;
INSERT INTO outbox (id, product_id, msg_key, payload, created_at, destination, claimed_by,
    claimed_until, attempts, last_error, published_at, kafka_partition, kafka_offset)
  SELECT id, id, CAST(id AS TEXT), '{\"id\":' || id || ',\"name\":\"Produto\"}',
    strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'products',
    CASE WHEN id % 2000 = 0 THEN 'relay-a' END,
    CASE WHEN id % 2000 = 0 THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+3600 seconds') END,
    CASE WHEN id % 2000 = 0 THEN 1 ELSE 0 END,
    CASE WHEN id % 2000 = 0 THEN 'timed out' END,
    CASE WHEN id % 1000 = 0 THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END,
    CASE WHEN id % 1000 = 0 THEN NULL ELSE id % 3 END,
    CASE WHEN id % 1000 = 0 THEN NULL ELSE id END
  FROM tb_product;";

async fn moves_a_million_event_outbox(backend: Backend) {
    let db = TestDb::new(backend).await;
    let settings = db.settings(&[]);
    let store = Store::connect(&settings.database).await.unwrap();
    migrate_to(&store, 14).await;
    store
        .execute_script(match backend {
            Backend::Postgres => FILL_PG,
            Backend::Sqlite => FILL_SQLITE,
        })
        .await
        .unwrap();
    store
        .execute_script("INSERT INTO destination (name, kind) VALUES ('products', 'embedded')")
        .await
        .unwrap();

    let start = Instant::now();
    store.migrate().await.unwrap();
    eprintln!(
        "migrations 0015.. on {EVENTS} events: {:?}",
        start.elapsed()
    );
    if matches!(backend, Backend::Postgres) {
        // The contract's keys (pricing, availability) stay; the outbox's and import_key's go.
        let keys = |tables: &str| {
            format!(
                "SELECT COUNT(*) FROM pg_constraint WHERE contype = 'f' \
                 AND confrelid = 'tb_product'::regclass AND conrelid::regclass::text IN ({tables})"
            )
        };
        let contract = keys("'tb_pricing', 'tb_availability'");
        assert_eq!(common::scalar(&store, &contract).await, 2);
        let ours = keys("'outbox', 'import_key'");
        assert_eq!(common::scalar(&store, &ours).await, 0);
    }

    assert_eq!(store.pending_count().await.unwrap(), PENDING);
    let indexes = match backend {
        Backend::Postgres => "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'outbox'",
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox' \
             AND sql IS NOT NULL"
        }
    };
    // Primary key (an index of its own on PostgreSQL), outbox_pending,
    // outbox_product_latest, outbox_unrouted.
    let want = match backend {
        Backend::Postgres => 4,
        Backend::Sqlite => 3,
    };
    assert_eq!(common::scalar(&store, indexes).await, want);
    // 0016: the pending events by id alone, so a claim can walk them in order.
    let pending_by_id = match backend {
        Backend::Postgres => {
            "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'outbox_pending' \
             AND indexdef LIKE '%(id) WHERE (published_at IS NULL)'"
        }
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'outbox_pending' \
             AND sql LIKE '%(id) WHERE published_at IS NULL'"
        }
    };
    assert_eq!(common::scalar(&store, pending_by_id).await, 1);
    assert_eq!(
        common::scalar(
            &store,
            "SELECT COUNT(*) FROM outbox WHERE claimed_by = 'relay-a' AND attempts = 1 \
             AND last_error = 'timed out' AND claimed_until IS NOT NULL AND id % 2000 = 0"
        )
        .await,
        PENDING / 2,
        "held events keep their holder, lease, attempts and error"
    );
    assert_eq!(
        common::scalar(
            &store,
            "SELECT COUNT(*) FROM outbox WHERE kafka_offset = id AND published_at IS NOT NULL"
        )
        .await,
        EVENTS - PENDING,
        "published events keep their place"
    );
    // The pipeline's newest published events, past the pending ones among them.
    let recent = store.recent_publish_times(2000).await.unwrap();
    assert_eq!(recent.len(), 2000);

    // The relay's statements on the migrated outbox: the unheld half is claimable at once, in
    // id order, with its payload; the held half once its lease is gone, as uncertain.
    let lease = Duration::from_secs(30);
    let free = store
        .claim_orphans("relay-b", "products", lease, 10_000)
        .await
        .unwrap();
    let ids: Vec<i64> = free.iter().map(|e| e.id).collect();
    let want: Vec<i64> = (1..=PENDING)
        .map(|k| k * 1000)
        .filter(|id| id % 2000 != 0)
        .collect();
    assert_eq!(ids, want);
    assert!(
        free.iter()
            .all(|e| !e.uncertain && e.payload.contains("Produto"))
    );
    store
        .execute_script(match backend {
            Backend::Postgres => {
                "UPDATE outbox SET claimed_until = now() - interval '1 second' \
                 WHERE claimed_by = 'relay-a' AND published_at IS NULL"
            }
            Backend::Sqlite => {
                "UPDATE outbox SET claimed_until = '2000-01-01T00:00:00.000Z' \
                 WHERE claimed_by = 'relay-a' AND published_at IS NULL"
            }
        })
        .await
        .unwrap();
    let held = store
        .claim_orphans("relay-b", "products", lease, 10_000)
        .await
        .unwrap();
    assert_eq!(held.len() as i64, PENDING / 2);
    assert!(held.iter().all(|e| e.uncertain), "attempts carried over");

    let all: Vec<_> = free.iter().chain(&held).cloned().collect();
    let acks = common::acks(&all);
    assert_eq!(
        store.mark_published("relay-b", &acks).await.unwrap(),
        PENDING as u64
    );
    assert_eq!(store.pending_count().await.unwrap(), 0);
    assert_eq!(
        common::scalar(
            &store,
            "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"
        )
        .await,
        0
    );
    if matches!(backend, Backend::Postgres) {
        // A product deleted by hand still takes its events and import key with it (0016
        // replaced those foreign keys' cascade by a trigger).
        store
            .execute_script(
                "INSERT INTO import_key (key, product_id) VALUES ('ext:999', 999), ('ext:998', 998);
                 DELETE FROM tb_product WHERE id = 999",
            )
            .await
            .unwrap();
        let left = "SELECT (SELECT COUNT(*) FROM outbox WHERE product_id = 999) \
                    + (SELECT COUNT(*) FROM import_key WHERE product_id = 999)";
        assert_eq!(common::scalar(&store, left).await, 0, "cascaded by hand");
        let kept = "SELECT (SELECT COUNT(*) FROM outbox WHERE product_id = 998) \
                    + (SELECT COUNT(*) FROM import_key WHERE product_id = 998)";
        assert_eq!(
            common::scalar(&store, kept).await,
            2,
            "other products untouched"
        );
        store
            .execute_script("TRUNCATE tb_product CASCADE")
            .await
            .unwrap();
        let all = "SELECT (SELECT COUNT(*) FROM outbox) + (SELECT COUNT(*) FROM import_key)";
        assert_eq!(
            common::scalar(&store, all).await,
            0,
            "truncated with the products"
        );
    }
    store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_moves_a_million_event_outbox_postgres() {
    moves_a_million_event_outbox(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_moves_a_million_event_outbox_sqlite() {
    moves_a_million_event_outbox(Backend::Sqlite).await;
}
