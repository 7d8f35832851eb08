//! The pipeline's figures on `/metrics`: backlog and its oldest event per destination, the
//! topic's high marks, every consumer group's lag per partition (messages and seconds), and the commit-to-ack
//! histogram. A background task reads them every REFRESH, the database side and the broker's
//! apart: a scrape only encodes what is there, so it answers at once whatever the broker's
//! state, and any number of scrapes cost one reading per period.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::service::pipeline::Reading;

/// How often the figures are read.
pub const REFRESH: Duration = Duration::from_secs(5);
/// A reading that takes longer is given up (the next one starts on time).
pub(super) const READ_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DestinationLabels {
    destination: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    partition: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LagLabels {
    group: String,
    partition: String,
}

pub struct PipelineGauges {
    pending: Family<DestinationLabels, Gauge>,
    oldest: Family<DestinationLabels, Gauge<f64, AtomicU64>>,
    high: Family<PartitionLabels, Gauge>,
    lag: Family<LagLabels, Gauge>,
    lag_seconds: Family<LagLabels, Gauge<f64, AtomicU64>>,
    /// When each side was last read whole (Unix seconds): `time() - x` is the figures' age.
    database_read: Gauge<f64, AtomicU64>,
    broker_read: Gauge<f64, AtomicU64>,
    broker_up: Gauge,
}

impl PipelineGauges {
    pub fn register(registry: &mut Registry) -> PipelineGauges {
        let g = PipelineGauges {
            pending: Family::default(),
            oldest: Family::default(),
            high: Family::default(),
            lag: Family::default(),
            lag_seconds: Family::default(),
            database_read: Gauge::default(),
            broker_read: Gauge::default(),
            broker_up: Gauge::default(),
        };
        registry.register(
            "dataflow_pipeline_database_read_timestamp_seconds",
            "When the outbox figures were last read (Unix time); they are absent until then",
            g.database_read.clone(),
        );
        registry.register(
            "dataflow_pipeline_broker_read_timestamp_seconds",
            "When the topic's marks and the groups' lag were last read (Unix time)",
            g.broker_read.clone(),
        );
        registry.register(
            "dataflow_pipeline_broker_up",
            "1 when the last reading reached the broker; 0: marks and lag are absent, not stale",
            g.broker_up.clone(),
        );
        registry.register(
            "dataflow_outbox_destination_pending",
            "Events waiting for each destination (every process on this database)",
            g.pending.clone(),
        );
        registry.register(
            "dataflow_outbox_oldest_pending_seconds",
            "Age of the oldest event waiting for each destination (0 when none waits)",
            g.oldest.clone(),
        );
        registry.register(
            "dataflow_topic_high_watermark",
            "The topic's high watermark per partition",
            g.high.clone(),
        );
        registry.register(
            "dataflow_consumer_group_lag",
            "Messages a consumer group has not committed yet, per partition",
            g.lag.clone(),
        );
        registry.register(
            "dataflow_consumer_group_lag_seconds",
            "Age of the oldest record a consumer group has not committed, per partition (0 when none waits)",
            g.lag_seconds.clone(),
        );
        registry.register(
            "dataflow_commit_to_ack_seconds",
            "From a commit to the broker's acknowledgement of its event (this process's events)",
            crate::stages::commit_to_ack().clone(),
        );
        g
    }

    /// A reading that did not finish: nothing of it is known now, so nothing is shown (the
    /// read timestamps keep saying when each side was last read).
    pub(super) fn unread(&self) {
        self.pending.clear();
        self.oldest.clear();
        self.high.clear();
        self.lag.clear();
        self.lag_seconds.clear();
        self.broker_up.set(0);
    }

    /// Sets the gauges from a reading: a side that could not be read is left out, never
    /// shown as it was.
    pub(super) fn set(&self, r: &Reading) {
        let now = r.at.timestamp_millis() as f64 / 1000.0;
        self.pending.clear();
        self.oldest.clear();
        if r.database_error.is_none() {
            self.database_read.set(now);
        }
        for d in &r.destinations {
            let l = DestinationLabels {
                destination: d.name.clone(),
            };
            self.pending.get_or_create(&l).set(d.pending);
            self.oldest
                .get_or_create(&l)
                .set(d.oldest_age_s.unwrap_or(0.0));
        }
        self.high.clear();
        self.lag.clear();
        self.lag_seconds.clear();
        self.broker_up.set(i64::from(r.broker.up));
        if r.broker.up {
            self.broker_read.set(now);
        }
        for p in &r.partitions {
            let l = PartitionLabels {
                partition: p.partition.to_string(),
            };
            self.high.get_or_create(&l).set(p.high);
        }
        for g in &r.groups {
            for p in &g.partitions {
                let l = LagLabels {
                    group: g.group.clone(),
                    partition: p.partition.to_string(),
                };
                self.lag.get_or_create(&l).set(p.lag);
                // Unknown (its record not read in time): left out, not shown as 0.
                if let Some(secs) = p.lag_seconds {
                    self.lag_seconds.get_or_create(&l).set(secs);
                }
            }
        }
    }
}
