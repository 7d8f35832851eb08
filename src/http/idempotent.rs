//! `Idempotency-Key` on `POST register`: the first request registers, a retry replays its
//! answer (`Idempotent-Replayed: true`), a retry while the first runs answers 409, the key
//! with another request 422.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::AppState;
use super::envelope::{ApiError, FieldProblem, ok};
use super::json::ProductOut;
use crate::domain::NewProduct;
use crate::service::{IDEMPOTENCY_KEY, Keyed, parse_idempotency_key};

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

pub async fn register(
    state: &AppState,
    user: &str,
    key: &str,
    item: NewProduct,
) -> Result<Response, ApiError> {
    let svc = &state.service;
    match svc.register_keyed(user, key, item).await? {
        Keyed::First(r) => {
            tracing::info!(%user, id = r.product.id, "product registered (idempotency key)");
            Ok(ok(
                "Product register successfully",
                Some(ProductOut::of(&r.product, svc, true)),
            ))
        }
        Keyed::Replayed {
            status,
            product_id,
            product,
        } => {
            let mut resp = match product {
                Some(p) => ok(
                    "Product register successfully",
                    Some(ProductOut::of(&p, svc, true)),
                ),
                // Deleted since: the answer names what the key created.
                None => ok(
                    "Product register successfully",
                    Some(json!({"id": product_id, "deleted": true})),
                ),
            };
            *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            resp.headers_mut()
                .insert(REPLAYED, HeaderValue::from_static("true"));
            Ok(resp)
        }
    }
}
