//! A TCP proxy a test can hold and cut: replies or requests held in the proxy (the peer has
//! sent them, the other side has not seen them), and every open connection dropped at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Clone)]
pub struct Proxy {
    pub addr: SocketAddr,
    hold_replies: Arc<watch::Sender<bool>>,
    hold_after: Arc<Mutex<Option<Vec<u8>>>>,
    cut: Arc<watch::Sender<u64>>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (hold_replies, _) = watch::channel(false);
        let (cut, _) = watch::channel(0u64);
        let proxy = Proxy {
            addr,
            hold_replies: Arc::new(hold_replies),
            hold_after: Arc::new(Mutex::new(None)),
            cut: Arc::new(cut),
        };
        let p = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let p = p.clone();
                tokio::spawn(async move { p.pipe(client, server).await });
            }
        });
        proxy
    }

    /// While set, what the server sends waits in the proxy.
    pub fn hold_replies(&self, on: bool) {
        self.hold_replies.send_replace(on);
    }

    /// Holds replies from the moment a request holding `bytes` passes (a statement's
    /// parameters, say: not the pool's ping before it, nor its Parse).
    pub fn hold_replies_after(&self, bytes: &[u8]) {
        *self.hold_after.lock().unwrap() = Some(bytes.to_vec());
    }

    /// Drops every open connection (what was held is lost); new ones pass.
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    async fn pipe(self, client: TcpStream, server: TcpStream) {
        let mut cut = self.cut.subscribe();
        cut.mark_unchanged();
        let (cr, cw) = client.into_split();
        let (sr, sw) = server.into_split();
        let up = pump(cr, sw, Hold::Arm(&self));
        let down = pump(sr, cw, Hold::Wait(self.hold_replies.subscribe()));
        tokio::select! {
            _ = up => {}
            _ = down => {}
            _ = cut.changed() => {}
        }
    }
}

enum Hold<'a> {
    /// Requests: may switch the hold on (see `hold_replies_after`).
    Arm(&'a Proxy),
    /// Replies: wait while held.
    Wait(watch::Receiver<bool>),
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut hold: Hold<'_>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        match &mut hold {
            Hold::Arm(p) => {
                let mut armed = p.hold_after.lock().unwrap();
                let hit = armed
                    .as_ref()
                    .is_some_and(|pat| buf[..n].windows(pat.len()).any(|w| w == pat));
                if hit {
                    *armed = None;
                    p.hold_replies.send_replace(true);
                }
            }
            Hold::Wait(h) => {
                if h.wait_for(|held| !held).await.is_err() {
                    return;
                }
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
