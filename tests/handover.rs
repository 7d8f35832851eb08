//! The embedded broker outlives its first owner: two real `dataflow serve` processes on one
//! data directory, the second joined to the first's broker. The first stops (SIGTERM), or is
//! killed (SIGKILL), while the second keeps registering: the second takes the broker over,
//! publishes everything there, says so on /healthz, and `dataflow tail` finds the new broker.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn serve(data: &std::path::Path) -> (Child, u16) {
    common::server::serve_process(data, &[])
}

/// The health check as a logged-in caller sees it (with the reasons).
async fn health(client: &reqwest::Client, base: &str, token: &str) -> serde_json::Value {
    client
        .get(format!("{base}/healthz"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn register_n(client: &reqwest::Client, base: &str, token: &str, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let (status, v) = common::register_http(client, base, token).await;
        assert_eq!(status, 200, "{v}");
        ids.push(v["result"]["id"].as_i64().unwrap());
    }
    ids
}

fn taken_over_after(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (mut owner, _) = serve(dir.path());
    let (mut joiner, port) = serve(dir.path());
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ids = rt.block_on(async {
        let client = reqwest::Client::new();
        let token = common::login(&client, &base).await;
        let mut ids = register_n(&client, &base, &token, 20).await;
        let pid = owner.id().to_string();
        Command::new("kill").args([signal, &pid]).status().unwrap();
        owner.wait().unwrap(); // reaped: its pid is gone
        // Saved while nobody owns the broker, published once the joiner has taken it over.
        ids.extend(register_n(&client, &base, &token, 40).await);
        let start = Instant::now();
        loop {
            let h = health(&client, &base, &token).await;
            let r = &h["result"];
            if r["outbox_pending"] == 0 && r["broker"]["ok"] == true {
                let note = r["broker"]["note"].as_str().unwrap_or_default();
                assert!(note.contains("took over the embedded broker"), "{h}");
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "never drained: {h}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        ids
    });
    assert_eq!(ids.len(), 60);
    // A third process finds the new broker through the data directory.
    let out = Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .env_remove("DATABASE_URL")
        .env_remove("KAFKA_HOST")
        .env("DATAFLOW_DATA_DIR", dir.path())
        .args(["tail", "--from-beginning"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        *seen
            .entry(v["key"].as_str().unwrap().parse().unwrap())
            .or_default() += 1;
    }
    let missing: Vec<_> = ids.iter().filter(|id| !seen.contains_key(id)).collect();
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        missing.is_empty() && twice.is_empty(),
        "of {}: missing {missing:?}, twice {twice:?}",
        ids.len()
    );
    Command::new("kill")
        .args(["-TERM", &joiner.id().to_string()])
        .status()
        .unwrap();
    assert!(joiner.wait().unwrap().success());
}

#[test]
fn a_joiner_takes_over_when_the_owner_stops() {
    taken_over_after("-TERM");
}

#[test]
fn a_joiner_takes_over_when_the_owner_is_killed() {
    taken_over_after("-KILL");
}
