//! The last readings of the pipeline: rates from two readings, lag and pending over time, a
//! group marked stalled, the broker's ups and downs.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Reading;

/// Readings a group's offsets must stand still over, while its lag grows, to be stalled.
const STALL_READINGS: usize = 4;
/// Broker state changes kept.
const CHANGES: usize = 20;

/// The broker went up or down (or was first seen) at `at`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrokerChange {
    pub at: DateTime<Utc>,
    pub up: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct History {
    readings: VecDeque<Reading>,
    cap: usize,
    changes: VecDeque<BrokerChange>,
}

impl History {
    /// Keeps the last `cap` readings (at least two, for rates).
    pub fn new(cap: usize) -> History {
        History {
            readings: VecDeque::new(),
            cap: cap.max(2),
            changes: VecDeque::new(),
        }
    }

    /// Adds a reading, completing its rates and stalled marks from the readings before it.
    pub fn push(&mut self, mut r: Reading) -> &Reading {
        if let Some(prev) = self.readings.back() {
            let dt = (r.at - prev.at).num_milliseconds() as f64 / 1000.0;
            if dt > 0.0 {
                for p in &mut r.partitions {
                    if let Some(q) = prev.partitions.iter().find(|q| q.partition == p.partition) {
                        // A broker's mark can move back between two reads: no negative rates.
                        p.per_s = Some(((p.high - q.high).max(0) as f64) / dt);
                    }
                }
            }
        }
        for g in &mut r.groups {
            g.stalled = self.stalled(&g.group, g.lag, &committed(g));
        }
        let last_up = self.changes.back().map(|c| c.up);
        if last_up != Some(r.broker.up) {
            self.changes.push_back(BrokerChange {
                at: r.at,
                up: r.broker.up,
                error: r.broker.error.clone(),
            });
            if self.changes.len() > CHANGES {
                self.changes.pop_front();
            }
        }
        self.readings.push_back(r);
        if self.readings.len() > self.cap {
            self.readings.pop_front();
        }
        let last = self.readings.len() - 1;
        &self.readings[last]
    }

    pub fn latest(&self) -> Option<&Reading> {
        self.readings.back()
    }

    /// Pending events (all destinations) per reading, oldest first; a failed read counts 0.
    pub fn pending(&self) -> Vec<u64> {
        self.readings
            .iter()
            .map(|r| r.pending.unwrap_or(0).max(0) as u64)
            .collect()
    }

    /// `group`'s total lag per reading, oldest first (0 where it was not read).
    pub fn lag(&self, group: &str) -> Vec<u64> {
        self.per_reading(group, |g| Some(g.lag.max(0) as u64))
    }

    /// `group`'s lag in whole seconds per reading, oldest first (0 where it was not read).
    pub fn lag_seconds(&self, group: &str) -> Vec<u64> {
        self.per_reading(group, |g| g.lag_seconds.map(|s| s.max(0.0) as u64))
    }

    /// One figure of `group` per reading, oldest first (0 where it was not read).
    fn per_reading(&self, group: &str, of: impl Fn(&super::GroupLine) -> Option<u64>) -> Vec<u64> {
        self.readings
            .iter()
            .map(|r| {
                r.groups
                    .iter()
                    .find(|g| g.group == group)
                    .and_then(&of)
                    .unwrap_or(0)
            })
            .collect()
    }

    /// The broker's state changes, oldest first.
    pub fn changes(&self) -> impl Iterator<Item = &BrokerChange> {
        self.changes.iter()
    }

    /// True when the last STALL_READINGS readings and this one all saw `group` with these
    /// committed offsets, and its lag grew from the first of them to now.
    fn stalled(&self, group: &str, lag: i64, offsets: &[(i32, Option<i64>)]) -> bool {
        if lag <= 0 || self.readings.len() < STALL_READINGS {
            return false;
        }
        let window = self.readings.iter().rev().take(STALL_READINGS);
        let mut first_lag = None;
        for r in window {
            match r.groups.iter().find(|g| g.group == group) {
                Some(g) if committed(g) == offsets => first_lag = Some(g.lag),
                _ => return false,
            }
        }
        first_lag.is_some_and(|first| lag > first)
    }
}

fn committed(g: &super::GroupLine) -> Vec<(i32, Option<i64>)> {
    g.partitions
        .iter()
        .map(|p| (p.partition, p.committed))
        .collect()
}
