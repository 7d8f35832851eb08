//! A real HTTP server on a free loopback port, over a started service.

use std::net::SocketAddr;

use dataflow::http::{AppState, Jwt, Limits, ThrottleRules};
use dataflow::service::Service;

use super::{Backend, TestDb};

pub const SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

pub struct TestServer {
    pub base: String,
    pub svc: Service,
    pub client: reqwest::Client,
    pub jwt: Jwt,
    db: Option<TestDb>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start(backend: Backend, rules: ThrottleRules) -> TestServer {
        TestServer::start_with(backend, rules, Limits::default()).await
    }

    pub async fn start_with(backend: Backend, rules: ThrottleRules, limits: Limits) -> TestServer {
        let db = TestDb::new(backend).await;
        let svc = Service::start(db.settings(&[]))
            .await
            .expect("service starts");
        TestServer::over(svc, Some(db), rules, limits).await
    }

    /// A second replica: another service and HTTP server on this one's database.
    pub async fn beside(&self) -> TestServer {
        let db = self
            .db
            .as_ref()
            .expect("the first server owns the database");
        let svc = Service::start(db.settings(&[]))
            .await
            .expect("second service starts");
        TestServer::over(svc, None, ThrottleRules::default(), Limits::default()).await
    }

    async fn over(
        svc: Service,
        db: Option<TestDb>,
        rules: ThrottleRules,
        limits: Limits,
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let mut state = AppState::new(svc.clone(), Jwt::new(SECRET), rules);
        state.limits = limits;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(dataflow::http::serve(listener, state, async move {
            let _ = rx.await;
        }));
        TestServer {
            base: format!("http://{addr}"),
            svc,
            client: reqwest::Client::new(),
            jwt: Jwt::new(SECRET),
            db,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// The database's URL (the first server's).
    pub fn db_url(&self) -> &str {
        &self
            .db
            .as_ref()
            .expect("the first server owns the database")
            .url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn token(&self) -> String {
        self.token_of("vert", "vert").await
    }

    /// Logs in as `user`: the access token.
    pub async fn token_of(&self, user: &str, password: &str) -> String {
        let r = self
            .client
            .post(self.url("/api/vert/auth/login"))
            .json(&serde_json::json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login as {user}");
        let v: serde_json::Value = r.json().await.unwrap();
        v["result"]["access_token"].as_str().unwrap().to_string()
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.svc.shutdown().await;
        if let Some(db) = self.db.take() {
            db.drop_db().await;
        }
    }
}

/// A `dataflow serve` process a test started.
pub struct Served {
    pub child: std::process::Child,
    pub port: u16,
    /// `http://HOST:PORT`.
    pub base: String,
    /// The line it printed first (its addresses and broker).
    pub line: String,
}

/// Starts `dataflow serve` on a free port with its data in `data` and `env` set (the
/// caller's DATABASE_URL and KAFKA_HOST are not inherited), inside the network namespace
/// `netns` = (name, address) when given; returns once it printed its line and accepts. Every
/// test that runs a serving process starts it here.
pub fn spawn_serve(
    data: &std::path::Path,
    env: &[(&str, &str)],
    netns: Option<(&str, &str)>,
) -> Served {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let port = super::tansu::free_port();
    let host = netns.map_or("127.0.0.1", |(_, ip)| ip);
    let bind = format!("{host}:{port}");
    let mut cmd = match netns {
        Some((name, _)) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", name, env!("CARGO_BIN_EXE_dataflow")]);
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_dataflow")),
    };
    cmd.env_remove("DATABASE_URL")
        .env_remove("KAFKA_HOST")
        .env("DATAFLOW_DATA_DIR", data)
        .args(["serve", "--bind", &bind])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let start = std::time::Instant::now();
    while !line.is_empty() && std::net::TcpStream::connect(&bind).is_err() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "{bind} never accepted"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Served {
        child,
        port,
        base: format!("http://{bind}"),
        line,
    }
}

/// A real `dataflow serve` process on the embedded broker, data in `data`, with `env` set;
/// returns once it has printed its address line.
pub fn serve_process(data: &std::path::Path, env: &[(&str, &str)]) -> (std::process::Child, u16) {
    let s = spawn_serve(data, env, None);
    assert!(s.line.contains("(embedded)"), "{}", s.line);
    (s.child, s.port)
}
