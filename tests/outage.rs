//! A database outage for real: the service reaches PostgreSQL through a TCP proxy that the
//! test cuts (connections dropped, new ones never answered) and restores.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Backend, TestDb};
use dataflow::http::{AppState, Jwt, ThrottleRules};
use dataflow::service::Service;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (c, l) = (cut.clone(), links.clone());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut client, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    held.push(client); // accepted, never answered
                    continue;
                }
                l.lock().await.push(tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Proxy { addr, cut, links }
    }

    async fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().await.drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_answers_503_not_a_hang_and_recovers() {
    let db = TestDb::new(Backend::Postgres).await;
    let mut url = url::Url::parse(&db.url).unwrap();
    let pg: SocketAddr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432))
        .parse()
        .unwrap();
    let proxy = Proxy::start(pg).await;
    url.set_port(Some(proxy.addr.port())).unwrap();
    let url = url.to_string();
    let svc = Service::start(db.settings(&[("DATABASE_URL", url.as_str())]))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let jwt = Jwt::new(common::server::SECRET);
    let state = AppState::new(svc.clone(), jwt.clone(), ThrottleRules::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dataflow::http::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let token = jwt
        .issue("vert", 0, chrono::Utc::now().timestamp())
        .unwrap();
    let client = reqwest::Client::new();
    let body = json!({"name": "Blusa", "description": "", "category": "Vestuário",
        "pricing": {"ammount": 1, "currency": "BRL"}, "availability": {"quantity": 1}});
    let register = || {
        client
            .post(format!("{base}/api/vert/register/product"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    assert_eq!(register().await.unwrap().status(), 200);

    // The cut proxy accepts and never answers, so without the pool's bounded wait the request
    // would hang for as long as TCP keeps trying; the bound here is only against a hang.
    proxy.cut().await;
    let r = tokio::time::timeout(Duration::from_secs(30), register())
        .await
        .expect("an answer, not a hang, while the database does not answer")
        .unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["message"], "Database unavailable, try again later", "{v}");
    // Anonymous callers hear that it is down, not why; a signed token sees the reason.
    let r = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["result"]["database"]["ok"], false);
    assert!(v["result"]["database"].get("error").is_none(), "{v}");
    let r = client
        .get(format!("{base}/healthz"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    let why = v["result"]["database"]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        why.contains("database unavailable"),
        "healthz says why: {v}"
    );

    proxy.restore();
    let t = Instant::now();
    loop {
        let status = register().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "recovers by itself");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let _ = stop.send(());
    let _ = server.await;
    svc.shutdown().await;
    db.drop_db().await;
}
