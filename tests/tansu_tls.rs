//! Real TLS end to end: Tansu behind stunnel (Tansu 0.6 cannot serve TLS itself), a
//! self-signed CA made with openssl, and dataflow configured only through KAFKA_PROPERTY_*:
//! the relay's producer publishes, topic creation works, and the tail reads over TLS. Without
//! the properties nothing gets through, so the test proves TLS is really in use.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::tansu::{free_port, start_tansu_advertising, wait_listening};
use common::{Backend, TestDb, blusa, read_at_least};
use dataflow::domain::PublishState;
use dataflow::service::Service;

fn self_signed(dir: &Path) {
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(ok.success());
}

fn stunnel(dir: &Path, accept: u16, connect: u16) -> Child {
    let conf = dir.join("stunnel.conf");
    std::fs::write(
        &conf,
        format!(
            "foreground = yes\npid =\n[kafka]\naccept = 127.0.0.1:{accept}\nconnect = 127.0.0.1:{connect}\ncert = {}\nkey = {}\n",
            dir.join("cert.pem").display(),
            dir.join("key.pem").display()
        ),
    )
    .unwrap();
    let bin = if Path::new("/usr/bin/stunnel4").exists() {
        "stunnel4"
    } else {
        "stunnel"
    };
    let child = Command::new(bin)
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("stunnel runs (apt-get install stunnel4)");
    wait_listening(accept, "stunnel");
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_and_reads_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    self_signed(dir.path());
    let (plain, tls) = (free_port(), free_port());
    let mut broker = start_tansu_advertising(plain, tls, dir.path());
    let mut proxy = stunnel(dir.path(), tls, plain);
    let db = TestDb::new(Backend::Sqlite).await;
    let host = format!("127.0.0.1:{tls}");
    let ca = dir.path().join("cert.pem").display().to_string();
    let svc = Service::start(db.settings(&[
        ("KAFKA_HOST", host.as_str()),
        ("KAFKA_PROPERTY_SECURITY_PROTOCOL", "ssl"),
        ("KAFKA_PROPERTY_SSL_CA_LOCATION", ca.as_str()),
        ("PUBLISH_WAIT_MS", "10000"),
    ]))
    .await
    .unwrap();
    common::wait_broker_up(&svc).await;
    let p = svc.register(&blusa()).await.unwrap().product;
    assert!(
        matches!(p.publish, PublishState::Published { .. }),
        "{:?}",
        p.publish
    );
    let msgs = read_at_least(&svc, 1).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].key, Some(p.id.to_string()));

    // The same broker without the TLS properties: the TLS port drops a plaintext client during
    // its first request (ApiVersion), and the status says so.
    common::assert_refused(
        &svc,
        &[("KAFKA_HOST", host.as_str())],
        &["security.protocol", "in state APIVERSION_QUERY"],
        "plaintext cannot talk to the TLS port",
    )
    .await;
    svc.shutdown().await;
    proxy.kill().ok();
    proxy.wait().ok();
    broker.kill().ok();
    broker.wait().ok();
}
