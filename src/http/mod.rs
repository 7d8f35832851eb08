//! The headless HTTP API: the original's routes with real statuses, plus docs, health and
//! metrics. Built on the service layer; no SQL or Kafka here.

mod auth;
mod docs;
mod envelope;
mod json;
mod limits;
mod metrics;
mod routes;
mod throttle;

use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub use auth::{Claims, Jwt, load_secret};
pub use docs::ApiDoc;
pub use limits::Limits;
pub use throttle::{Throttle, ThrottleRules};

use crate::config::Settings;
use crate::service::Service;

/// Request bodies above this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub jwt: Jwt,
    pub throttle: Arc<Throttle>,
    pub metrics: Arc<metrics::Metrics>,
    pub limits: Limits,
}

impl AppState {
    pub fn new(service: Service, jwt: Jwt, rules: ThrottleRules) -> AppState {
        AppState {
            service,
            jwt,
            throttle: Arc::new(Throttle::new(rules)),
            metrics: Arc::default(),
            limits: Limits::default(),
        }
    }
}

pub fn router(state: AppState) -> Router {
    let l = state.limits;
    let in_flight = limits::InFlight(Arc::new(tokio::sync::Semaphore::new(l.in_flight)));
    Router::new()
        .route("/", get(routes::root))
        .route("/api/vert/auth/login", post(routes::login))
        .route("/api/vert/register/product", post(routes::register))
        .route("/api/vert/product/all", get(routes::all_products))
        .route("/api/vert/product/{id}", get(routes::one_product))
        .route("/api/vert/kafka/consumer/product", get(routes::consume))
        .route("/healthz", get(routes::healthz))
        .route("/metrics", get(routes::metrics))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .fallback(routes::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(l.body))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            l.request,
        ))
        .layer(axum::middleware::from_fn_with_state(
            in_flight,
            limits::shed,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header = state.limits.header;
    limits::serve_connections(listener, router(state), header, shutdown).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested");
}

/// `dataflow serve`: start the service, listen, and shut down cleanly on SIGTERM or Ctrl+C.
pub async fn serve_main(settings: Settings) -> ExitCode {
    let secret = match load_secret(
        settings
            .jwt_secret
            .as_ref()
            .map(crate::config::Secret::expose),
        &settings.paths.jwt_secret_file,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "dataflow: JWT_SECRET: not set and {} cannot be used: {e}",
                settings.paths.jwt_secret_file.display()
            );
            return ExitCode::from(2);
        }
    };
    let bind = settings.bind;
    let listener = match tokio::net::TcpListener::bind(bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("dataflow: BIND: cannot listen on {bind}: {e}");
            return ExitCode::from(2);
        }
    };
    let service = match crate::app::start_service(settings).await {
        Ok(s) => s,
        Err(crate::service::ServiceError::Refused(why)) => {
            eprintln!("dataflow: {why}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("dataflow: start-up failed: {e}");
            return ExitCode::from(1);
        }
    };
    let kafka = service.kafka();
    let kind = if kafka.embedded { " (embedded)" } else { "" };
    println!(
        "dataflow listening on http://{bind} kafka {}{kind}",
        kafka.bootstrap
    );
    let state = AppState::new(service.clone(), Jwt::new(&secret), ThrottleRules::default());
    let result = serve(listener, state, shutdown_signal()).await;
    crate::app::stop_service(&service).await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dataflow: server error: {e}");
            ExitCode::from(1)
        }
    }
}
