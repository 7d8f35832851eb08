//! The HTTP request's span (OpenTelemetry's HTTP server conventions), exported when spans are.

use std::time::{Instant, SystemTime};

use axum::http::StatusCode;

use crate::domain::TraceParent;
use crate::telemetry::{self, Attr, Kind, SpanRecord};

/// Records a finished request: `id` is our span (the one the record's trace continues),
/// `caller` the span the request came with, if any.
pub fn request(
    id: TraceParent,
    caller: Option<TraceParent>,
    arrived: Instant,
    status: StatusCode,
    route: &'static str,
) {
    let error = status
        .is_server_error()
        .then(|| status.as_u16().to_string());
    telemetry::record(SpanRecord {
        name: format!("POST {route}"),
        kind: Kind::Server,
        id,
        parent: caller,
        start: telemetry::wall(arrived),
        end: SystemTime::now(),
        attributes: vec![
            Attr::new("http.request.method", "POST"),
            Attr::new("http.route", route),
            Attr::new("http.response.status_code", i64::from(status.as_u16())),
        ],
        error,
    });
}
