//! Prometheus metrics and the access log, both from one middleware.

use std::sync::{Arc, Weak};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::AppState;
use crate::service::Service;
use crate::stages::{self, Stage};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

/// When the request arrived (set by `track`), for the stage timings of a registration.
#[derive(Clone, Copy, Debug)]
pub struct RequestStart(pub Instant);

/// On a response: when the service answered, for `Stage::Answer`.
#[derive(Clone, Copy, Debug)]
pub struct Answered(pub Instant);

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    in_flight: Family<RouteLabels, Gauge>,
    pending: Gauge,
    published: Counter,
    pub pipeline: super::pipeline_metrics::PipelineGauges,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let in_flight = Family::<RouteLabels, Gauge>::default();
        let pending = Gauge::default();
        let published = Counter::default();
        registry.register(
            "dataflow_http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "dataflow_http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register(
            "dataflow_http_requests_in_flight",
            "HTTP requests being handled now, by route (a caller gone counts no more)",
            in_flight.clone(),
        );
        registry.register(
            "dataflow_write_stage_seconds",
            "Time of one registration in each stage of the write path (see BENCHMARKS.md)",
            stages::stages().family(),
        );
        registry.register(
            "dataflow_outbox_pending",
            "Events committed but not yet acknowledged by Kafka",
            pending.clone(),
        );
        registry.register(
            "dataflow_events_published",
            "Events acknowledged by Kafka since start",
            published.clone(),
        );
        let pipeline = super::pipeline_metrics::PipelineGauges::register(&mut registry);
        Metrics {
            pipeline,
            registry,
            requests,
            latency,
            in_flight,
            pending,
            published,
        }
    }
}

impl Metrics {
    /// This process's pending events as last read (the refresher's); None (the database did
    /// not answer) keeps the last figure, whose age the database read timestamp tells.
    pub fn set_pending(&self, pending: Option<i64>) {
        if let Some(p) = pending {
            self.pending.set(p);
        }
    }

    /// The text exposition: what the refresher last read, and the relay's count now.
    pub fn render(&self, published_total: u64) -> String {
        let seen = self.published.get();
        if published_total > seen {
            self.published.inc_by(published_total - seen);
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Counts, times and logs every request. Logs the path without the query and never any
/// header, so tokens and passwords stay out of the log.
pub async fn track(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    req.extensions_mut().insert(RequestStart(start));
    // Labels come from a fixed set: a client's made-up method or path cannot grow the metrics.
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS") => m.to_string(),
        _ => "OTHER".to_string(),
    };
    let path = req.uri().path().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let resp = {
        let _handling = InFlight::enter(&state.metrics, &route);
        next.run(req).await
    };
    if let Some(Answered(at)) = resp.extensions().get::<Answered>() {
        stages::record(Stage::Answer, *at);
    }
    let status = resp.status().as_u16();
    let elapsed = start.elapsed();
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method: method.clone(),
            route: route.clone(),
            status,
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&RouteLabels { route })
        .observe(elapsed.as_secs_f64());
    tracing::info!(target: "access", %method, %path, status, latency_ms = elapsed.as_secs_f64() * 1000.0);
    resp
}

/// One request in `dataflow_http_requests_in_flight`, until it is answered or dropped (the
/// server drops a request whose caller went away).
struct InFlight(Gauge);

impl InFlight {
    fn enter(metrics: &Metrics, route: &str) -> InFlight {
        let g = metrics
            .in_flight
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .clone();
        g.inc();
        InFlight(g)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Reads the pipeline every REFRESH while the metrics live (the server holds them); sets
/// `pending` (this process's view of the outbox) and the pipeline's gauges.
pub fn spawn_refresher(metrics: &Arc<Metrics>, service: Service) -> tokio::task::JoinHandle<()> {
    let weak: Weak<Metrics> = Arc::downgrade(metrics);
    tokio::spawn(async move {
        let mut watch = crate::service::pipeline::Watch::new(2);
        let mut tick = tokio::time::interval(super::pipeline_metrics::REFRESH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(m) = weak.upgrade() else {
                return;
            };
            let limit = super::pipeline_metrics::READ_TIMEOUT;
            // The reading has the outbox's pending events already (`status()` would probe the
            // broker again on top of it, every period).
            match tokio::time::timeout(limit, service.read_pipeline(&mut watch)).await {
                Ok(r) => {
                    m.set_pending(r.pending);
                    m.pipeline.set(&r);
                }
                Err(_) => {
                    tracing::warn!("the pipeline's metrics took over 3 s to read");
                    m.pipeline.unread();
                }
            }
        }
    })
}
