//! `Idempotency-Key` on `POST register`, `PUT` and `DELETE product/{id}`: the first request
//! runs, a retry replays its answer (`Idempotent-Replayed: true`), a retry while the first
//! runs answers 409, the key with another request 422.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use super::AppState;
use super::envelope::{ApiError, FieldProblem, ok, with_etag};
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

/// A product's answer. A replay whose product was deleted since answers the product as it
/// was last, with `deleted: true`, so the answer keeps the route's documented shape.
async fn product_answer(
    state: &AppState,
    message: &str,
    product: Option<&Product>,
    id: i64,
) -> Result<Response, ApiError> {
    let out = match product {
        Some(p) => Some((ProductOut::of(p, &state.service, true), p.revision.version)),
        None => state.service.product_any(id).await?.map(|p| {
            let mut out = ProductOut::of(&p, &state.service, true);
            out.deleted = Some(true);
            (out, p.revision.version)
        }),
    };
    Ok(match out {
        Some((out, version)) => with_etag(ok(message, Some(out)), version),
        // The row is never removed; this is only for a database that lost it.
        None => return Err(crate::service::ServiceError::NotFound(id).into()),
    })
}

pub async fn register(
    state: &AppState,
    user: &str,
    key: &str,
    item: NewProduct,
    trace: Option<String>,
) -> Result<Response, ApiError> {
    const MESSAGE: &str = "Product register successfully";
    Ok(
        match state
            .service
            .register_keyed_traced(user, key, item, trace)
            .await?
        {
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
                let mut resp =
                    product_answer(state, MESSAGE, product.as_deref(), product_id).await?;
                resp.headers_mut().remove(axum::http::header::ETAG);
                replayed(resp, status)
            }
        },
    )
}

pub async fn update(
    state: &AppState,
    edit: Edit<'_>,
    key: &str,
    item: &NewProduct,
) -> Result<Response, ApiError> {
    const MESSAGE: &str = "Product updated successfully";
    Ok(match state.service.update_keyed(edit, key, item).await? {
        Keyed::First(p) => product_answer(state, MESSAGE, Some(&p), p.id).await?,
        Keyed::Replayed {
            status,
            product_id,
            product,
            ..
        } => replayed(
            product_answer(state, MESSAGE, product.as_deref(), product_id).await?,
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
                // The row is never removed; this is only for a database that lost it.
                None => return Err(crate::service::ServiceError::NotFound(product_id).into()),
            };
            replayed(resp, status)
        }
    })
}
