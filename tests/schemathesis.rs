//! An API client no one here wrote: schemathesis (PyPI) reads our `/openapi.json` and throws
//! generated requests, valid and invalid, at a real `dataflow serve` on PostgreSQL for 60 s,
//! with an admin's token. Any server error, undocumented status, wrong content type, answer
//! that breaks its schema, or invalid data accepted fails the test, so the document cannot
//! drift from the behaviour. `.ci/run` installs schemathesis; SCHEMATHESIS_SEED picks the
//! seed (default fixed, `random` for a new one each run; the output names it).

mod common;

use std::process::Command;

use common::{Backend, TestDb};

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,negative_data_rejection";
const SEED: &str = "12211600583608908379935958771375107317";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_against_the_document() {
    let bin = std::env::var("SCHEMATHESIS_BIN").unwrap_or_else(|_| "schemathesis".into());
    let db = TestDb::new(Backend::Postgres).await;
    let data = tempfile::tempdir().unwrap();
    let (mut serve, port) =
        common::server::serve_process(data.path(), &[("DATABASE_URL", &db.url)]);
    let base = format!("http://127.0.0.1:{port}");
    let token = common::login(&reqwest::Client::new(), &base).await;
    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| SEED.into());
    let mut cmd = Command::new(&bin);
    cmd.args(["run", &format!("{base}/openapi.json"), "--checks", CHECKS])
        .args(["--max-time", "60", "--no-color"])
        .args(["-H", &format!("Authorization: Bearer {token}")]);
    if seed != "random" {
        cmd.args(["--seed", &seed]);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{bin} runs (pip install schemathesis): {e}"));
    let _ = serve.kill();
    let _ = serve.wait();
    db.drop_db().await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(" passed"), "it ran test cases:\n{text}");
}
