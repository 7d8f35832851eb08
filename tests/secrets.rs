//! The admin's password and the service's secrets, tried as an operator would: real
//! processes on one database, routine commands started with other settings beside them.

mod common;

use std::process::{Command, Stdio};

use common::server::serve_process;
use serde_json::json;

const STRONG: &str = "S7rong-admin-passphrase";

fn dataflow(data: &std::path::Path, db: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dataflow"));
    c.env_remove("DATABASE_URL")
        .env_remove("KAFKA_HOST")
        .env_remove("PASSWORD_API")
        .env_remove("ENVIRON")
        .env("DATAFLOW_DATA_DIR", data)
        .env("DATABASE_URL", db);
    c
}

async fn login(base: &str, user: &str, password: &str) -> (u16, Option<String>) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/vert/auth/login"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap();
    let token = v["result"]["access_token"].as_str().map(str::to_string);
    (status, token)
}

async fn users_status(base: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/api/vert/users"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `serve` with a strong PASSWORD_API; then `user list`, `import`, `export` and a service
/// started as the TUI starts it, all with the default password, on the same database: the
/// strong password still logs in, `vert` does not, the admin's token still works.
async fn routine_commands_leave_the_admin_alone(backend: common::Backend) {
    let db = common::TestDb::new(backend).await;
    let data = db.dir.path().join("data");
    let (mut serve, port) = serve_process(
        &data,
        &[("DATABASE_URL", &db.url), ("PASSWORD_API", STRONG)],
    );
    let base = format!("http://127.0.0.1:{port}");
    let (st, token) = login(&base, "vert", STRONG).await;
    assert_eq!(st, 200);
    let token = token.unwrap();

    let out = dataflow(&data, &db.url)
        .args(["user", "list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let csv = db.dir.path().join("in.csv");
    std::fs::write(
        &csv,
        "name,description,category,ammount,currency,quantity\nMesa,,Casa,10.00,BRL,1\n",
    )
    .unwrap();
    let out = dataflow(&data, &db.url)
        .arg("import")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = dataflow(&data, &db.url)
        .arg("export")
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The TUI starts exactly this service, with the default password.
    let tui = dataflow::service::Service::start(db.settings(&[]))
        .await
        .unwrap();
    assert_eq!(
        tui.default_login(),
        None,
        "no `First run: vert / vert` hint"
    );
    tui.shutdown().await;

    assert_eq!(login(&base, "vert", STRONG).await.0, 200);
    assert_eq!(login(&base, "vert", "vert").await.0, 401);
    assert_eq!(users_status(&base, &token).await, 200, "the token holds");
    let _ = serve.kill();
    let _ = serve.wait();
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routine_commands_leave_the_admin_alone_sqlite() {
    routine_commands_leave_the_admin_alone(common::Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routine_commands_leave_the_admin_alone_postgres() {
    routine_commands_leave_the_admin_alone(common::Backend::Postgres).await
}

/// Production refuses, with one line naming the variable: an empty or short PASSWORD_API,
/// and any secret printed in the repository (the compose file's former placeholders).
#[test]
fn production_refuses_weak_and_published_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let good_secret = "k2J9xq0vPzL7mW3rT8yB5nF1cH6dA4sE";
    let cases = [
        ("", good_secret, "PASSWORD_API: is set but empty"),
        ("abcdefg", good_secret, "PASSWORD_API: must be at least 8"),
        (
            "change-me-api-password",
            good_secret,
            "PASSWORD_API: is a placeholder",
        ),
        (
            STRONG,
            "change-me-to-32-or-more-random-bytes-000000",
            "JWT_SECRET: is a placeholder",
        ),
        (
            STRONG,
            "bench-secret-bench-secret-bench-secret",
            "JWT_SECRET: is a placeholder",
        ),
    ];
    for (password, secret, want) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_dataflow"))
            .env_remove("DATABASE_URL")
            .env("DATAFLOW_DATA_DIR", dir.path())
            .env("ENVIRON", "prd")
            .env("KAFKA_HOST", "127.0.0.1:1")
            .env("PASSWORD_API", password)
            .env("JWT_SECRET", secret)
            .arg("serve")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{password:?} {secret:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(want), "{err}");
        assert!(
            password.len() < 8 || !err.contains(password),
            "never printed: {err}"
        );
    }
    // Outside production a short PASSWORD_API is refused too (the unset default excepted).
    let out = Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .env_remove("DATABASE_URL")
        .env_remove("ENVIRON")
        .env("DATAFLOW_DATA_DIR", dir.path())
        .env("PASSWORD_API", "abc")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PASSWORD_API: must be at least 8"));
}

/// A database whose API user still has the public default (a dev process created it) is
/// refused by a production start, which names the command that fixes it; after
/// `user passwd` it starts as far as the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_a_stored_default_password() {
    let db = common::TestDb::new(common::Backend::Postgres).await;
    let data = db.dir.path().join("data");
    let out = dataflow(&data, &db.url)
        .args(["user", "list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let prd = |c: &mut Command| {
        c.env("ENVIRON", "prd")
            .env("PASSWORD_API", STRONG)
            .env("JWT_SECRET", "k2J9xq0vPzL7mW3rT8yB5nF1cH6dA4sE")
            .env("KAFKA_HOST", "127.0.0.1:1")
            .env("TOPIC_PARTITIONS", "1");
    };
    let mut c = dataflow(&data, &db.url);
    prd(&mut c);
    let out = c.arg("migrate").output().unwrap();
    assert!(out.status.success(), "migrate does not start the service");
    let passwd = |password: &str| {
        use std::io::Write;
        let mut child = dataflow(&data, &db.url)
            .args(["user", "passwd", "vert", "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(format!("{password}\n").as_bytes()).unwrap();
        drop(input);
        assert!(child.wait().unwrap().success());
    };
    let serve_refused = || {
        let mut c = dataflow(&data, &db.url);
        prd(&mut c);
        let out = c.args(["serve", "--bind", "127.0.0.1:0"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("USERNAME_API: the stored password of vert is a public one")
                && err.contains("dataflow user passwd vert"),
            "{err}"
        );
    };
    serve_refused(); // `vert`, stored by the first (dev) start
    // An upgrade from a compose file that defaulted PASSWORD_API to its placeholder.
    passwd("change-me-api-password");
    serve_refused();
    passwd(STRONG);
    let store = db.store().await;
    let hash = store.user_hash("vert").await.unwrap().unwrap();
    assert!(dataflow::service::verify_password(STRONG.into(), hash.clone()).await);
    assert!(!dataflow::service::verify_password("vert".into(), hash).await);
    store.close().await;
    db.drop_db().await;
}
