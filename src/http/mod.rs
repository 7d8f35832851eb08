//! The headless HTTP API: the original's routes with real statuses, plus docs, health and
//! metrics. Built on the service layer; no SQL or Kafka here.

mod audit;
mod auth;
mod caller;
mod consume;
mod docs;
mod envelope;
mod idempotent;
mod json;
mod limits;
mod metrics;
mod pager;
mod pipeline_metrics;
mod product;
mod routes;
mod spans;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

/// The lock-out's rules (the service counts failures in the database).
pub use crate::service::LoginRules as ThrottleRules;
pub use auth::{Claims, Jwt, load_secret};
pub use caller::client_address;
pub use docs::ApiDoc;
pub use limits::Limits;

use crate::service::Service;

/// Request bodies above this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub jwt: Jwt,
    pub rules: ThrottleRules,
    pub metrics: Arc<metrics::Metrics>,
    pub limits: Limits,
}

impl AppState {
    pub fn new(service: Service, jwt: Jwt, rules: ThrottleRules) -> AppState {
        AppState {
            service,
            jwt,
            rules,
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
        .route(
            "/api/vert/product/{id}",
            get(product::one_product)
                .put(product::update_product)
                .delete(product::delete_product),
        )
        .route("/api/vert/kafka/consumer/product", get(consume::consume))
        .route("/api/vert/users", get(users::list).post(users::add))
        .route("/api/vert/audit", get(audit::list))
        .route(
            "/api/vert/users/{username}",
            get(users::one).patch(users::change),
        )
        .route("/healthz", get(routes::healthz))
        .route("/metrics", get(routes::metrics))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .fallback(routes::not_found)
        .layer(axum::middleware::map_response(routes::method_not_allowed))
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
    // Ends by itself once the server is gone (it holds the metrics weakly).
    let refresher = metrics::spawn_refresher(&state.metrics, state.service.clone());
    let served = limits::serve_connections(listener, router(state), header, shutdown).await;
    refresher.abort();
    served
}
