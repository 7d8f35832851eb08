//! The original's consumer route: the group's new messages, committed once the answer is out.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::AppState;
use super::auth::Editor;
use super::envelope::{ApiError, Envelope, FieldProblem};

enum Step {
    Send(Bytes, crate::service::Consumed),
    Commit(crate::service::Consumed),
}

/// Messages one consumer-route call returns by default, and at most.
pub const CONSUME_DEFAULT: usize = 500;
pub const CONSUME_MAX: usize = 10_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsumeQuery {
    /// At most this many messages in one answer (1-10000, default 500); the rest comes with the
    /// next call.
    #[param(minimum = 1, maximum = 10000)]
    pub max: Option<usize>,
}

#[utoipa::path(get, path = "/api/vert/kafka/consumer/product", params(ConsumeQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Envelope<Vec<super::json::KafkaEventDoc>>, description = "Consumer topic kafka successfully: a product per creation or update, `{\"id\": N, \"deleted\": true}` per deletion; the group's new messages up to the high-water marks (at most `max`), committed once the answer was sent. Calls are served one at a time."),
        (status = 401, body = Envelope<String>, description = "Missing, invalid, expired or revoked token (password changed, user disabled)"),
        (status = 403, body = Envelope<String>, description = "The user's role may not do this: it needs the editor role (the message names it)"),
        (status = 422, body = Envelope<Vec<FieldProblem>>, description = "Bad max"),
        (status = 503, body = Envelope<String>, description = "Kafka unavailable, or another call held the group too long (see Retry-After)"),
    ))]
pub async fn consume(
    State(state): State<AppState>,
    _user: Editor,
    q: Result<Query<ConsumeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let bad_max = || {
        ApiError::invalid(vec![FieldProblem {
            field: "max".into(),
            message: format!("must be a whole number from 1 to {CONSUME_MAX}"),
        }])
    };
    let Query(q) = q.map_err(|_| bad_max())?;
    let max = q.max.unwrap_or(CONSUME_DEFAULT);
    if !(1..=CONSUME_MAX).contains(&max) {
        return Err(bad_max());
    }
    let consumed = state.service.consume(max).await?;
    let values: Vec<&Value> = consumed.messages.iter().map(|m| &m.value).collect();
    let body = serde_json::to_vec(&Envelope {
        code: "200".into(),
        status: "Ok".into(),
        message: "Consumer topic kafka successfully".into(),
        result: Some(values),
    })
    .map_err(|e| ApiError::from(crate::service::ServiceError::Internal(e.to_string())))?;
    // Committed once the connection asks for more after the body: a client gone before then
    // (the stream is dropped unfinished) gets nothing committed, and the next call reads it.
    let steps = futures::stream::unfold(
        Step::Send(Bytes::from(body), consumed),
        |step| async move {
            match step {
                Step::Send(bytes, consumed) => Some((
                    Ok::<_, std::convert::Infallible>(bytes),
                    Step::Commit(consumed),
                )),
                Step::Commit(consumed) => {
                    if let Err(e) = consumed.commit().await {
                        tracing::warn!(error = %e, "consumer route: commit failed; the messages come again");
                    }
                    None
                }
            }
        },
    );
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(steps),
    )
        .into_response())
}
