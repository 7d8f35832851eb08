//! Where a registration's time goes: one histogram per stage of the write path, kept for the
//! whole process (as Prometheus clients keep their default registry), shown on `/metrics` and
//! printed by the benchmark scripts.

use std::sync::OnceLock;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// The stages in the order a registration goes through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// HTTP: from the request's arrival to a parsed, authenticated product.
    Parse,
    /// Waiting in the writer's queue for a batch.
    Queue,
    /// The batch's transaction, from its start to the commit's answer.
    Commit,
    /// From the commit to the relay taking the event.
    Handoff,
    /// From the relay taking it to the producer accepting it (the lease check included).
    Send,
    /// From the producer accepting it to the broker's acknowledgement.
    Ack,
    /// From the acknowledgement to its mark committed in the outbox.
    Mark,
    /// From the commit to the caller woken by its event's acknowledgement (the whole publish).
    Published,
    /// HTTP: from the service's answer to the response handed to the connection.
    Answer,
}

impl Stage {
    pub const ALL: [Stage; 9] = [
        Stage::Parse,
        Stage::Queue,
        Stage::Commit,
        Stage::Handoff,
        Stage::Send,
        Stage::Ack,
        Stage::Mark,
        Stage::Published,
        Stage::Answer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Parse => "parse",
            Stage::Queue => "queue",
            Stage::Commit => "commit",
            Stage::Handoff => "handoff",
            Stage::Send => "send",
            Stage::Ack => "ack",
            Stage::Mark => "mark",
            Stage::Published => "published",
            Stage::Answer => "answer",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabel {
    pub stage: String,
}

pub type StageFamily = Family<StageLabel, Histogram, fn() -> Histogram>;

pub struct Stages {
    family: StageFamily,
    // Fetched once: observing is then one histogram update, no label look-up.
    by_stage: Vec<Histogram>,
}

fn buckets() -> Histogram {
    // 10 µs to about 1.3 s.
    Histogram::new(exponential_buckets(0.000_01, 2.0, 18))
}

/// The process's stage histograms.
pub fn stages() -> &'static Stages {
    static STAGES: OnceLock<Stages> = OnceLock::new();
    STAGES.get_or_init(|| {
        let family = StageFamily::new_with_constructor(buckets);
        let by_stage = Stage::ALL
            .iter()
            .map(|s| {
                family
                    .get_or_create(&StageLabel {
                        stage: s.name().to_string(),
                    })
                    .clone()
            })
            .collect();
        Stages { family, by_stage }
    })
}

impl Stages {
    /// Records the time since `since` for `stage`.
    pub fn since(&self, stage: Stage, since: Instant) {
        self.by_stage[stage as usize].observe(since.elapsed().as_secs_f64());
    }

    /// For a registry: every stage under one metric, labelled `stage`.
    pub fn family(&self) -> StageFamily {
        self.family.clone()
    }
}

/// Records the time since `since` for `stage`.
pub fn record(stage: Stage, since: Instant) {
    stages().since(stage, since);
}

/// From a commit to the broker's acknowledgement of its event, for events this process
/// committed (`dataflow_commit_to_ack_seconds` on `/metrics`).
pub fn commit_to_ack() -> &'static Histogram {
    static H: OnceLock<Histogram> = OnceLock::new();
    // 0.5 ms to about 16 s.
    H.get_or_init(|| Histogram::new(exponential_buckets(0.0005, 2.0, 16)))
}
