//! The real binary in a pseudo-terminal (tmux): log in, register a product through the form,
//! and find it in the table, in the topic tail and in the database; then copy, edit and delete;
//! import a file, export the view, copy a row (OSC 52) and save the topic's messages.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use dataflow::config::DatabaseTarget;
use dataflow::store::{ProductQuery, Store};

mod common;

use common::tmux::Tmux;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_through_the_form_and_see_it_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let tmux = Tmux::start_tui("e2e", &data, "TIMEZONE=America/Sao_Paulo", 100, 30);
    tmux.wait_for("dataflow · log in");
    tmux.wait_for("Kafka embedded");

    // A wrong password first: a clear error, no hint about which part was wrong.
    tmux.text("vert");
    tmux.keys(&["Tab"]);
    tmux.text("wrong");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Incorrect username or password");
    tmux.text("vert");
    tmux.keys(&["Enter"]);
    tmux.wait_for("user vert");

    tmux.text("Blusa E2E ção");
    tmux.keys(&["Tab"]);
    tmux.text("Blusa com touca");
    tmux.keys(&["Tab"]);
    tmux.text("Vestuário");
    tmux.keys(&["Tab"]);
    tmux.text("59.99");
    tmux.keys(&["Tab", "Tab"]);
    tmux.text("50");
    tmux.keys(&["C-s"]);
    let s = tmux.wait_for("Saved #1");
    assert!(
        s.contains("published to partition"),
        "acknowledged by the broker:\n{s}"
    );

    tmux.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(200));
    tmux.keys(&["2"]);
    let s = tmux.wait_for("Blusa E2E ção");
    assert!(
        s.contains("row 1 of 1") && s.contains("59.99 BRL") && s.contains("published"),
        "{s}"
    );
    tmux.keys(&["m"]);
    let s = tmux.wait_for("Topic · live");
    assert!(
        s.contains("Blusa E2E ção · Vestuário · 59.99 BRL · qty 50"),
        "{s}"
    );

    // Copy it as a new product, edit that one, then delete it.
    tmux.keys(&["2"]);
    tmux.wait_for("Products");
    tmux.keys(&["c"]);
    tmux.wait_for("copy of #1");
    tmux.keys(&["C-s"]);
    tmux.wait_for("Saved #2");
    tmux.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(200));
    tmux.keys(&["2"]);
    tmux.wait_for("row 1 of 2");
    tmux.keys(&["e"]);
    tmux.wait_for("Editing #2 (v1)");
    tmux.text(" v2");
    tmux.keys(&["C-s"]);
    tmux.wait_for("Updated #2 to v2");
    tmux.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(200));
    tmux.keys(&["2"]);
    tmux.wait_for("Blusa E2E ção v2");
    tmux.keys(&["d"]);
    tmux.wait_for("Delete #2 Blusa E2E ção v2 (v2)?");
    tmux.keys(&["y"]);
    let s = tmux.wait_for("Deleted #2");
    assert!(s.contains("row 1 of 1"), "{s}");
    tmux.keys(&["3"]);
    let s = tmux.wait_for("deleted");
    assert!(s.contains("updated") && s.contains("created"), "{s}");

    // Import a file from the products pane (i), export the view (x), copy a row (y), and save
    // the kept messages from the topic pane (x).
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let csv = files.join("batch.csv");
    std::fs::write(
        &csv,
        "name,description,category,amount,currency,quantity\n\
         Caneca,\"Caneca, 300 ml\",Cozinha,25.50,BRL,10\n\
         Panela,Inox,Cozinha,120,BRL,3\n\
         Prato,Raso,Cozinha,15,BRL,40\n\
         ,sem nome,Cozinha,1,BRL,1\n",
    )
    .unwrap();
    tmux.keys(&["2"]);
    tmux.wait_for("row 1 of 1");
    tmux.keys(&["i"]);
    tmux.wait_for("Import products");
    tmux.text(&csv.display().to_string());
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("imported 3, duplicates 0, rejected 1");
    assert!(s.contains("line 5: name: is required"), "{s}");
    assert!(s.contains("batch.rejects.csv"), "{s}");
    tmux.keys(&["Escape"]);
    tmux.wait_for("row 1 of 4");
    let rejects = std::fs::read_to_string(files.join("batch.rejects.csv")).unwrap();
    assert_eq!(
        rejects,
        "name,description,category,amount,currency,quantity\n,sem nome,Cozinha,1,BRL,1\n"
    );

    let export = files.join("view.csv");
    tmux.keys(&["/"]);
    tmux.text("Cozinha");
    tmux.keys(&["Enter", "x"]);
    tmux.wait_for("Export the products in view");
    tmux.keys(&["C-u"]);
    tmux.text(&export.display().to_string());
    tmux.keys(&["Enter"]);
    tmux.wait_for("Exported 3 products to");
    let exported = std::fs::read_to_string(&export).unwrap();
    assert_eq!(
        exported.lines().count(),
        4,
        "header and 3 rows:\n{exported}"
    );
    assert!(exported.contains("\"Caneca, 300 ml\""), "{exported}");

    tmux.run(&["set-option", "-s", "set-clipboard", "on"]);
    tmux.keys(&["y"]);
    tmux.wait_for("Copied #5 to the clipboard");
    let copied = tmux.run(&["show-buffer"]);
    let v: serde_json::Value = serde_json::from_str(copied.trim()).expect("a product as JSON");
    assert_eq!(
        (v["id"].as_i64(), v["name"].as_str()),
        (Some(5), Some("Prato"))
    );

    let saved = files.join("topic.jsonl");
    tmux.keys(&["Escape", "3"]);
    tmux.wait_for("Prato");
    tmux.keys(&["x"]);
    tmux.wait_for("Save the kept messages");
    tmux.keys(&["C-u"]);
    tmux.text(&saved.display().to_string());
    tmux.keys(&["Enter"]);
    tmux.wait_for("messages to");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&saved)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.iter().any(|m| m["value"]["name"] == "Prato")
            && lines.iter().all(|m| m["headers"]["event"].is_string()),
        "{lines:?}"
    );

    let db = Store::connect(&DatabaseTarget::Sqlite(
        Path::new(&data).join("dataflow.sqlite3"),
    ))
    .await
    .unwrap();
    let rows = db
        .list_products(&ProductQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(
        (rows[0].name.as_str(), rows[0].amount.to_string()),
        ("Blusa E2E ção", "59.99".to_string())
    );
    assert_eq!(rows[3].name, "Prato", "oldest first");
    assert_eq!(db.pending_count().await.unwrap(), 0);
    db.close().await;

    tmux.keys(&["C-c"]);
    let s = tmux.wait_for("EXITED");
    assert!(
        s.contains("EXITED 0"),
        "clean exit, terminal restored:\n{s}"
    );
}

/// A viewer in the real TUI: the status bar names the role, a write key says what it needs,
/// and a disable made from another process (`dataflow user disable`) ends the session.
#[test]
fn a_viewer_reads_and_is_logged_out_when_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let user = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut c = Command::new(env!("CARGO_BIN_EXE_dataflow"));
        c.env_remove("DATABASE_URL")
            .env_remove("KAFKA_HOST")
            .env("DATAFLOW_DATA_DIR", &data)
            .arg("user")
            .args(args)
            .stdin(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "dataflow user {args:?}");
    };
    user(
        &["add", "vera", "--role", "viewer", "--password-stdin"],
        "a long secret\n",
    );
    // One product, so a write key on the table has something to act on.
    let file = dir.path().join("one.csv");
    std::fs::write(
        &file,
        "name,description,category,amount,currency,quantity\nSapato Viewer,,Calçados,1,BRL,1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .env_remove("DATABASE_URL")
        .env_remove("KAFKA_HOST")
        .env("DATAFLOW_DATA_DIR", &data)
        .args(["import", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let tmux = Tmux::start_tui("e2e-viewer", &data, "", 110, 30);
    tmux.wait_for("dataflow · log in");
    tmux.text("vera");
    tmux.keys(&["Tab"]);
    tmux.text("a long secret");
    tmux.keys(&["Enter"]);
    tmux.wait_for("user vera (viewer)");
    tmux.keys(&["C-s"]);
    tmux.wait_for("Saving products needs the editor role; you are a viewer");
    tmux.keys(&["2"]);
    tmux.wait_for("Sapato Viewer");
    tmux.keys(&["d"]);
    tmux.wait_for("Deleting products needs the editor role; you are a viewer");

    user(&["disable", "vera"], "");
    let s = tmux.wait_for("Logged out");
    assert!(s.contains("vera is disabled"), "{s}");
    tmux.wait_for("dataflow · log in");
    tmux.keys(&["C-c"]);
    let s = tmux.wait_for("EXITED");
    assert!(s.contains("EXITED 0"), "{s}");
}
