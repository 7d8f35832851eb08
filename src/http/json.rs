//! Request bodies and response shapes of the original's routes, field for field.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::envelope::{ApiError, FieldProblem};
use crate::domain::{Product, PublishState};
use crate::service::Service;

/// A JSON body, with the original's failures turned into real statuses:
/// 415 wrong content type, 400 malformed JSON, 413 too large.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json",
            )),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("Malformed JSON: {}", e.body_text()),
            )),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Request body too large",
                ))
            }
            Err(e) => Err(ApiError::new(e.status(), e.body_text())),
        }
    }
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[schema(example = json!({"username": "vert", "password": "vert"}))]
#[allow(dead_code)] // documents the shape; the handler reads fields one by one
pub struct LoginRequest {
    /// 1-200 characters, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
}

/// The register body, as in the original (`ammount`; `amount` accepted as an alias).
#[derive(Debug, serde::Deserialize, ToSchema)]
#[schema(example = json!({"name": "Blusa", "description": "Blusa com touca", "category": "Vestuário",
    "pricing": {"ammount": 59.99, "currency": "BRL"}, "availability": {"quantity": 50}}))]
#[allow(dead_code)] // documents the shape; parsing is field by field in `draft_from_json`
pub struct ProductRequest {
    pub name: String,
    pub description: String,
    pub category: String,
    pub pricing: PricingRequest,
    pub availability: AvailabilityRequest,
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct PricingRequest {
    /// Alias: `amount`. At most two decimals.
    #[schema(minimum = 0, exclusive_maximum = 1000000000000.0)]
    pub ammount: f64,
    pub currency: String,
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct AvailabilityRequest {
    #[schema(minimum = 0, maximum = 2147483647)]
    pub quantity: i64,
}

/// Reads the body into a product; every failing field is reported at once, in form order.
pub fn draft_from_json(v: &Value) -> Result<crate::domain::NewProduct, ApiError> {
    crate::domain::product_from_json(v).map_err(|errs| {
        ApiError::invalid(
            errs.into_iter()
                .map(|f| FieldProblem {
                    field: f.field.into(),
                    message: f.message,
                })
                .collect(),
        )
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityOut {
    pub id: i64,
    pub product_id: i64,
    pub quantity: i32,
    #[schema(example = "2024-06-29T20:47:19.586366-03:00")]
    pub timestamp: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PricingOut {
    pub id: i64,
    pub product_id: i64,
    #[schema(value_type = f64, example = 59.99)]
    pub ammount: serde_json::Number,
    pub currency: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublishOut {
    /// `published` (acknowledged by the broker) or `pending` (in the outbox, on its way).
    #[schema(example = "published")]
    pub state: String,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
}

/// A product as product/all shows it; version and publish state only on the routes that add
/// them.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductOut {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub description: String,
    pub availability: AvailabilityOut,
    pub pricing: PricingOut,
    // The revision fields are on single-product answers only (product/all keeps the
    // original's shape), so each is optional in the document; flattening an optional struct
    // documented them as "that struct or null", which no product/all item matched.
    /// 1 when registered, + 1 per change; the `ETag` of `GET /api/vert/product/{id}`. On
    /// single-product answers only, as are the three fields after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1, minimum = 1)]
    pub version: Option<i64>,
    /// Who registered it; null for products registered before versions existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Option<String>>,
    /// Who changed it last; null until it is changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<Option<String>>,
    /// When it was changed last (RFC 3339 in TIMEZONE); null until it is changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishOut>,
    /// Only on a replayed answer (`Idempotent-Replayed: true`) whose product was deleted
    /// since: `true`, and the product as it was last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
}

/// What a delete answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedOut {
    pub id: i64,
    #[schema(example = true)]
    pub deleted: bool,
    /// The version the delete made (its tombstone's `version` header).
    pub version: i64,
    pub publish: PublishOut,
}

impl ProductOut {
    /// `detailed` adds the version and publish state (every route but product/all).
    pub fn of(p: &Product, svc: &Service, detailed: bool) -> ProductOut {
        ProductOut {
            id: p.id,
            name: p.name.clone(),
            category: p.category.clone(),
            description: p.description.clone(),
            availability: AvailabilityOut {
                id: p.availability_id,
                product_id: p.id,
                quantity: p.quantity,
                timestamp: svc.render_time(p.timestamp),
            },
            pricing: PricingOut {
                id: p.pricing_id,
                product_id: p.id,
                ammount: p.amount.to_json_number(),
                currency: p.currency.clone(),
            },
            version: detailed.then_some(p.revision.version),
            created_by: detailed.then(|| p.revision.created_by.clone()),
            updated_by: detailed.then(|| p.revision.updated_by.clone()),
            updated_at: detailed.then(|| p.revision.updated_at.map(|t| svc.render_time(t))),
            publish: detailed.then(|| PublishOut::of(p.publish)),
            deleted: None,
        }
    }
}

impl PublishOut {
    pub fn of(state: PublishState) -> PublishOut {
        match state {
            PublishState::Pending => PublishOut {
                state: "pending".into(),
                partition: None,
                offset: None,
            },
            PublishState::Published { partition, offset } => PublishOut {
                state: "published".into(),
                partition: Some(partition),
                offset: Some(offset),
            },
        }
    }
}

/// What the consumer route returns per message: a product (created or updated), or a deletion.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the shape; messages are relayed as read
pub enum KafkaEventDoc {
    Product(KafkaMessageDoc),
    Deleted(KafkaDeletedDoc),
}

/// A tombstone (the product was deleted), as the consumer route gives it.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct KafkaDeletedDoc {
    pub id: i64,
    #[schema(example = true)]
    pub deleted: bool,
}

/// A product message as read from Kafka (other producers' messages pass through as they are).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)] // documents the shape; messages are relayed as read
pub struct KafkaMessageDoc {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub pricing: KafkaPricingDoc,
    pub availability: KafkaAvailabilityDoc,
    pub category: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct KafkaPricingDoc {
    #[schema(example = 59.99)]
    pub amount: f64,
    pub currency: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct KafkaAvailabilityDoc {
    pub quantity: i64,
    #[schema(example = "2024-06-29T23:47:19.586366Z")]
    pub timestamp: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    pub database: DatabaseHealth,
    pub broker: BrokerHealth,
    pub outbox_pending: Option<i64>,
    /// Events waiting for a destination this process does not publish to (another cluster,
    /// or one not reached yet); `dataflow outbox reroute --from NAME` moves them here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outbox_elsewhere: Vec<ElsewhereOut>,
    /// Pending events the broker refuses for good (too large, refused by a schema or a
    /// policy): each holds back only its own product; tried again every minute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbox_refused: Option<RefusedOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedOut {
    pub events: i64,
    /// One of their reasons, as the broker or client gave it.
    #[schema(example = "refused by the broker: Message production error: MessageSizeTooLarge")]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ElsewhereOut {
    #[schema(example = "kafka:127.0.0.1:19092/products")]
    pub destination: String,
    /// `<cluster id>/<topic>` once some process reached it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub pending: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseHealth {
    #[schema(example = "postgres")]
    pub backend: String,
    pub ok: bool,
    /// Why it is not ok (absent when ok).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BrokerHealth {
    pub ok: bool,
    pub embedded: bool,
    pub bootstrap: String,
    /// What last happened to the broker (a take-over of the embedded broker, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Why it is down, as the Kafka client said: refused credentials and a missing TLS read
    /// differently from a broker that is gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "SASL authentication error: Authentication failed")]
    pub error: Option<String>,
}
