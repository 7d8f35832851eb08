//! What keeps one client from holding the server: a bound on requests in flight (shed at once
//! with 503 + Retry-After, never queued), and the connection loop with a header read timeout
//! (slow-header clients are cut off) that `axum::serve` does not offer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::envelope::ApiError;

/// In-flight requests get this long to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(10);

/// The server's bounds; `Default` is what `serve` runs with.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Requests handled at once; past it, 503 at once.
    pub in_flight: usize,
    /// A client must send its request line and headers within this,
    pub header: Duration,
    /// its body within this,
    pub body: Duration,
    /// and the request must be answered (headers) within this.
    pub request: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            in_flight: 512,
            header: Duration::from_secs(10),
            body: Duration::from_secs(10),
            request: Duration::from_secs(30),
        }
    }
}

#[derive(Clone)]
pub struct InFlight(pub Arc<Semaphore>);

/// Sheds load instead of queueing it.
pub async fn shed(State(slots): State<InFlight>, req: Request, next: Next) -> Response {
    let Ok(_slot) = slots.0.try_acquire_owned() else {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many requests in flight, try again shortly",
        );
        e.retry_after = Some(1);
        return e.into_response();
    };
    next.run(req).await
}

/// Accepts connections until `shutdown`, each served by hyper with the header read timeout,
/// then waits (bounded) for the connections' in-flight requests.
pub async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    // HTTP/1.1 only, as before: the API's clients speak it, and protocol detection costs CPU.
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let app = app.clone();
        let svc = tower::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain period; closing them");
    }
    Ok(())
}
