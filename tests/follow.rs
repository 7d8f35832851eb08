//! Readers that follow the product table while others write: product/all with `cursor` sees
//! every committed product exactly once, however writers commit (an import's batches side by
//! side, two replicas, a transaction held open), and an export is one consistent view.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::server::TestServer;
use common::{Backend, assert_once_each, blusa};
use dataflow::http::ThrottleRules;
use dataflow::service::{Actor, ExportFormat, ImportOptions};
use serde_json::Value;
use sqlx::Connection;

async fn get(srv: &TestServer, token: &str, query: &str) -> Value {
    let r = srv
        .client
        .get(srv.url(&format!("/api/vert/product/all?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{query}");
    r.json().await.unwrap()
}

fn ids(page: &Value) -> Vec<i64> {
    page["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect()
}

/// One page after `cursor`: its ids and the next cursor.
async fn follow(srv: &TestServer, token: &str, cursor: &str) -> (Vec<i64>, String) {
    let page = get(srv, token, &format!("cursor={cursor}&limit=500")).await;
    let next = page["next"]
        .as_str()
        .expect("next beside result")
        .to_string();
    (ids(&page), next)
}

/// Pages from `cursor` until `n` products came (a relay's short transaction can hold rows
/// back for a moment), then once more to see that nothing else does.
async fn follow_until(srv: &TestServer, token: &str, cursor: &str, n: usize) -> (Vec<i64>, String) {
    let (mut got, mut cursor) = (Vec::new(), cursor.to_string());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while got.len() < n && std::time::Instant::now() < deadline {
        let (more, next) = follow(srv, token, &cursor).await;
        got.extend(more);
        cursor = next;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (more, next) = follow(srv, token, &cursor).await;
    got.extend(more);
    (got, next)
}

/// A product row written in a transaction that stays open: its id is drawn first, so it is
/// lower than any registered after it, and it becomes visible only at the commit.
async fn open_writer(url: &str) -> (sqlx::PgConnection, i64) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO tb_product (name, description, category) VALUES ('late', '', 'X') RETURNING id",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::query("INSERT INTO tb_pricing (product_id, ammount, currency) VALUES ($1, 1, 'BRL')")
        .bind(id)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO tb_availability (product_id, quantity, \"timestamp\") VALUES ($1, 1, now())",
    )
    .bind(id)
    .execute(&mut conn)
    .await
    .unwrap();
    (conn, id)
}

/// The case that lost 13,324 rows, made deterministic: a product commits after a higher id
/// was already returned. `after` never returns it; `cursor` returns it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_committed_below_the_cursor_is_returned_once() {
    let srv = TestServer::start(Backend::Postgres, ThrottleRules::default()).await;
    let token = srv.token().await;
    let first = srv.svc.register(&blusa()).await.unwrap().product.id;
    let (got, cursor) = follow_until(&srv, &token, "0", 1).await;
    assert_eq!(got, vec![first]);

    let (writer, late) = open_writer(srv.db_url()).await;
    let higher = srv.svc.register(&blusa()).await.unwrap().product.id;
    assert!(late < higher, "the held row drew its id first");
    assert_eq!(
        ids(&get(&srv, &token, &format!("after={first}")).await),
        vec![higher]
    );
    let (got, held) = follow(&srv, &token, &cursor).await;
    assert!(
        got.is_empty(),
        "held back while an older writer is open: {got:?}"
    );
    assert_eq!(held, cursor, "nothing returned: the same cursor");

    sqlx::query("COMMIT")
        .execute(&mut { writer })
        .await
        .unwrap();
    let (got, _) = follow_until(&srv, &token, &cursor, 2).await;
    assert_eq!(got, vec![late, higher], "in commit order, each once");
    assert!(
        ids(&get(&srv, &token, &format!("after={higher}")).await).is_empty(),
        "by id, the late product stays behind the reader (README says so)"
    );
    srv.stop().await;
}

/// A client following product/all by cursor (pages of `limit`) and, beside it, one paging by
/// the highest id it saw, until `writing` is off and pages stayed empty for a second (a
/// relay's short transaction can hold rows back for a moment): the ids each got.
async fn follow_all(
    client: reqwest::Client,
    base: String,
    token: String,
    writing: Arc<AtomicBool>,
    limit: usize,
) -> (Vec<i64>, Vec<i64>) {
    let page = |query: String| {
        let (client, token) = (client.clone(), token.clone());
        let url = format!("{base}/api/vert/product/all?{query}&limit={limit}");
        async move {
            let r = client.get(url).bearer_auth(&token).send().await.unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    let (mut seen, mut by_id) = (Vec::new(), Vec::new());
    let (mut cursor, mut after) = ("0".to_string(), 0i64);
    let mut empty_since = None;
    loop {
        let done = !writing.load(Ordering::SeqCst);
        let next = page(format!("cursor={cursor}")).await;
        let got = ids(&next);
        cursor = next["next"].as_str().unwrap().to_string();
        let old = ids(&page(format!("after={after}")).await);
        after = old.iter().copied().max().unwrap_or(after);
        by_id.extend(old);
        if !got.is_empty() || !done {
            empty_since = None;
        } else if empty_since
            .get_or_insert_with(std::time::Instant::now)
            .elapsed()
            > Duration::from_secs(1)
        {
            return (seen, by_id);
        }
        if got.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        seen.extend(got);
    }
}

fn catalogue(rows: usize) -> String {
    let mut csv = String::from("name,description,category,ammount,currency,quantity\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "Item {i},imported,Cat {},{}.50,BRL,{}\n",
            i % 7,
            i % 90,
            i % 40
        ));
    }
    csv
}

/// An import (full batches committing side by side) and HTTP writers on two replicas, while
/// a client pages by cursor: every product once. A client paging by `after` alongside is
/// counted, not judged: how many it missed is printed.
async fn followers_see_every_product_once(backend: Backend, rows: usize) {
    let srv = TestServer::start(backend, ThrottleRules::default()).await;
    let beside = srv.beside().await;
    let token = srv.token().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalogue.csv");
    std::fs::write(&path, catalogue(rows)).unwrap();

    let writing = Arc::new(AtomicBool::new(true));
    let import = {
        let svc = srv.svc.clone();
        tokio::spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel(64);
            let opts = ImportOptions {
                path,
                format: None,
                by: Some("importer".into()),
                rejects: None,
                actor: None,
            };
            let run = tokio::spawn(async move { svc.import(&opts, tx).await });
            while rx.recv().await.is_some() {}
            run.await.unwrap().expect("import runs").imported
        })
    };
    let mut writers = Vec::new();
    for (n, server) in [&srv, &beside, &srv, &beside].into_iter().enumerate() {
        let (client, base) = (server.client.clone(), server.base.clone());
        let token = token.clone();
        writers.push(tokio::spawn(async move {
            for _ in 0..60 {
                let (status, _) = common::register_http(&client, &base, &token).await;
                assert_eq!(status, 200, "writer {n}");
            }
        }));
    }
    let follower = tokio::spawn(follow_all(
        srv.client.clone(),
        srv.base.clone(),
        token.clone(),
        writing.clone(),
        500,
    ));
    let imported = import.await.unwrap();
    for w in writers {
        w.await.unwrap();
    }
    writing.store(false, Ordering::SeqCst);
    let (seen, by_id) = follower.await.unwrap();
    let all: Vec<i64> = srv
        .svc
        .products(&dataflow::store::ProductQuery {
            limit: i64::MAX,
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(all.len(), imported as usize + 240);
    eprintln!(
        "{backend:?}: paging by after missed {} of {}",
        all.len() - by_id.len().min(all.len()),
        all.len()
    );
    assert_once_each(&seen, &all);
    beside.stop().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_see_every_product_once_postgres() {
    followers_see_every_product_once(Backend::Postgres, 20_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_see_every_product_once_sqlite() {
    followers_see_every_product_once(Backend::Sqlite, 5_000).await;
}

/// Registers a product the first time the export writes, i.e. after its first page was read.
struct Hook {
    out: Vec<u8>,
    svc: Option<dataflow::service::Service>,
    added: Option<i64>,
}

impl std::io::Write for Hook {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(svc) = self.svc.take() {
            let id = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current()
                    .block_on(async { svc.register(&blusa()).await.unwrap().product.id })
            });
            self.added = Some(id);
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An export is one view of the table, however long it runs: on PostgreSQL the snapshot it
/// began with (a product committed mid-export is not in it, nothing is twice); on SQLite ids
/// follow commit order, so it is every product once, the late one included.
async fn export_is_one_view(backend: Backend) {
    let srv = TestServer::start(backend, ThrottleRules::default()).await;
    // More than one export page (1,000), so the export reads again after the hook ran.
    let mut before = Vec::new();
    let draft = blusa();
    for _ in 0..25 {
        let batch = (0..100).map(|_| srv.svc.register(&draft));
        for r in futures::future::join_all(batch).await {
            before.push(r.unwrap().product.id);
        }
    }
    let mut hook = Hook {
        out: Vec::new(),
        svc: Some(srv.svc.clone()),
        added: None,
    };
    let n = srv
        .svc
        .export(
            &Actor::process(),
            "test",
            ExportFormat::Jsonl,
            None,
            &mut hook,
        )
        .await
        .unwrap();
    let exported: Vec<i64> = String::from_utf8(hook.out)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(n as usize, exported.len());
    let added = hook.added.expect("the hook registered mid-export");
    let mut want = before.clone();
    if matches!(backend, Backend::Sqlite) {
        want.push(added);
    }
    assert_once_each(&exported, &want);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_is_one_view_postgres() {
    export_is_one_view(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_is_one_view_sqlite() {
    export_is_one_view(Backend::Sqlite).await;
}

/// Rows restored from another server's dump carry its transaction ids, possibly ahead of
/// this server's: the start (migrate) gives them a position of now, so a follower already
/// past everything else still gets them, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restored_positions_ahead_of_the_server_are_settled_at_start() {
    let srv = TestServer::start(Backend::Postgres, ThrottleRules::default()).await;
    let token = srv.token().await;
    let restored = srv.svc.register(&blusa()).await.unwrap().product.id;
    let mut conn = sqlx::PgConnection::connect(srv.db_url()).await.unwrap();
    sqlx::query("UPDATE tb_product SET tx = 9000000000000 WHERE id = $1")
        .bind(restored)
        .execute(&mut conn)
        .await
        .unwrap();
    let other = srv.svc.register(&blusa()).await.unwrap().product.id;
    let (got, cursor) = follow_until(&srv, &token, "0", 1).await;
    assert_eq!(
        got,
        vec![other],
        "the restored row hidden as the dump left it"
    );
    let store = dataflow::store::Store::connect(&srv.svc.settings().database)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let (got, _) = follow_until(&srv, &token, &cursor, 1).await;
    assert_eq!(got, vec![restored], "from where the follower stood, once");
    srv.stop().await;
}

/// Two real `dataflow serve` processes on one PostgreSQL database, each registering over
/// HTTP from two clients, while a client follows product/all by cursor on the first: every
/// product once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_sees_every_product_of_two_serve_processes_once() {
    let db = common::TestDb::new(Backend::Postgres).await;
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // One secret, so a token from one process is good on the other.
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", "follow-test-secret-follow-test-secret-0123"),
    ];
    let a = common::server::spawn_serve(one.path(), &env, None);
    let b = common::server::spawn_serve(two.path(), &env, None);
    let client = reqwest::Client::new();
    let token = common::login(&client, &a.base).await;
    let writing = Arc::new(AtomicBool::new(true));
    let writers: Vec<_> = [&a.base, &b.base, &a.base, &b.base]
        .into_iter()
        .map(|base| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            tokio::spawn(async move {
                for _ in 0..100 {
                    let (status, v) = common::register_http(&client, &base, &token).await;
                    assert_eq!(status, 200, "{v}");
                }
            })
        })
        .collect();
    let follower = tokio::spawn(follow_all(
        client.clone(),
        a.base.clone(),
        token.clone(),
        writing.clone(),
        100,
    ));
    for w in writers {
        w.await.unwrap();
    }
    writing.store(false, Ordering::SeqCst);
    let (seen, _) = follower.await.unwrap();
    let page = client
        .get(format!("{}/api/vert/product/all", a.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let all = ids(&page);
    assert_eq!(all.len(), 400);
    assert_once_each(&seen, &all);
    for mut p in [a.child, b.child] {
        let _ = p.kill();
        let _ = p.wait();
    }
    db.drop_db().await;
}
