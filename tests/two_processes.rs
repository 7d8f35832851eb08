//! Two real `dataflow serve` processes on one data directory: the second joins the first's
//! embedded broker (never a second broker draining the same outbox), its registrations are
//! acknowledged, and `dataflow tail` from a third process reads them.

mod common;

use std::process::{Child, Command};

fn serve(data: &std::path::Path) -> (Child, u16, String) {
    let s = common::server::spawn_serve(data, &[], None);
    (s.child, s.port, s.line)
}

fn stop(mut child: Child) {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(child.wait().unwrap().success(), "exits 0 on SIGTERM");
}

#[test]
fn a_second_serve_joins_the_first_ones_broker() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _, line_a) = serve(dir.path());
    let (second, port_b, line_b) = serve(dir.path());
    let broker = |line: &str| line.split(" kafka ").nth(1).unwrap_or_default().to_string();
    assert!(line_a.contains("(embedded)"), "{line_a}");
    assert_eq!(
        broker(&line_a),
        broker(&line_b),
        "one broker: {line_a} / {line_b}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let id = rt.block_on(async {
        let client = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port_b}");
        for _ in 0..100 {
            let h: serde_json::Value = client
                .get(format!("{base}/healthz"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if h["result"]["broker"]["ok"] == true {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (_, r) = common::login_and_register(&base).await;
        assert_eq!(r["result"]["publish"]["state"], "published", "{r}");
        r["result"]["id"].as_i64().unwrap()
    });
    let out = Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .env_remove("DATABASE_URL")
        .env_remove("KAFKA_HOST")
        .env("DATAFLOW_DATA_DIR", dir.path())
        .args(["tail", "--from-beginning", "--limit", "1"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let msg: serde_json::Value =
        serde_json::from_str(text.lines().next().unwrap_or("null")).unwrap();
    assert_eq!(msg["key"], id.to_string(), "{text}");
    stop(second);
    stop(first);
}
