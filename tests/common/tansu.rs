//! Tansu, the real Kafka-compatible broker, as a child process of a test.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Tansu as `.ci/run` finds it: TANSU_BIN, else `tansu` on PATH, else ~/.cargo/bin.
pub fn tansu_bin() -> String {
    if let Ok(b) = std::env::var("TANSU_BIN") {
        return b;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("tansu"))
            .find(|p| p.is_file())
    });
    if let Some(p) = on_path {
        return p.display().to_string();
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let cargo_bin = Path::new(&home).join(".cargo/bin/tansu");
    if cargo_bin.exists() {
        return cargo_bin.display().to_string();
    }
    panic!(
        "Tansu not found: run `cargo install tansu --version 0.6.0 --locked --features dynostore,postgres,libsql` or set TANSU_BIN"
    );
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Tansu with SQLite storage (kept across restarts) and waits until it accepts.
pub fn start_tansu(port: u16, dir: &Path) -> Child {
    start_tansu_advertising(port, port, dir)
}

/// Like `start_tansu`, telling clients to connect to `advertised` (a proxy in front of it).
pub fn start_tansu_advertising(port: u16, advertised: u16, dir: &Path) -> Child {
    start_tansu_with(port, advertised, dir, &[])
}

/// Tansu with more arguments (`--schema-registry file://DIR`, say).
pub fn start_tansu_with(port: u16, advertised: u16, dir: &Path, extra: &[&str]) -> Child {
    let url = format!("tcp://127.0.0.1:{port}");
    let advertised_url = format!("tcp://127.0.0.1:{advertised}");
    let storage = format!("sqlite:///{}", dir.join("tansu.db").display());
    let child = Command::new(tansu_bin())
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &advertised_url,
            "--storage-engine",
            &storage,
        ])
        .args(extra)
        .current_dir(dir) // Tansu reads file:// schema registries relative to it
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tansu starts");
    wait_listening(port, "tansu");
    child
}

/// Waits (bounded) until something accepts connections on `port`.
pub fn wait_listening(port: u16, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `dataflow tail ARGS` in its own process (an independent consumer with its own client):
/// the JSON lines it printed. Fails the test if it does not exit 0.
pub fn dataflow_tail(host: &str, topic: &str, dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .arg("tail")
        .args(args)
        .env("KAFKA_HOST", host)
        .env("TOPIC_PRODUCTS", topic)
        .env("DATAFLOW_DATA_DIR", dir)
        .output()
        .expect("dataflow tail runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8 lines")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Tansu keeping messages in memory (gone when it stops), as an operator's quick try does.
pub fn start_tansu_memory(port: u16, dir: &Path) -> Child {
    start_tansu_memory_with(port, dir, &[])
}

/// Memory storage with more arguments (`--cluster-id`, say).
pub fn start_tansu_memory_with(port: u16, dir: &Path, extra: &[&str]) -> Child {
    start_tansu_memory_advertising(port, port, dir, extra)
}

/// Memory storage, telling clients to connect to `advertised` (a proxy in front of it).
pub fn start_tansu_memory_advertising(
    port: u16,
    advertised: u16,
    dir: &Path,
    extra: &[&str],
) -> Child {
    let url = format!("tcp://127.0.0.1:{port}");
    let advertised_url = format!("tcp://127.0.0.1:{advertised}");
    let child = Command::new(tansu_bin())
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &advertised_url,
            "--storage-engine",
            "memory://tansu/",
        ])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tansu starts");
    wait_listening(port, "tansu");
    child
}
