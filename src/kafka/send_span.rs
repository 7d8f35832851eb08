//! The publish of a traced event: a span of its own (OpenTelemetry's messaging conventions for
//! Kafka, `send <topic>`), whose context the record's `traceparent` header carries, so a
//! consumer's spans follow the send, which follows the request.

use std::time::SystemTime;

use crate::domain::TraceParent;
use crate::store::OutboxEvent;
use crate::telemetry::{self, Attr, Kind, SpanRecord};

pub(super) struct SendSpan {
    id: TraceParent,
    parent: TraceParent,
    start: SystemTime,
    /// Set only when spans are exported: nothing else to keep otherwise.
    topic: Option<String>,
}

impl SendSpan {
    /// None for an event without a trace (updates, deletes, imports).
    pub(super) fn of(e: &OutboxEvent, topic: &str) -> Option<SendSpan> {
        let parent = TraceParent::parse(e.traceparent.as_deref()?)?;
        Some(SendSpan {
            id: parent.child(),
            parent,
            start: SystemTime::now(),
            topic: telemetry::enabled().then(|| topic.to_string()),
        })
    }

    /// The record's `traceparent` header.
    pub(super) fn header(&self) -> String {
        self.id.header()
    }

    /// Records the send once the broker answered: where the record landed, or why not.
    pub(super) fn finish(self, e: &OutboxEvent, landed: Result<(i32, i64), &str>) {
        let Some(topic) = self.topic else {
            return;
        };
        let mut attributes = vec![
            Attr::new("messaging.system", "kafka"),
            Attr::new("messaging.operation.type", "send"),
            Attr::new("messaging.operation.name", "send"),
            Attr::new("messaging.destination.name", topic.clone()),
            Attr::new("messaging.kafka.message.key", e.msg_key.clone()),
        ];
        if let Ok((partition, offset)) = landed {
            attributes.push(Attr::new(
                "messaging.destination.partition.id",
                partition.to_string(),
            ));
            attributes.push(Attr::new("messaging.kafka.offset", offset));
        }
        telemetry::record(SpanRecord {
            name: format!("send {topic}"),
            kind: Kind::Producer,
            id: self.id,
            parent: Some(self.parent),
            start: self.start,
            end: SystemTime::now(),
            attributes,
            error: landed.err().map(str::to_string),
        });
    }
}
