//! `Idempotency-Key` on `POST register`, `PUT` and `DELETE product/{id}`: the first request
//! runs, a retry replays its answer (`Idempotent-Replayed: true`), a retry while the first
//! runs answers 409, the key with another request 422.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::AppState;
use super::envelope::{ApiError, FieldProblem, ok};
use super::json::{DeletedOut, ProductOut, PublishOut};
use crate::domain::{NewProduct, Product};
use crate::service::{Edit, IDEMPOTENCY_KEY, Keyed, parse_idempotency_key};

pub const REPLAYED: &str = "idempotent-replayed";

/// The request's key, if it sent one (422 naming the header when it is malformed).
pub fn key_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    parse_idempotency_key(raw.as_bytes())
        .map(Some)
        .map_err(|message| {
            ApiError::invalid(vec![FieldProblem {
                field: IDEMPOTENCY_KEY.into(),
                message,
            }])
        })
}

fn replayed(mut resp: Response, status: u16) -> Response {
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    resp.headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    resp
}

/// A product's answer, or what its key wrote once the product is gone.
fn product_answer(state: &AppState, message: &str, product: Option<&Product>, id: i64) -> Response {
    match product {
        Some(p) => super::product::with_etag(
            ok(message, Some(ProductOut::of(p, &state.service, true))),
            p.revision.version,
        ),
        None => ok(message, Some(json!({"id": id, "deleted": true}))),
    }
}

pub async fn register(
    state: &AppState,
    user: &str,
    key: &str,
    item: NewProduct,
) -> Result<Response, ApiError> {
    const MESSAGE: &str = "Product register successfully";
    Ok(match state.service.register_keyed(user, key, item).await? {
        Keyed::First(r) => {
            tracing::info!(%user, id = r.product.id, "product registered (idempotency key)");
            ok(
                MESSAGE,
                Some(ProductOut::of(&r.product, &state.service, true)),
            )
        }
        Keyed::Replayed {
            status,
            product_id,
            product,
            ..
        } => {
            // product/register answers carry no ETag: the replay neither.
            let mut resp = product_answer(state, MESSAGE, product.as_deref(), product_id);
            resp.headers_mut().remove(axum::http::header::ETAG);
            replayed(resp, status)
        }
    })
}

pub async fn update(
    state: &AppState,
    edit: Edit<'_>,
    key: &str,
    item: &NewProduct,
) -> Result<Response, ApiError> {
    const MESSAGE: &str = "Product updated successfully";
    Ok(match state.service.update_keyed(edit, key, item).await? {
        Keyed::First(p) => product_answer(state, MESSAGE, Some(&p), p.id),
        Keyed::Replayed {
            status,
            product_id,
            product,
            ..
        } => replayed(
            product_answer(state, MESSAGE, product.as_deref(), product_id),
            status,
        ),
    })
}

pub async fn delete(state: &AppState, edit: Edit<'_>, key: &str) -> Result<Response, ApiError> {
    const MESSAGE: &str = "Product deleted successfully";
    let deleted = |id: i64, p: &Product, version: i64| {
        ok(
            MESSAGE,
            Some(DeletedOut {
                id,
                deleted: true,
                version,
                publish: PublishOut::of(p.publish),
            }),
        )
    };
    Ok(match state.service.delete_keyed(edit, key).await? {
        Keyed::First(p) => deleted(p.id, &p, p.revision.version),
        Keyed::Replayed {
            status,
            product_id,
            version,
            ..
        } => {
            let p = state.service.product_any(product_id).await?;
            let resp = match p {
                Some(p) => deleted(product_id, &p, version),
                None => ok(MESSAGE, Some(json!({"id": product_id, "deleted": true}))),
            };
            replayed(resp, status)
        }
    })
}
