//! The original's response envelope, and errors that always carry their real HTTP status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::ServiceError;
use crate::store::StoreError;

/// `{"code": "200", "status": "Ok", "message": "...", "result": ...}`; `code` equals the
/// HTTP status, `result` is left out when empty.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    #[schema(example = "200")]
    pub code: String,
    #[schema(example = "Ok")]
    pub status: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<T>,
}

/// One failing field of a request.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    #[schema(example = "pricing.ammount")]
    pub field: String,
    #[schema(example = "must be >= 0")]
    pub message: String,
}

/// A version as an entity tag: `"3"`.
pub fn etag(version: i64) -> HeaderValue {
    // Digits in quotes are always a valid header value.
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"\""))
}

/// The response with its `ETag` set to the product's version.
pub fn with_etag(mut resp: Response, version: i64) -> Response {
    resp.headers_mut().insert(header::ETAG, etag(version));
    resp
}

pub fn ok<T: Serialize>(message: &str, result: Option<T>) -> Response {
    Json(Envelope {
        code: "200".into(),
        status: "Ok".into(),
        message: message.into(),
        result,
    })
    .into_response()
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub fields: Vec<FieldProblem>,
    pub retry_after: Option<u64>,
    /// The product's current version, sent as `ETag` (412 answers).
    pub etag: Option<i64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            fields: Vec::new(),
            retry_after: None,
            etag: None,
        }
    }

    pub fn invalid(fields: Vec<FieldProblem>) -> ApiError {
        ApiError {
            fields,
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation failed")
        }
    }

    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        match e {
            ServiceError::Invalid(errs) => ApiError::invalid(
                errs.0
                    .into_iter()
                    .map(|f| FieldProblem {
                        field: f.field.into(),
                        message: f.message,
                    })
                    .collect(),
            ),
            // The commit was sent and its answer lost for good: it may have been saved.
            ServiceError::Unavailable(detail @ StoreError::Unsettled { .. }) => {
                tracing::warn!(error = %detail, "a commit's outcome is unknown");
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The database stopped answering during the commit: whether it was saved is \
                     unknown. Retry with the same Idempotency-Key (it registers at most once), \
                     or look the product up before sending it again without one",
                );
                e.retry_after = Some(5);
                e
            }
            ServiceError::Unavailable(detail) => {
                tracing::warn!(error = %detail, source = ?std::error::Error::source(&detail), "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Database unavailable, try again later",
                )
            }
            ServiceError::Locked(wait) => {
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many failed logins, try again later",
                );
                e.retry_after = Some(wait);
                e
            }
            ServiceError::Busy(detail) => {
                let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, detail);
                e.retry_after = Some(1);
                e
            }
            ServiceError::Kafka(detail) => {
                tracing::warn!(%detail, "kafka unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Kafka unavailable, try again later",
                )
            }
            ServiceError::NotFound(id) => {
                ApiError::new(StatusCode::NOT_FOUND, format!("Product {id} not found"))
            }
            ServiceError::Stale {
                id,
                current,
                expected,
            } => {
                let mut e = ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    format!(
                        "Product {id} changed since version {expected}: version {current} is current; read it again"
                    ),
                );
                e.etag = Some(current);
                e
            }
            ServiceError::InProgress(detail) | ServiceError::UserConflict(detail) => {
                ApiError::new(StatusCode::CONFLICT, detail)
            }
            ServiceError::Forbidden(detail) => ApiError::new(StatusCode::FORBIDDEN, detail),
            ServiceError::Revoked(detail) => ApiError::new(StatusCode::UNAUTHORIZED, detail),
            ServiceError::UnknownUser(name) => {
                ApiError::new(StatusCode::NOT_FOUND, format!("User {name} not found"))
            }
            ServiceError::Conflict(detail) => {
                tracing::info!(error = %detail, "conflict");
                ApiError::new(StatusCode::CONFLICT, "Already exists")
            }
            // Details (SQL text included) go to the log, never to the client.
            ServiceError::Database(detail) => {
                tracing::error!(error = %detail, source = ?std::error::Error::source(&detail), "database error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error")
            }
            ServiceError::Internal(detail) | ServiceError::Refused(detail) => {
                tracing::error!(%detail, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status_text = self
            .status
            .canonical_reason()
            .unwrap_or("Error")
            .to_string();
        let result = (!self.fields.is_empty()).then_some(self.fields);
        let body = Envelope {
            code: self.status.as_u16().to_string(),
            status: status_text,
            message: self.message,
            result,
        };
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(v) = self.etag {
            resp.headers_mut().insert(header::ETAG, etag(v));
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A commit whose answer was lost for good may have saved the product: the 503 says so
    /// and how to retry safely, unlike a database that was simply down.
    #[test]
    fn an_unknown_outcome_is_not_called_unavailable() {
        let unknown = ApiError::from(ServiceError::Unavailable(StoreError::Unsettled {
            reason: "gone".into(),
            token: 7,
        }));
        assert_eq!(unknown.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(unknown.message.contains("whether it was saved is unknown"));
        assert!(unknown.message.contains("same Idempotency-Key"));
        assert_eq!(unknown.retry_after, Some(5));
        let down = ApiError::from(ServiceError::Unavailable(StoreError::unavailable("down")));
        assert_eq!(down.message, "Database unavailable, try again later");
    }
}
