//! OpenTelemetry spans over OTLP: the request, the commit and the publish of a registration,
//! exported only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set.
//!
//! Our W3C trace context (`domain::TraceParent`) is the source of truth: it is chosen at the
//! edge, kept with the outbox row and published as the record's header whether or not spans
//! are exported. Spans are recorded after the fact, with those same ids and explicit start
//! and end times, so nothing carries a live span object through the writer or the relay.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracer, SdkTracerProvider};

use crate::domain::TraceParent;

pub use opentelemetry::KeyValue as Attr;
pub use opentelemetry::trace::SpanKind as Kind;

static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// Whether spans are exported: callers skip building attributes when not.
pub fn enabled() -> bool {
    TRACER.get().is_some()
}

/// Keeps the exporter running; dropping it flushes the spans still queued.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "could not flush the last spans");
        }
    }
}

/// Starts the OTLP exporter (HTTP/protobuf; the endpoint, headers, timeout, sampler and
/// batch settings come from the standard `OTEL_*` variables) when an endpoint is set.
/// Nothing is started otherwise, and every `record` is then a no-op.
pub fn init() -> Result<Option<Telemetry>, String> {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    if !set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return Ok(None);
    }
    if TRACER.get().is_some() {
        return Err("the span exporter is already running".into());
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| format!("OTLP exporter: {e}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name())
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_id_generator(Planned)
        .with_resource(resource)
        .build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "dataflow");
    TRACER
        .set(tracer)
        .map_err(|_| "the span exporter is already running".to_string())?;
    Ok(Some(Telemetry { provider }))
}

fn service_name() -> String {
    std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "dataflow".into())
}

/// One finished span of ours.
pub struct SpanRecord {
    pub name: String,
    pub kind: SpanKind,
    /// Its own ids (the trace id is the parent's when there is a parent).
    pub id: TraceParent,
    /// The span it continues; None for a root.
    pub parent: Option<TraceParent>,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<KeyValue>,
    /// Set for a failed operation: its `error.type`.
    pub error: Option<String>,
}

/// Exports a finished span (when exporting at all).
pub fn record(s: SpanRecord) {
    let Some(tracer) = TRACER.get() else {
        return;
    };
    let parent = match s.parent {
        Some(p) => Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(p.trace_id),
            SpanId::from(p.span_id),
            TraceFlags::new(p.flags),
            true,
            TraceState::default(),
        )),
        None => Context::new(),
    };
    let mut attributes = s.attributes;
    if let Some(e) = &s.error {
        attributes.push(KeyValue::new("error.type", e.clone()));
    }
    let builder = tracer
        .span_builder(s.name)
        .with_kind(s.kind)
        .with_start_time(s.start)
        .with_attributes(attributes);
    // The SDK draws ids from its generator; ours hands it the ones already chosen.
    PLANNED.with(|p| p.set(Some((s.id.trace_id, s.id.span_id))));
    let mut span = builder.start_with_context(tracer, &parent);
    PLANNED.with(|p| p.set(None));
    if let Some(e) = s.error {
        opentelemetry::trace::Span::set_status(&mut span, Status::error(e));
    }
    opentelemetry::trace::Span::end_with_timestamp(&mut span, s.end);
}

/// The wall-clock time of an `Instant` in the past (spans carry wall-clock times).
pub fn wall(at: Instant) -> SystemTime {
    SystemTime::now()
        .checked_sub(at.elapsed())
        .unwrap_or_else(SystemTime::now)
}

thread_local! {
    static PLANNED: Cell<Option<(u128, u64)>> = const { Cell::new(None) };
}

/// Hands the SDK the ids `record` planned; random ones for anything else.
#[derive(Debug)]
struct Planned;

impl IdGenerator for Planned {
    fn new_trace_id(&self) -> TraceId {
        match PLANNED.with(Cell::get) {
            Some((t, _)) => TraceId::from(t),
            None => RandomIdGenerator::default().new_trace_id(),
        }
    }

    fn new_span_id(&self) -> SpanId {
        match PLANNED.with(Cell::get) {
            Some((_, s)) => SpanId::from(s),
            None => RandomIdGenerator::default().new_span_id(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_started_without_an_endpoint() {
        // The test process sets no OTEL_EXPORTER_OTLP_* variable.
        if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none()
            && std::env::var_os("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none()
        {
            assert!(init().expect("no error").is_none());
            assert!(!enabled());
            // A no-op, not a panic.
            let id = TraceParent::root();
            record(SpanRecord {
                name: "x".into(),
                kind: SpanKind::Internal,
                id,
                parent: None,
                start: SystemTime::now(),
                end: SystemTime::now(),
                attributes: vec![],
                error: None,
            });
        }
    }

    #[test]
    fn planned_ids_are_used_once() {
        PLANNED.with(|p| p.set(Some((7, 9))));
        assert_eq!(Planned.new_trace_id(), TraceId::from(7u128));
        assert_eq!(Planned.new_span_id(), SpanId::from(9u64));
        PLANNED.with(|p| p.set(None));
        assert_ne!(Planned.new_span_id(), SpanId::from(9u64));
    }
}
