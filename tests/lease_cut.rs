//! A replica cut off from the broker, not from the database, for longer than the event lease
//! (30 s) while another replica edits the same product: the topic carries that product's
//! versions once each, in order.
//!
//! Replica A is a real `dataflow serve` in its own network namespace (`ip netns`, needs root,
//! as CI runs): it reaches PostgreSQL over the Unix socket, serves HTTP over one veth pair and
//! reaches Tansu over another; the cut takes down only the broker's pair (this kernel has no
//! tc actions or iptables), so its database and HTTP stay up. A is in failure rounds (an earlier send failed) when the product
//! is handed to its relay, the case where an event sat in memory past its lease.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::tansu::{dataflow_tail, free_port, tansu_bin};
use common::{Backend, TestDb, blusa, drain_pending, wait_broker_up};
use dataflow::service::{Edit, Service};

const TOPIC: &str = "cut-products";

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {args:?}: {} (this test needs root for ip netns)",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace joined to the host by two veth pairs: one for HTTP, one for the
/// broker, so the broker's can be cut alone. Removed on drop.
struct Netns {
    name: String,
    /// Host side of the HTTP pair and of the broker pair.
    host_ifs: [String; 2],
    /// The namespace's side of the broker pair.
    broker_if: String,
    /// The host's address on the broker pair: the broker listens there.
    broker_ip: String,
    /// The namespace's address on the HTTP pair: replica A listens there.
    ns_ip: String,
}

impl Netns {
    fn new() -> Netns {
        let n = std::process::id() % 200 + 20;
        let name = format!("dfcut{}", std::process::id());
        let host_ifs = [format!("dfh{n}"), format!("dfk{n}")];
        for i in &host_ifs {
            let _ = Command::new("ip").args(["link", "del", i]).output();
        }
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        let ns = Netns {
            name,
            host_ifs,
            broker_if: format!("dfb{n}"),
            broker_ip: format!("10.214.{n}.1"),
            ns_ip: format!("10.213.{n}.2"),
        };
        let pairs = [
            (&ns.host_ifs[0], format!("dfn{n}"), format!("10.213.{n}")),
            (&ns.host_ifs[1], ns.broker_if.clone(), format!("10.214.{n}")),
        ];
        for (host_if, ns_if, net) in pairs {
            ip(&[
                "link", "add", host_if, "type", "veth", "peer", "name", &ns_if,
            ]);
            ip(&["link", "set", &ns_if, "netns", &ns.name]);
            ip(&["addr", "add", &format!("{net}.1/24"), "dev", host_if]);
            ip(&["link", "set", host_if, "up"]);
            ns.exec(&["ip", "addr", "add", &format!("{net}.2/24"), "dev", &ns_if]);
            ns.exec(&["ip", "link", "set", &ns_if, "up"]);
        }
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    fn exec(&self, cmd: &[&str]) {
        let mut args = vec!["netns", "exec", &self.name];
        args.extend_from_slice(cmd);
        ip(&args);
    }

    /// The namespace loses its route to the broker, nothing else (the database is reached
    /// over the Unix socket, HTTP over the other pair).
    fn cut(&self) {
        self.exec(&["ip", "link", "set", &self.broker_if, "down"]);
    }

    fn restore(&self) {
        self.exec(&["ip", "link", "set", &self.broker_if, "up"]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        for i in &self.host_ifs {
            let _ = Command::new("ip").args(["link", "del", i]).output();
        }
    }
}

fn wait_accepting(addr: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{addr} never accepted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Replica A: `dataflow serve` inside the namespace, on the same PostgreSQL database.
fn serve_in(ns: &Netns, db: &TestDb, kafka: &str) -> (Child, String) {
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_host(Some("localhost")).unwrap();
    url.query_pairs_mut()
        .append_pair("host", "/var/run/postgresql");
    let data = db.dir.path().join("replica-a");
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("KAFKA_HOST", kafka),
        ("TOPIC_PRODUCTS", TOPIC),
        ("PUBLISH_WAIT_MS", "0"),
    ];
    let s = common::server::spawn_serve(&data, &env, Some((&ns.name, &ns.ns_ip)));
    assert!(s.line.contains(kafka), "replica A started: {}", s.line);
    (s.child, s.base)
}

/// Until A's health check says its broker is down: its relay is in failure rounds.
async fn wait_broker_down(client: &reqwest::Client, base: &str, token: &str) {
    let start = Instant::now();
    loop {
        let h: serde_json::Value = client
            .get(format!("{base}/healthz"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if h["result"]["broker"]["ok"] == false {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "A never saw the cut: {h}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn register_on(client: &reqwest::Client, base: &str, token: &str) -> i64 {
    let (status, v) = common::register_http(client, base, token).await;
    assert_eq!(status, 200, "saved while the broker is cut off: {v}");
    v["result"]["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_cut_off_past_its_lease_keeps_a_products_order() {
    let db = TestDb::new(Backend::Postgres).await;
    let ns = Netns::new();
    let port = free_port();
    let listener = format!("tcp://{}:{port}", ns.broker_ip);
    let mut broker = Command::new(tansu_bin())
        .args(["broker", "--listener-url", &listener])
        .args(["--advertised-listener-url", &listener])
        .args(["--storage-engine", "memory://tansu/"])
        .current_dir(db.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tansu starts");
    let kafka = format!("{}:{port}", ns.broker_ip);
    wait_accepting(&kafka);

    // Replica B, in this process, creates the topic; replica A joins.
    let vars = [("KAFKA_HOST", kafka.as_str()), ("TOPIC_PRODUCTS", TOPIC)];
    let b = Service::start(db.settings(&vars)).await.unwrap();
    wait_broker_up(&b).await;
    let (mut a, base) = serve_in(&ns, &db, &kafka);
    let client = reqwest::Client::new();
    let token = common::login(&client, &base).await;
    let first = register_on(&client, &base, &token).await;
    assert_eq!(drain_pending(&b).await, 0, "A publishes while connected");

    // Cut: A's next send fails (5 s message timeout), putting its relay in failure rounds;
    // the product registered then waits in A's memory, under A's lease.
    ns.cut();
    let stuck = register_on(&client, &base, &token).await;
    wait_broker_down(&client, &base, &token).await;
    let product = register_on(&client, &base, &token).await;
    let edit = |expected| Edit {
        id: product,
        expected: Some(expected),
        by: None,
        origin: None,
    };
    b.update(edit(1), &blusa()).await.expect("B edits v1");
    b.update(edit(2), &blusa()).await.expect("B edits v2");
    // Past the lease A held then, by the database's clock: a relay that let it lapse would
    // lose the events to B, which would publish v1..v3, and A would then send its stale v1.
    let store = db.store().await;
    let v1 = format!("product_id = {product} AND version = 1 AND published_at IS NULL");
    let lease_end = common::scalar(
        &store,
        &format!("SELECT CEIL(EXTRACT(EPOCH FROM claimed_until))::BIGINT FROM outbox WHERE {v1}"),
    )
    .await;
    let start = Instant::now();
    while common::scalar(
        &store,
        &format!("SELECT (now() > to_timestamp({lease_end}))::INT::BIGINT"),
    )
    .await
        == 0
    {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the lease runs out"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    store.close().await;
    ns.restore();
    // TCP's retransmission backoff after 45 s of drops can take a while to reconnect.
    let start = Instant::now();
    while drain_pending(&b).await > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "published after the cut"
        );
    }

    let mut versions: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for m in dataflow_tail(&kafka, TOPIC, db.dir.path(), &["--from-beginning"]) {
        let id: i64 = m["key"].as_str().unwrap().parse().unwrap();
        let v: i64 = m["headers"]["version"].as_str().unwrap().parse().unwrap();
        versions.entry(id).or_default().push(v);
    }
    assert_eq!(versions.get(&product), Some(&vec![1, 2, 3]), "{versions:?}");
    // The event in flight when the cut began can come twice: librdkafka gives up on it after
    // message.timeout.ms while its request may still sit in the socket's buffer, which TCP
    // delivers once the link is back, and the relay sends it again (on a new producer id after
    // three failed rounds, so the broker cannot tell). README names this duplicate window;
    // consumers dedupe on the version header. Never lost, never another version.
    let stuck_versions = versions.get(&stuck).cloned().unwrap_or_default();
    assert!(
        !stuck_versions.is_empty() && stuck_versions.iter().all(|v| *v == 1),
        "{versions:?}"
    );
    assert_eq!(versions.get(&first), Some(&vec![1]), "{versions:?}");

    let _ = a.kill();
    let _ = a.wait();
    b.shutdown().await;
    let _ = broker.kill();
    let _ = broker.wait();
    db.drop_db().await;
}
