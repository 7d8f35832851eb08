//! A relay's claim of orphans reads the pending events, not the outbox. Counted, not timed:
//! the index entries and rows PostgreSQL reports read (`pg_stat_user_*`) for one claim of 100
//! orphans behind 5,000 events another relay holds, in a 200,000-event outbox, with the plan
//! a prepared statement settles on (generic), both before any statistics exist (autovacuum off
//! or not yet run) and with statistics taken while nothing was pending. Before migration 0016
//! the first walked the whole outbox by its key, the second scanned every pending event once
//! per orphan.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestDb};
use sqlx::{Connection, PgConnection};

const PUBLISHED: i64 = 200_000;
const HELD: i64 = 5_000;
const ORPHANS: i64 = 100;

const FILL: &str = "
INSERT INTO destination (name, kind) VALUES ('products', 'kafka');
INSERT INTO tb_product (id, name, description, category)
  SELECT g, 'Produto ' || g, 'd', 'c' FROM generate_series(1, 205100) g;
INSERT INTO outbox (id, product_id, msg_key, payload, created_at, destination,
    published_at, kafka_partition, kafka_offset)
  SELECT g, g, g::text, '{\"id\":' || g || '}', now(), 'products', now(), g % 3, g
  FROM generate_series(1, 200000) g;
SELECT setval('tb_product_id_seq', 205100);";
const PENDING: &str = "
INSERT INTO outbox (id, product_id, msg_key, payload, created_at, destination, claimed_by,
    claimed_until)
  SELECT g, g, g::text, '{\"id\":' || g || '}', now(), 'products',
    CASE WHEN g <= 205000 THEN 'relay-a' END,
    CASE WHEN g <= 205000 THEN now() + interval '1 hour' END
  FROM generate_series(200001, 205100) g;
SELECT setval('outbox_id_seq', 205100);";

/// Index entries and rows read from the outbox so far, as the statistics show them.
async fn reads(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT (SELECT COALESCE(SUM(idx_tup_read), 0) FROM pg_stat_user_indexes \
           WHERE relname = 'outbox')::bigint \
         + (SELECT COALESCE(seq_tup_read, 0) FROM pg_stat_user_tables WHERE relname = 'outbox')",
    )
    .fetch_one(conn)
    .await
    .expect("read statistics")
}

async fn claim_reads_pending_only(stale_statistics: bool) {
    let db = TestDb::new(Backend::Postgres).await;
    let mut own = PgConnection::connect(&db.url).await.unwrap();
    let path = db.url.split('?').next().unwrap();
    let name = path.rsplit('/').next().unwrap().to_string();
    // Every connection the store opens plans its statements generically from the start.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} SET plan_cache_mode = force_generic_plan"
    )))
    .execute(&mut own)
    .await
    .unwrap();
    let store = db.store().await;
    // Statistics only when the case says so: autovacuum would otherwise analyze the fill.
    sqlx::raw_sql("ALTER TABLE outbox SET (autovacuum_enabled = off)")
        .execute(&mut own)
        .await
        .unwrap();
    sqlx::raw_sql(FILL).execute(&mut own).await.unwrap();
    if stale_statistics {
        sqlx::raw_sql("ANALYZE").execute(&mut own).await.unwrap();
    }
    sqlx::raw_sql(PENDING).execute(&mut own).await.unwrap();

    // A connection flushes its statistics when it goes idle at least a second after its last
    // flush: the claim's are then visible at once.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = reads(&mut own).await;
    let claimed = store
        .claim_orphans("relay-b", "products", Duration::from_secs(30), ORPHANS)
        .await
        .unwrap();
    let ids: Vec<i64> = claimed.iter().map(|e| e.id).collect();
    let want: Vec<i64> = (PUBLISHED + HELD + 1..=PUBLISHED + HELD + ORPHANS).collect();
    assert_eq!(
        ids, want,
        "the orphans, in id order, and nothing another relay holds"
    );

    let until = Instant::now() + Duration::from_secs(15);
    let mut read = 0;
    while Instant::now() < until {
        read = reads(&mut own).await - before;
        if read > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(read > 0, "the claim's statistics never showed");
    eprintln!("one claim of {ORPHANS} orphans read {read} outbox index entries and rows");
    // Walking the pending events once is HELD + ORPHANS entries; each orphan's check for an
    // older pending event of its product a few more.
    assert!(
        read < 4 * (HELD + ORPHANS),
        "one claim of {ORPHANS} orphans read {read} index entries and rows of the outbox \
         ({PUBLISHED} published, {HELD} held by another relay)"
    );
    drop(store);
    db.drop_db().await;
}

#[tokio::test]
async fn claim_reads_pending_only_without_statistics() {
    claim_reads_pending_only(false).await;
}

#[tokio::test]
async fn claim_reads_pending_only_with_stale_statistics() {
    claim_reads_pending_only(true).await;
}

/// PostgreSQL's JIT compiled a claim for 0.3 s whenever its generic plan's estimate passed
/// jit_above_cost: the store's sessions run without it, whatever the server's default.
#[tokio::test]
async fn store_sessions_do_not_compile_statements() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store().await;
    let off = "SELECT (current_setting('jit') = 'off')::int::bigint";
    assert_eq!(
        common::scalar(&store, off).await,
        1,
        "jit is off in the store's sessions"
    );
    drop(store);
    db.drop_db().await;
}
