//! The pipeline's figures on `/metrics`: backlog and its oldest event per destination, the
//! topic's high marks, every consumer group's lag per partition, and the commit-to-ack
//! histogram. Read when scraped (at most one reading at a time), so they cost nothing unless
//! someone scrapes.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::service::Service;
use crate::service::pipeline::{Reading, Watch};

/// A scrape waits this long for the broker's side at most; the database side comes anyway.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

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
    watch: tokio::sync::Mutex<Watch>,
    pending: Family<DestinationLabels, Gauge>,
    oldest: Family<DestinationLabels, Gauge<f64, AtomicU64>>,
    high: Family<PartitionLabels, Gauge>,
    lag: Family<LagLabels, Gauge>,
}

impl PipelineGauges {
    pub fn register(registry: &mut Registry) -> PipelineGauges {
        let g = PipelineGauges {
            watch: tokio::sync::Mutex::new(Watch::new(2)),
            pending: Family::default(),
            oldest: Family::default(),
            high: Family::default(),
            lag: Family::default(),
        };
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
            "dataflow_commit_to_ack_seconds",
            "From a commit to the broker's acknowledgement of its event (this process's events)",
            crate::stages::commit_to_ack().clone(),
        );
        g
    }

    /// Reads the pipeline now and sets the gauges from it; what could not be read is left
    /// out rather than shown stale.
    pub async fn refresh(&self, service: &Service) {
        let mut watch = self.watch.lock().await;
        let Ok(r) = tokio::time::timeout(READ_TIMEOUT, service.read_pipeline(&mut watch)).await
        else {
            return;
        };
        self.set(&r);
    }

    fn set(&self, r: &Reading) {
        self.pending.clear();
        self.oldest.clear();
        self.high.clear();
        self.lag.clear();
        for d in &r.destinations {
            let l = DestinationLabels {
                destination: d.name.clone(),
            };
            self.pending.get_or_create(&l).set(d.pending);
            self.oldest
                .get_or_create(&l)
                .set(d.oldest_age_s.unwrap_or(0.0));
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
            }
        }
    }
}
