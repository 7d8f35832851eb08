//! One product: read it (with its ETag), change it and delete it, conditionally on If-Match.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;

use super::AppState;
use super::auth::{AuthUser, Editor};
use super::caller::Caller;
use super::envelope::{ApiError, Envelope, FieldProblem, ok, with_etag};
use super::json::{DeletedOut, JsonBody, ProductOut, PublishOut, draft_from_json};
use crate::service::{Edit, ServiceError};

/// Products per database round trip while streaming product/all.
fn product_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| {
        ApiError::invalid(vec![FieldProblem {
            field: "id".into(),
            message: "must be a whole number".into(),
        }])
    })
}

/// `If-Match: "3"` (the version from an `ETag`), or `*` for any current version.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    // The quoted form is the standard one; a bare version is accepted too, as many clients
    // send it.
    let bare = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    Some(bare)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid(vec![FieldProblem {
                field: "If-Match".into(),
                message: "must be a version in quotes as ETag gives it, e.g. \"3\", or *".into(),
            }])
        })
}

#[utoipa::path(get, path = "/api/vert/product/{id}", params(("id" = i64, Path, description = "Product id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Envelope<ProductOut>, description = "Retrieve product successfully; `ETag` holds its version",
            headers(("ETag" = String, description = "The product's version in quotes, for If-Match"))),
        (status = 401, body = Envelope<String>, description = "Missing, invalid, expired or revoked token (password changed, user disabled)"),
        (status = 404, body = Envelope<String>, description = "No such product (or it was deleted)"),
        (status = 422, body = Envelope<Vec<FieldProblem>>, description = "The id is not a whole number"),
        (status = 503, body = Envelope<String>, description = "Database unavailable"),
    ))]
pub async fn one_product(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = product_id(&id)?;
    match state.service.product(id).await? {
        Some(p) => Ok(with_etag(
            ok(
                "Retrieve product successfully",
                Some(ProductOut::of(&p, &state.service, true)),
            ),
            p.revision.version,
        )),
        None => Err(ServiceError::NotFound(id).into()),
    }
}

#[utoipa::path(put, path = "/api/vert/product/{id}", request_body = super::json::ProductRequest,
    params(("id" = i64, Path, description = "Product id"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|[0-9]{1,18}|"[0-9]{1,18}")$"#, description = "The version read (its ETag, e.g. \"3\"; the bare number is accepted too), or *; a stale one answers 412"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, max_length = 257, description = "Makes a retry safe, as on POST register: a retry with the same key replays the first answer (`Idempotent-Replayed: true`) instead of changing again")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Envelope<ProductOut>, description = "Product updated successfully: version + 1; `result.publish` tells whether Kafka acknowledged its event",
            headers(("ETag" = String, description = "The new version in quotes"))),
        (status = 400, body = Envelope<String>, description = "Malformed JSON"),
        (status = 401, body = Envelope<String>, description = "Missing, invalid, expired or revoked token (password changed, user disabled)"),
        (status = 403, body = Envelope<String>, description = "The user's role may not do this: it needs the editor role (the message names it)"),
        (status = 404, body = Envelope<String>, description = "No such product (or it was deleted)"),
        (status = 409, body = Envelope<String>, description = "A request with the same Idempotency-Key is still being processed"),
        (status = 412, body = Envelope<String>, description = "The product changed since the version in If-Match; nothing was written. `ETag` holds the current version",
            headers(("ETag" = String, description = "The current version in quotes"))),
        (status = 413, body = Envelope<String>, description = "Body too large"),
        (status = 415, body = Envelope<String>, description = "Content-Type is not application/json"),
        (status = 422, body = Envelope<Vec<FieldProblem>>, description = "One entry per failing field (If-Match included)"),
        (status = 503, body = Envelope<String>, description = "Database unavailable"),
    ))]
pub async fn update_product(
    State(state): State<AppState>,
    Editor(user): Editor,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let id = product_id(&id)?;
    let expected = if_match(&headers)?;
    let key = super::idempotent::key_of(&headers)?;
    let item = draft_from_json(&body)?;
    let edit = Edit {
        id,
        expected,
        by: Some(&user.username),
        origin: Some(&caller),
    };
    if let Some(key) = key {
        return super::idempotent::update(&state, edit, &key, &item).await;
    }
    let p = state.service.update_valid(edit, &item).await?;
    tracing::info!(user = %user.username, id, version = p.revision.version, "product updated");
    Ok(with_etag(
        ok(
            "Product updated successfully",
            Some(ProductOut::of(&p, &state.service, true)),
        ),
        p.revision.version,
    ))
}

#[utoipa::path(delete, path = "/api/vert/product/{id}",
    params(("id" = i64, Path, description = "Product id"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|[0-9]{1,18}|"[0-9]{1,18}")$"#, description = "The version read (its ETag, e.g. \"3\"; the bare number is accepted too), or *; a stale one answers 412"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, max_length = 257, description = "Makes a retry safe, as on POST register: a retry with the same key replays the first answer (`Idempotent-Replayed: true`) instead of changing again")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Envelope<DeletedOut>, description = "Product deleted successfully: it is no longer listed, and a tombstone goes to the topic"),
        (status = 401, body = Envelope<String>, description = "Missing, invalid, expired or revoked token (password changed, user disabled)"),
        (status = 403, body = Envelope<String>, description = "The user's role may not do this: it needs the editor role (the message names it)"),
        (status = 404, body = Envelope<String>, description = "No such product (or it was deleted already)"),
        (status = 409, body = Envelope<String>, description = "A request with the same Idempotency-Key is still being processed"),
        (status = 412, body = Envelope<String>, description = "The product changed since the version in If-Match; nothing was written",
            headers(("ETag" = String, description = "The current version in quotes"))),
        (status = 422, body = Envelope<Vec<FieldProblem>>, description = "Bad id or If-Match"),
        (status = 503, body = Envelope<String>, description = "Database unavailable"),
    ))]
pub async fn delete_product(
    State(state): State<AppState>,
    Editor(user): Editor,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = product_id(&id)?;
    let expected = if_match(&headers)?;
    let key = super::idempotent::key_of(&headers)?;
    let edit = Edit {
        id,
        expected,
        by: Some(&user.username),
        origin: Some(&caller),
    };
    if let Some(key) = key {
        return super::idempotent::delete(&state, edit, &key).await;
    }
    let p = state.service.delete(edit).await?;
    tracing::info!(user = %user.username, id, version = p.revision.version, "product deleted");
    Ok(ok(
        "Product deleted successfully",
        Some(DeletedOut {
            id,
            deleted: true,
            version: p.revision.version,
            publish: PublishOut::of(p.publish),
        }),
    ))
}
