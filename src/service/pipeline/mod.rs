//! The pipeline from the database to the readers of the topic, as one reading: what waits in
//! the outbox for each destination, how long events took to reach the broker, the topic's
//! partitions and how far each consumer group has read. The pipeline pane, `dataflow status`
//! and `/metrics` show the same readings; `History` keeps the last ones for rates and graphs.

mod history;

pub use history::{BrokerChange, History};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::kafka::{KafkaConfig, LagReader};
use crate::store::{Store, served_by};

/// Published events looked at for the latency and the publish rate, at most.
const RECENT: i64 = 2000;
/// The latency is of the events acknowledged in the last five minutes.
const WINDOW_S: f64 = 300.0;
/// The publish rate is over the last ten seconds.
const RATE_S: f64 = 10.0;
/// Upper bounds (ms) of the latency histogram's bars; the last bar takes the rest.
pub const LATENCY_BOUNDS_MS: [f64; 10] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 250.0, 1000.0, 5000.0,
];

/// Pending events of one destination.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DestinationLine {
    pub name: String,
    pub pending: i64,
    /// Seconds since the oldest pending event was committed.
    pub oldest_age_s: Option<f64>,
    /// False when no process of this configuration publishes it: its events wait for a
    /// process configured for it, or for `dataflow outbox reroute`.
    pub served: bool,
}

/// From commit to the recorded acknowledgement (the outbox mark, which follows the broker's
/// acknowledgement by a few milliseconds), over the events of the last five minutes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    pub events: usize,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Events per bar of LATENCY_BOUNDS_MS, plus one for the rest.
    pub bars: Vec<u64>,
    /// Events acknowledged per second over the span of those events (0 when none lately).
    pub per_s: f64,
}

/// One partition's marks and, from the history, its messages per second.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionLine {
    pub partition: i32,
    pub low: i64,
    pub high: i64,
    pub per_s: Option<f64>,
}

/// One group's committed offset and lag on one partition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupPartition {
    pub partition: i32,
    pub committed: Option<i64>,
    /// High mark minus committed offset (all of the partition when nothing is committed).
    pub lag: i64,
    /// How old the oldest record the group has not committed is, in seconds: 0 when nothing
    /// waits, None when its timestamp could not be read.
    pub lag_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupLine {
    pub group: String,
    pub partitions: Vec<GroupPartition>,
    pub lag: i64,
    /// The oldest of its partitions' `lag_seconds`.
    pub lag_seconds: Option<f64>,
    /// Lag grew over the last readings while no committed offset moved.
    pub stalled: bool,
}

/// The broker as this reading found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrokerLine {
    pub bootstrap: String,
    pub up: bool,
    pub error: Option<String>,
}

/// One reading of the whole pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    pub at: DateTime<Utc>,
    pub topic: String,
    pub destination: String,
    pub destinations: Vec<DestinationLine>,
    pub pending: Option<i64>,
    pub database_error: Option<String>,
    pub latency: Latency,
    pub partitions: Vec<PartitionLine>,
    pub groups: Vec<GroupLine>,
    pub broker: BrokerLine,
}

/// Readings for one viewer (a pane, `status --watch`): its broker client and its history.
pub struct Watch {
    reader: Option<(String, LagReader)>,
    pub history: History,
}

impl Watch {
    /// Keeps `readings` readings for rates and graphs.
    pub fn new(readings: usize) -> Watch {
        Watch {
            reader: None,
            history: History::new(readings),
        }
    }

    /// Reads the pipeline of `own` (this configuration's destination) and adds the reading
    /// to the history. `kafka` is the broker, or why there is none to read.
    pub async fn read(
        &mut self,
        store: &Store,
        own: &str,
        kafka: Result<KafkaConfig, String>,
        groups: &[String],
    ) -> &Reading {
        let (topic, bootstrap, lag) = match kafka {
            Ok(cfg) => {
                // The broker moves when a joined embedded broker is taken over.
                if self
                    .reader
                    .as_ref()
                    .is_none_or(|(b, _)| *b != cfg.bootstrap)
                {
                    self.reader = LagReader::start(&cfg)
                        .ok()
                        .map(|r| (cfg.bootstrap.clone(), r));
                }
                let lag = match &self.reader {
                    Some((_, r)) => Ok(r),
                    None => Err("cannot start a Kafka client".to_string()),
                };
                (cfg.topic, cfg.bootstrap, lag)
            }
            Err(e) => (String::new(), String::new(), Err(e)),
        };
        let r = read(store, own, &topic, &bootstrap, lag, groups).await;
        self.history.push(r)
    }
}

/// How long a reading waits for the broker's side.
const BROKER_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads the database side and the broker side at once; either failing leaves its part
/// empty with the reason.
async fn read(
    store: &Store,
    own: &str,
    topic: &str,
    bootstrap: &str,
    lag: Result<&LagReader, String>,
    groups: &[String],
) -> Reading {
    let at = Utc::now();
    let db = async {
        let backlog = store.backlog().await?;
        let recent = store.recent_publish_times(RECENT).await?;
        Ok::<_, crate::store::StoreError>((backlog, recent))
    };
    // Bounded: a broker that does not answer must not hold back the database's figures,
    // which matter most during exactly that outage (a scrape gave up on both before).
    let broker = async {
        match lag {
            Ok(l) => match tokio::time::timeout(BROKER_WAIT, l.read(groups.to_vec())).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err(format!(
                    "the broker did not answer within {} s",
                    BROKER_WAIT.as_secs()
                )),
            },
            Err(e) => Err(e),
        }
    };
    let (db, marks) = tokio::join!(db, broker);
    let (destinations, pending, database_error, latency) = match db {
        Ok((backlog, recent)) => {
            let pending = backlog.iter().map(|b| b.pending).sum();
            let all = backlog
                .iter()
                .map(|b| crate::store::DestinationPending {
                    name: b.name.clone(),
                    cluster: b.cluster.clone(),
                    pending: b.pending,
                })
                .collect();
            let (served, _) = served_by(own, all);
            let lines = backlog
                .into_iter()
                .map(|b| DestinationLine {
                    served: served.iter().any(|s| s.name == b.name),
                    oldest_age_s: b.oldest.map(|o| age_s(at, o)),
                    name: b.name,
                    pending: b.pending,
                })
                .collect();
            (lines, Some(pending), None, latency_of(at, &recent))
        }
        Err(e) => (Vec::new(), None, Some(e.to_string()), Latency::default()),
    };
    let (reading, broker_error) = match marks {
        Ok(r) => (r, None),
        Err(e) => (crate::kafka::TopicReading::default(), Some(e)),
    };
    Reading {
        at,
        topic: topic.to_string(),
        destination: own.to_string(),
        destinations,
        pending,
        database_error,
        latency,
        partitions: reading
            .marks
            .iter()
            .map(|m| PartitionLine {
                partition: m.partition,
                low: m.low,
                high: m.high,
                per_s: None,
            })
            .collect(),
        groups: reading
            .groups
            .iter()
            .map(|g| {
                let partitions: Vec<GroupPartition> = g
                    .committed
                    .iter()
                    .map(|(p, c)| {
                        let mark = reading.marks.iter().find(|m| m.partition == *p);
                        let high = mark.map_or(0, |m| m.high);
                        let from = c.unwrap_or_else(|| mark.map_or(0, |m| m.low));
                        let lag = (high - from).max(0);
                        let since = g.waiting_since.iter().find(|(q, _)| q == p);
                        GroupPartition {
                            partition: *p,
                            committed: *c,
                            lag,
                            lag_seconds: match since {
                                _ if lag == 0 => Some(0.0),
                                Some((_, Some(ms))) => Some(age_seconds(at, *ms)),
                                _ => None,
                            },
                        }
                    })
                    .collect();
                GroupLine {
                    group: g.group.clone(),
                    lag: partitions.iter().map(|p| p.lag).sum(),
                    lag_seconds: partitions
                        .iter()
                        .filter_map(|p| p.lag_seconds)
                        .reduce(f64::max),
                    partitions,
                    stalled: false,
                }
            })
            .collect(),
        broker: BrokerLine {
            bootstrap: bootstrap.to_string(),
            up: broker_error.is_none(),
            error: broker_error,
        },
    }
}

/// An age in seconds as people read it: `2.5 s`, `3.0 min`, `1.1 h`.
pub fn age_text(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// Milliseconds with one decimal, `-` for none.
pub fn ms_text(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1} ms"))
}

fn age_s(now: DateTime<Utc>, then: DateTime<Utc>) -> f64 {
    ((now - then).num_milliseconds().max(0) as f64) / 1000.0
}

/// Seconds from a record's timestamp (ms since the epoch) to `now`.
fn age_seconds(now: DateTime<Utc>, ms: i64) -> f64 {
    ((now.timestamp_millis() - ms).max(0) as f64) / 1000.0
}

/// Percentiles and bars of the events acknowledged in the last WINDOW_S, and the rate of the
/// last RATE_S, from `recent` (the latest RECENT, newest first).
fn latency_of(now: DateTime<Utc>, recent: &[crate::store::PublishTimes]) -> Latency {
    let mut ms: Vec<f64> = recent
        .iter()
        .filter(|t| age_s(now, t.published_at) <= WINDOW_S)
        .map(|t| {
            let us = (t.published_at - t.created_at).num_microseconds();
            (us.unwrap_or(0).max(0) as f64) / 1000.0
        })
        .collect();
    let mut bars = vec![0u64; LATENCY_BOUNDS_MS.len() + 1];
    for v in &ms {
        let i = LATENCY_BOUNDS_MS
            .iter()
            .position(|b| v <= b)
            .unwrap_or(LATENCY_BOUNDS_MS.len());
        bars[i] += 1;
    }
    ms.sort_by(f64::total_cmp);
    let pick =
        |q: f64| (!ms.is_empty()).then(|| ms[(((ms.len() - 1) as f64) * q).round() as usize]);
    let lately: Vec<_> = recent
        .iter()
        .filter(|t| age_s(now, t.published_at) <= RATE_S)
        .collect();
    // All of the sample within the last RATE_S: the rate is over the span it covers.
    let per_s = match lately.iter().map(|t| t.published_at).min() {
        Some(oldest) if lately.len() == recent.len() && recent.len() as i64 == RECENT => {
            lately.len() as f64 / age_s(now, oldest).max(0.001)
        }
        _ => lately.len() as f64 / RATE_S,
    };
    Latency {
        events: ms.len(),
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        bars,
        per_s,
    }
}

impl super::Service {
    /// Reads the pipeline as this process sees it (its destination, broker and group).
    pub async fn read_pipeline(&self, watch: &mut Watch) -> Reading {
        let groups = [self.inner.settings.consumer_group.clone()];
        watch
            .read(
                &self.inner.store,
                self.destination(),
                Ok(self.kafka()),
                &groups,
            )
            .await
            .clone()
    }
}

#[cfg(test)]
mod tests;
