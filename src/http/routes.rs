//! Handlers: each parses at the edge, calls one service use case and shapes the answer.

use std::time::Instant;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{AuthUser, Editor};
use super::caller::Caller;
use super::envelope::{ApiError, Envelope, FieldProblem, ok};
use super::json::{
    BrokerHealth, DatabaseHealth, ElsewhereOut, HealthOut, JsonBody, ProductOut, RefusedOut, Token,
    draft_from_json,
};
use super::metrics::{Answered, RequestStart};
use super::pager::{Cursor, Pager};
use crate::domain::{HEADER_TRACEPARENT, TraceParent};
use crate::stages::{self, Stage};

#[utoipa::path(get, path = "/", responses((status = 200, description = "Welcome", example = json!({"message": "Welcome to Vert API"}))))]
pub async fn root() -> Response {
    axum::Json(json!({"message": "Welcome to Vert API"})).into_response()
}

#[utoipa::path(post, path = "/api/vert/auth/login", request_body = super::json::LoginRequest,
    responses(
        (status = 200, body = Envelope<Token>, description = "Success Login"),
        (status = 400, body = Envelope<String>, description = "Malformed JSON"),
        (status = 401, body = Envelope<String>, description = "Incorrect username or password"),
        (status = 403, body = Envelope<String>, description = "The password is right but the user is disabled"),
        (status = 413, body = Envelope<String>, description = "Body too large"),
        (status = 415, body = Envelope<String>, description = "Content-Type is not application/json"),
        (status = 422, body = Envelope<Vec<FieldProblem>>, description = "Missing or mistyped fields, or a username no user can have (control characters, over 200 characters)"),
        (status = 429, body = Envelope<String>, description = "Too many failures, or as many checks in flight as failures allowed; see Retry-After"),
        (status = 503, body = Envelope<String>, description = "Too many logins being checked at once, or database unavailable; see Retry-After"),
    ))]
pub async fn login(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let field = |k: &str| match body.get(k) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(FieldProblem {
            field: k.into(),
            message: "must be a string".into(),
        }),
        None => Err(FieldProblem {
            field: k.into(),
            message: "is required".into(),
        }),
    };
    let (username, password) = match (field("username"), field("password")) {
        (Ok(u), Ok(p)) => (u, p),
        (u, p) => {
            return Err(ApiError::invalid(
                [u.err(), p.err()].into_iter().flatten().collect(),
            ));
        }
    };
    // Checked before anything uses it: the database refuses some of it (NUL) with an error.
    if let Some(message) = crate::domain::username_problem(&username) {
        return Err(ApiError::invalid(vec![FieldProblem {
            field: crate::domain::USERNAME.into(),
            message,
        }]));
    }
    let who = match state
        .service
        .log_in(&username, &password, &caller, &state.rules)
        .await?
    {
        Some(who) => who,
        None => return Err(ApiError::unauthorized("Incorrect username or password")),
    };
    let access_token = state.jwt.issue(
        &who.username,
        who.generation,
        chrono::Utc::now().timestamp(),
    )?;
    Ok(ok(
        "Success Login",
        Some(Token {
            access_token,
            token_type: "Bearer".into(),
        }),
    ))
}

#[utoipa::path(post, path = "/api/vert/register/product", request_body = super::json::ProductRequest,
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, max_length = 257, description = "Makes a retry safe: the first request with a key registers, a retry with the same key and body replays its answer (header `Idempotent-Replayed: true`) for IDEMPOTENCY_TTL_HOURS (24 by default); 1-255 printable ASCII characters, as an RFC 8941 string (\"...\") or bare; the user's own"),
        ("traceparent" = Option<String>, Header, nullable = false, description = "W3C Trace Context: the record published for this product carries a span of ours in this trace as its `traceparent` header; without one (or an invalid one) a new trace starts. The answer's `traceparent` header names it")),
    responses(
        (status = 200, body = Envelope<ProductOut>, description = "Product register successfully; `result.publish` tells whether Kafka acknowledged it"),
        (status = 409, body = Envelope<String>, description = "A request with the same Idempotency-Key is still being processed"),
        (status = 400, body = Envelope<String>, description = "Malformed JSON"),
        (status = 401, body = Envelope<String>, description = "Missing, invalid, expired or revoked token (password changed, user disabled)"),
        (status = 403, body = Envelope<String>, description = "The user's role may not do this: it needs the editor role (the message names it)"),
        (status = 413, body = Envelope<String>, description = "Body too large"),
        (status = 415, body = Envelope<String>, description = "Content-Type is not application/json"),
        (status = 422, body = Envelope<Vec<FieldProblem>>, description = "One entry per failing field; field `Idempotency-Key` when the key is malformed or was used with a different request"),
        (status = 503, body = Envelope<String>, description = "Database unavailable"),
    ))]
pub async fn register(
    State(state): State<AppState>,
    Extension(RequestStart(arrived)): Extension<RequestStart>,
    Editor(user): Editor,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let (trace, caller) = trace_of(&headers);
    let result = register_traced(&state, &user.username, &headers, &body, arrived, trace).await;
    if crate::telemetry::enabled() {
        let status = match &result {
            Ok(r) => r.status(),
            Err(e) => e.status,
        };
        super::spans::request(trace, caller, arrived, status, "/api/vert/register/product");
    }
    result
}

async fn register_traced(
    state: &AppState,
    user: &str,
    headers: &HeaderMap,
    body: &serde_json::Value,
    arrived: Instant,
    trace: TraceParent,
) -> Result<Response, ApiError> {
    let key = super::idempotent::key_of(headers)?;
    let product = draft_from_json(body)?;
    stages::record(Stage::Parse, arrived);
    let mut resp = match key {
        Some(key) => {
            super::idempotent::register(state, user, &key, product, Some(trace.header())).await?
        }
        None => register_once(state, user, product, trace).await?,
    };
    // The caller learns the trace its record carries (ours when it sent none). A replay's
    // record went out with the first request's trace: no header then.
    let replayed = resp.headers().contains_key("idempotent-replayed");
    if let (false, Ok(v)) = (replayed, axum::http::HeaderValue::from_str(&trace.header())) {
        resp.headers_mut().insert(HEADER_TRACEPARENT, v);
    }
    Ok(resp)
}

/// The request's span: the caller's W3C trace context continued (a span of ours, child of
/// the caller's), or a new trace when it sent none or an invalid one; and the caller's.
fn trace_of(headers: &HeaderMap) -> (TraceParent, Option<TraceParent>) {
    let caller = headers
        .get(HEADER_TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse);
    (caller.map_or_else(TraceParent::root, |t| t.child()), caller)
}

async fn register_once(
    state: &AppState,
    user: &str,
    product: crate::domain::NewProduct,
    trace: TraceParent,
) -> Result<Response, ApiError> {
    let registered = state
        .service
        .register_new(crate::service::Creation {
            item: product,
            by: Some(user.to_string()),
            key: None,
            idem: None,
            trace: Some(trace.header()),
            id: None,
        })
        .await?;
    let answered = Instant::now();
    tracing::info!(%user, id = registered.product.id, "product registered");
    let mut resp = ok(
        "Product register successfully",
        Some(ProductOut::of(&registered.product, &state.service, true)),
    );
    resp.extensions_mut().insert(Answered(answered));
    Ok(resp)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// At most this many products (default: all of them, streamed).
    #[param(minimum = 0)]
    pub limit: Option<i64>,
    /// Only products with an id greater than this, in id order (the original's order). While
    /// products are being written, one can commit after a higher id was already returned: a
    /// client that follows the table should page with `cursor` instead.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// Follow the table in commit order: `0` to start, then the `next` of the previous answer.
    /// Every committed product comes exactly once, whatever order writers commit in; the answer
    /// then carries `next` beside `result`. Not with `after`.
    #[param(value_type = Option<String>, example = "0")]
    pub cursor: Option<String>,
}

/// The answer of product/all when paging with `cursor` (`next` is absent otherwise).
#[derive(Serialize, ToSchema)]
pub struct ProductPage {
    #[schema(example = "200")]
    pub code: String,
    #[schema(example = "Ok")]
    pub status: String,
    pub message: String,
    pub result: Vec<ProductOut>,
    /// The cursor of the next page (with `cursor` only); the same one when nothing was new.
    #[schema(example = "1234.5678")]
    pub next: Option<String>,
}

fn bad_query(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(vec![FieldProblem {
        field: field.into(),
        message: message.into(),
    }])
}

#[utoipa::path(get, path = "/api/vert/product/all", params(Page), security(("bearer" = [])),
    responses(
        (status = 200, body = ProductPage, description = "Retrieve products successfully, streamed: oldest id first, or in commit order with `cursor` (then `next` follows `result`)"),
        (status = 401, body = Envelope<String>, description = "Missing, invalid, expired or revoked token (password changed, user disabled)"),
        (status = 422, body = Envelope<Vec<FieldProblem>>, description = "Bad limit, after or cursor, or both after and cursor"),
        (status = 503, body = Envelope<String>, description = "Database unavailable"),
    ))]
pub async fn all_products(
    State(state): State<AppState>,
    _user: AuthUser,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(page) = page.map_err(|e| bad_query("query", e.body_text()))?;
    for (field, value) in [("limit", page.limit), ("after", page.after)] {
        if value.is_some_and(|v| v < 0) {
            return Err(bad_query(field, "must be >= 0"));
        }
    }
    let cursor = match (page.after, page.cursor.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(bad_query("cursor", "give either after or cursor, not both"));
        }
        (after, None) => Cursor::Id(after),
        (None, Some(c)) => Cursor::Position(c.parse().map_err(|e| bad_query("cursor", e))?),
    };
    // The first page is read before answering, so an unreachable database is a 503.
    let mut pager = Pager::new(state.service.clone(), cursor, page.limit);
    pager.first = Some(pager.fetch().await?);
    let head = Bytes::from_static(
        br#"{"code":"200","status":"Ok","message":"Retrieve products successfully","result":["#,
    );
    let pages = futures::stream::unfold(pager, |mut p| async move {
        p.next_chunk().await.map(|c| (c, p))
    });
    let body = futures::stream::once(async { Ok(head) }).chain(pages);
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

#[utoipa::path(get, path = "/healthz",
    responses(
        (status = 200, body = Envelope<HealthOut>, description = "Database reachable. Without a bearer token the reasons (`database.error`, `broker.note`, `broker.error`, `outbox_refused.reason`) are left out: they go to the log and to callers with a valid token"),
        (status = 503, body = Envelope<HealthOut>, description = "Database unreachable"),
    ))]
pub async fn healthz(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut s = state.service.status().await;
    if !super::auth::signed(&headers, &state.jwt) {
        if let Some(why) = s.database_error.take() {
            tracing::warn!(error = %why, "health check: database unreachable");
        }
        s.broker_note = None;
        s.broker_error = None;
        s.refused = s
            .refused
            .map(|(events, _)| (events, "(log in to see why)".into()));
    }
    let result = HealthOut {
        database: DatabaseHealth {
            backend: s.database.into(),
            ok: s.database_ok,
            error: s.database_error.clone(),
        },
        broker: BrokerHealth {
            ok: s.broker_ok,
            embedded: s.broker_embedded,
            bootstrap: s.bootstrap,
            note: s.broker_note,
            error: s.broker_error,
        },
        outbox_pending: s.pending,
        outbox_elsewhere: s
            .elsewhere
            .into_iter()
            .map(|d| ElsewhereOut {
                destination: d.name,
                cluster: d.cluster,
                pending: d.pending,
            })
            .collect(),
        outbox_refused: s
            .refused
            .map(|(events, reason)| RefusedOut { events, reason }),
    };
    let status = if s.database_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Envelope {
        code: status.as_u16().to_string(),
        status: if s.database_ok {
            "Ok".into()
        } else {
            "Service Unavailable".into()
        },
        message: if s.database_ok {
            "healthy".into()
        } else {
            "database unreachable".into()
        },
        result: Some(result),
    };
    (status, axum::Json(body)).into_response()
}

#[utoipa::path(get, path = "/metrics",
    responses(
        (status = 200, content_type = "text/plain", body = String, description = "Prometheus text format, from figures read in the background every 5 s (never waits on the broker)"),
        (status = 401, body = Envelope<String>, description = "METRICS_TOKEN is set and the request's bearer token is not it"),
    ))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(want) = state.service.settings().metrics_token.as_ref() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same_secret(given.as_bytes(), want.expose().as_bytes()) {
            return ApiError::new(StatusCode::UNAUTHORIZED, "/metrics needs its bearer token")
                .into_response();
        }
    }
    let text = state.metrics.render(state.service.published_total());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Compares in time that depends on the lengths only, not on where the bytes differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not found")
}

/// The router's own 405 (a known path, another method) has an empty body: it gets the
/// envelope too, keeping its `Allow` header.
pub async fn method_not_allowed(resp: Response) -> Response {
    if resp.status() != StatusCode::METHOD_NOT_ALLOWED
        || resp.headers().contains_key(header::CONTENT_TYPE)
    {
        return resp;
    }
    let (mut parts, _) = resp.into_parts();
    let (envelope, body) = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        .into_response()
        .into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(envelope.headers);
    Response::from_parts(parts, body)
}
