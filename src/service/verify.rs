//! `dataflow verify`: the topic against the outbox, partition by partition. Both sides are read
//! in offset order and merged: the outbox in pages, the topic through the tail (which reads
//! past Tansu's lagging marks). Memory stays flat whatever the size: a page, a channel, and
//! the records nothing explains (a problem each).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::ServiceError;
use crate::domain::{
    Finding, HEADER_EVENT_ID, HEADER_VERSION, PartitionCounts, RecordedEvent, SeenRecord, Step,
    VerifyReport, step,
};
use crate::kafka::{self, KafkaConfig, TailMessage, TailOptions, TailStart};
use crate::store::{PublishedFilter, Store};

/// Outbox rows read at a time.
const PAGE: i64 = 20_000;
/// Recorded events out of order listed at most (the rest is counted from them).
const ORDER_LIMIT: i64 = 100_000;

/// What to check, and where the topic lives.
pub struct VerifyTarget<'a> {
    pub store: &'a Store,
    pub kafka: &'a KafkaConfig,
    /// The outbox destination whose events went to this topic.
    pub destination: &'a str,
    pub filter: PublishedFilter,
}

fn seen(m: &TailMessage) -> SeenRecord {
    let num = |name: &str| m.header(name).and_then(|v| v.trim().parse().ok());
    SeenRecord {
        partition: m.partition,
        offset: m.offset,
        key: m.key.clone(),
        event_id: num(HEADER_EVENT_ID),
        version: num(HEADER_VERSION),
        timestamp_ms: m.timestamp_ms,
    }
}

fn kafka_err(e: kafka::KafkaError) -> ServiceError {
    ServiceError::Kafka(e.to_string())
}

/// Reconciles the topic with the outbox; `progress` hears the records read so far.
pub async fn verify(
    t: &VerifyTarget<'_>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<VerifyReport, ServiceError> {
    let marks = kafka::partition_marks(t.kafka).await.map_err(kafka_err)?;
    let recorded = t
        .store
        .published_partitions(t.destination, t.filter)
        .await?;
    let mut report = VerifyReport {
        destination: t.destination.to_string(),
        topic: t.kafka.topic.clone(),
        ..Default::default()
    };
    let compacted = t.kafka.cleanup_policy.contains("compact");
    let mut read = 0u64;
    for (p, low, high) in &marks {
        let first = recorded.iter().find(|r| r.0 == *p).map(|r| r.1);
        let start = match (first, t.filter.product, t.filter.since) {
            // Below the mark, so the read goes on past Tansu's lagging one.
            (Some(o), _, _) => TailStart::Offset(o.clamp(*low, (*high - 1).max(*low))),
            (None, Some(_), _) => continue, // the product has nothing here
            (None, None, Some(since)) => TailStart::Time(since.timestamp_millis()),
            (None, None, None) => TailStart::Beginning,
        };
        let mut counts = PartitionCounts {
            partition: *p,
            low: *low,
            ..Default::default()
        };
        let mut check = Partition {
            t,
            counts: &mut counts,
            report: &mut report,
            compacted,
            extras: HashMap::new(),
        };
        check.run(start, &mut read, progress).await?;
        report.partitions.push(counts);
    }
    // Events recorded in partitions the topic no longer has.
    for (p, _, n) in recorded
        .iter()
        .filter(|r| !marks.iter().any(|m| m.0 == r.0))
    {
        report.partitions.push(PartitionCounts {
            partition: *p,
            missing: *n as u64,
            ..Default::default()
        });
    }
    for (e, after) in t
        .store
        .recorded_out_of_order(t.destination, t.filter, ORDER_LIMIT)
        .await?
    {
        if let Some(c) = report
            .partitions
            .iter_mut()
            .find(|c| c.partition == e.partition)
        {
            c.out_of_order += 1;
        }
        report.note(Finding::OutOfOrder {
            product: e.product_id,
            version: e.version,
            after,
            partition: e.partition,
            offset: e.offset,
        });
    }
    Ok(report)
}

struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The merge of one partition.
struct Partition<'a, 'b> {
    t: &'a VerifyTarget<'b>,
    counts: &'a mut PartitionCounts,
    report: &'a mut VerifyReport,
    compacted: bool,
    /// Per product, the highest version among records nothing recorded explains, and where.
    extras: HashMap<i64, (i64, i64)>,
}

impl Partition<'_, '_> {
    async fn run(
        &mut self,
        start: TailStart,
        read: &mut u64,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), ServiceError> {
        let p = self.counts.partition;
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let stop = Arc::new(AtomicBool::new(false));
        // The reader stops however this ends (an error below returns early).
        let _stop = StopOnDrop(stop.clone());
        let reader = {
            let (cfg, stop) = (self.t.kafka.clone(), stop.clone());
            let opts = TailOptions {
                start,
                follow: false,
                partition: Some(p),
            };
            tokio::task::spawn_blocking(move || kafka::tail(&cfg, opts, tx, stop))
        };
        let mut events: VecDeque<RecordedEvent> = VecDeque::new();
        let (mut after, mut exhausted) = ((-1i64, 0i64), false);
        let mut record = rx.recv().await.map(|m| seen(&m));
        self.count(record.is_some(), read, progress);
        let result = loop {
            if events.is_empty() && !exhausted {
                let page = self
                    .t
                    .store
                    .published_page(self.t.destination, self.t.filter, p, after, PAGE)
                    .await?;
                exhausted = (page.len() as i64) < PAGE;
                after = page.last().map_or(after, |e| (e.offset, e.id));
                events.extend(page);
            }
            let Some(s) = step(events.front(), record.as_ref()) else {
                break Ok(());
            };
            match s {
                Step::Present => {
                    self.counts.present += 1;
                    events.pop_front();
                }
                Step::Displaced | Step::Absent => {
                    let Some(e) = events.pop_front() else {
                        continue;
                    };
                    let holds = (s == Step::Displaced).then(|| record.clone()).flatten();
                    self.absent(e, holds).await?;
                    continue; // the record (if any) is looked at against the next event
                }
                Step::Extra => {
                    if let Some(r) = &record {
                        self.extra(r).await?;
                    }
                }
            }
            record = rx.recv().await.map(|m| seen(&m));
            self.count(record.is_some(), read, progress);
        };
        stop.store(true, Ordering::Relaxed);
        drop(rx);
        match reader.await {
            Ok(Err(e)) => return Err(kafka_err(e)),
            Err(e) => return Err(ServiceError::Internal(format!("topic reader: {e}"))),
            Ok(Ok(())) => {}
        }
        progress(*read);
        result
    }

    fn count(&mut self, got: bool, read: &mut u64, progress: &(dyn Fn(u64) + Sync)) {
        if got {
            self.counts.records += 1;
            *read += 1;
            if (*read).is_multiple_of(1000) {
                progress(*read);
            }
        }
    }

    /// An event whose offset does not hold it.
    async fn absent(
        &mut self,
        e: RecordedEvent,
        holds: Option<SeenRecord>,
    ) -> Result<(), ServiceError> {
        let gone = e.offset < self.counts.low
            || (self.compacted
                && holds.is_none()
                && self.t.store.superseded(self.t.destination, &e).await?);
        if gone {
            self.counts.expired += 1;
            return Ok(());
        }
        self.counts.missing += 1;
        self.report.note(Finding::Missing {
            event: e.id,
            product: e.product_id,
            version: e.version,
            partition: e.partition,
            offset: e.offset,
            holds,
        });
        Ok(())
    }

    /// A record at an offset no selected event is recorded at.
    async fn extra(&mut self, r: &SeenRecord) -> Result<(), ServiceError> {
        let f = self.t.filter;
        let product = r.product_id();
        if f.product.is_some() && product != f.product {
            return Ok(()); // another product's record
        }
        if let (Some(since), Some(ts)) = (f.since, r.timestamp_ms)
            && ts < since.timestamp_millis()
        {
            return Ok(());
        }
        let (Some(product), Some(version)) = (product, r.version) else {
            self.counts.unexplained += 1;
            self.report.note(Finding::Unexplained { record: r.clone() });
            return Ok(());
        };
        let store = self.t.store;
        let dest = self.t.destination;
        match store
            .published_event(dest, r.event_id, product, version)
            .await?
        {
            // Its own event, outside the selection (published before --since): not checked.
            Some(e) if e.partition == r.partition && e.offset == r.offset => return Ok(()),
            Some(e) => {
                self.counts.duplicates += 1;
                self.report.note(Finding::Duplicate {
                    event: e.id,
                    record: r.clone(),
                });
            }
            None => {
                self.counts.unexplained += 1;
                self.report.note(Finding::Unexplained { record: r.clone() });
            }
        }
        // Order against what is recorded before it, and the records explained by nothing.
        let before = store
            .highest_version_before(dest, product, r.partition, r.offset)
            .await?;
        let extra_before = self.extras.get(&product).map(|(v, _)| *v);
        if let Some(higher) = before.max(extra_before).filter(|h| *h > version) {
            self.out_of_order(product, version, higher, r.partition, r.offset);
        }
        // Recorded events after this record with a lower version are behind it.
        for e in store
            .lower_versions_after(dest, product, r.partition, r.offset, version)
            .await?
        {
            self.out_of_order(e.product_id, e.version, version, e.partition, e.offset);
        }
        let entry = self.extras.entry(product).or_insert((version, r.offset));
        if version > entry.0 {
            *entry = (version, r.offset);
        }
        Ok(())
    }

    fn out_of_order(
        &mut self,
        product: i64,
        version: i64,
        after: i64,
        partition: i32,
        offset: i64,
    ) {
        self.counts.out_of_order += 1;
        self.report.note(Finding::OutOfOrder {
            product,
            version,
            after,
            partition,
            offset,
        });
    }
}
