//! Reconciling the topic with the outbox: what `dataflow verify` reports. The outbox records
//! every published event's partition and offset; the topic's records carry `event-id` (the
//! outbox id), `event` and `version` headers and the product id as key. Pure rules here; the
//! reading is the service's.

use serde::Serialize;

/// An event the outbox records as published at (partition, offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub id: i64,
    pub product_id: i64,
    pub version: i64,
    pub partition: i32,
    pub offset: i64,
}

/// What a record on the topic says of itself (its headers and key, parsed when they parse).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub event_id: Option<i64>,
    pub version: Option<i64>,
    pub timestamp_ms: Option<i64>,
}

impl SeenRecord {
    pub fn product_id(&self) -> Option<i64> {
        self.key.as_deref().and_then(|k| k.parse().ok())
    }

    /// True when this record is `e`: by its event id where it has one (records published
    /// before the header existed have none), else by product and version.
    pub fn is(&self, e: &RecordedEvent) -> bool {
        match self.event_id {
            Some(id) => id == e.id,
            None => self.product_id() == Some(e.product_id) && self.version == Some(e.version),
        }
    }
}

/// One problem, with what identifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// Recorded as published at an offset the partition still holds, and not there.
    Missing {
        event: i64,
        product: i64,
        version: i64,
        partition: i32,
        offset: i64,
        /// What the offset holds instead, when it holds a record.
        #[serde(skip_serializing_if = "Option::is_none")]
        holds: Option<SeenRecord>,
    },
    /// A record that no event of the outbox explains (another producer, a lost outbox row).
    Unexplained { record: SeenRecord },
    /// A second record of an event recorded elsewhere.
    Duplicate { event: i64, record: SeenRecord },
    /// A product's version after a higher one of the same product.
    OutOfOrder {
        product: i64,
        version: i64,
        after: i64,
        partition: i32,
        offset: i64,
    },
}

/// The counts of one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PartitionCounts {
    pub partition: i32,
    /// The partition's first offset still held (records below it expired or were deleted).
    pub low: i64,
    pub present: u64,
    pub missing: u64,
    /// Recorded below the low watermark, or compacted away behind a later version.
    pub expired: u64,
    pub unexplained: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Records read from the partition.
    pub records: u64,
}

/// What `verify` found: counts per partition and the first problems in detail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub destination: String,
    pub topic: String,
    pub partitions: Vec<PartitionCounts>,
    /// The first `DETAIL` problems; the counts have them all.
    pub problems: Vec<Finding>,
}

/// Problems kept in detail; beyond them only counted.
pub const DETAIL: usize = 1000;

impl VerifyReport {
    pub fn clean(&self) -> bool {
        self.partitions
            .iter()
            .all(|p| p.missing + p.unexplained + p.duplicates + p.out_of_order == 0)
    }

    pub fn total(&self, f: impl Fn(&PartitionCounts) -> u64) -> u64 {
        self.partitions.iter().map(f).sum()
    }

    pub fn note(&mut self, finding: Finding) {
        if self.problems.len() < DETAIL {
            self.problems.push(finding);
        }
    }
}

/// How one recorded event and the record at the head of its partition's read relate, in a
/// merge of both by offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The record at the event's offset is the event: both advance.
    Present,
    /// The offset holds another record: the event is missing, the record is looked at alone.
    Displaced,
    /// No record at the event's offset (read past it, or the read ended): the event advances.
    Absent,
    /// A record before the next event's offset: the record advances.
    Extra,
}

pub fn step(event: Option<&RecordedEvent>, record: Option<&SeenRecord>) -> Option<Step> {
    match (event, record) {
        (None, None) => None,
        (Some(_), None) => Some(Step::Absent),
        (None, Some(_)) => Some(Step::Extra),
        (Some(e), Some(r)) if r.offset == e.offset => Some(if r.is(e) {
            Step::Present
        } else {
            Step::Displaced
        }),
        (Some(e), Some(r)) if r.offset < e.offset => Some(Step::Extra),
        (Some(_), Some(_)) => Some(Step::Absent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, offset: i64) -> RecordedEvent {
        RecordedEvent {
            id,
            product_id: 7,
            version: 1,
            partition: 0,
            offset,
        }
    }

    fn record(offset: i64, event_id: Option<i64>, version: Option<i64>) -> SeenRecord {
        SeenRecord {
            partition: 0,
            offset,
            key: Some("7".into()),
            event_id,
            version,
            timestamp_ms: None,
        }
    }

    #[test]
    fn a_record_is_its_event_by_id_or_else_by_product_and_version() {
        let e = event(40, 3);
        assert!(record(3, Some(40), Some(9)).is(&e), "the id decides");
        assert!(!record(3, Some(41), Some(1)).is(&e));
        assert!(
            record(3, None, Some(1)).is(&e),
            "an older record without the header"
        );
        assert!(!record(3, None, Some(2)).is(&e));
    }

    #[test]
    fn the_merge_steps_by_offset() {
        let e = event(40, 3);
        assert_eq!(
            step(Some(&e), Some(&record(3, Some(40), None))),
            Some(Step::Present)
        );
        assert_eq!(
            step(Some(&e), Some(&record(3, Some(99), None))),
            Some(Step::Displaced)
        );
        assert_eq!(
            step(Some(&e), Some(&record(2, Some(99), None))),
            Some(Step::Extra)
        );
        assert_eq!(
            step(Some(&e), Some(&record(4, Some(41), None))),
            Some(Step::Absent)
        );
        assert_eq!(step(Some(&e), None), Some(Step::Absent));
        assert_eq!(step(None, Some(&record(4, None, None))), Some(Step::Extra));
        assert_eq!(step(None, None), None);
    }

    #[test]
    fn clean_only_without_problems() {
        let mut r = VerifyReport::default();
        r.partitions.push(PartitionCounts {
            present: 5,
            expired: 2,
            ..Default::default()
        });
        assert!(r.clean(), "expired is not a fault of the pipeline");
        r.partitions[0].duplicates = 1;
        assert!(!r.clean());
    }
}
