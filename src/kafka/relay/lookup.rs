//! Before an event of unknown fate is sent again (its holder lapsed or died, or its own send
//! failed), the relay looks for it on the topic from a little before its commit, matching by
//! `event-id` (by key and `version` for records without it), and marks it where it is found
//! instead of publishing it twice.

use std::collections::HashMap;

use super::*;
use crate::domain::{HEADER_EVENT_ID, HEADER_VERSION};

/// How far before the oldest commit the look starts: the producer stamps a record when it
/// is sent, after the commit, but clocks of two hosts differ.
const SKEW_MS: i64 = 30_000;

impl Relay {
    /// Splits `batch` into the events already on the topic (as acknowledgements, for the
    /// marker) and those to send. Events of known fate are never looked for; when the topic
    /// cannot be read, all are sent (at least once still holds).
    pub(super) async fn found_on_topic(&self, batch: Vec<Handoff>) -> (Vec<Acked>, Vec<Handoff>) {
        let now_ms = chrono::Utc::now().timestamp_millis();
        // Claimed events carry their commit time; this process's own, when it committed.
        let committed = |h: &Handoff| {
            h.event.created_ms.or_else(|| {
                h.committed
                    .map(|c| now_ms - i64::try_from(c.elapsed().as_millis()).unwrap_or(i64::MAX))
            })
        };
        let Some(since) = batch
            .iter()
            .filter(|h| h.event.uncertain)
            .map(|h| committed(h).unwrap_or(now_ms - 3_600_000))
            .min()
        else {
            return (Vec::new(), batch);
        };
        let wanted: Vec<&crate::store::OutboxEvent> = batch
            .iter()
            .filter(|h| h.event.uncertain)
            .map(|h| &h.event)
            .collect();
        // Bounded well inside the lease the claim just took (nothing renews it meanwhile), so
        // what is sent after the look is still this relay's to send.
        let limit = self.opts.lease / 3;
        let look = tokio::time::timeout(limit, find(&self.cfg, since - SKEW_MS, &wanted));
        let found = match look.await.unwrap_or_else(|_| {
            Err(crate::kafka::KafkaError::Other(format!(
                "the look took longer than {} s",
                limit.as_secs()
            )))
        }) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for events on the topic; sending them again");
                HashMap::new()
            }
        };
        if !found.is_empty() {
            tracing::info!(
                found = found.len(),
                looked = wanted.len(),
                "events of unknown fate already on the topic: marked, not sent again"
            );
        }
        let (mut acked, mut send) = (Vec::new(), Vec::new());
        for h in batch {
            match found.get(&h.event.id) {
                Some((partition, offset)) => acked.push(Acked {
                    partition: *partition,
                    offset: *offset,
                    handoff: h,
                }),
                None => send.push(h),
            }
        }
        (acked, send)
    }
}

/// Where each of `events` is on the topic, read from `since_ms` to the end.
async fn find(
    cfg: &KafkaConfig,
    since_ms: i64,
    events: &[&crate::store::OutboxEvent],
) -> Result<HashMap<i64, (i32, i64)>, crate::kafka::KafkaError> {
    let by_id: HashMap<i64, (&str, i64)> = events
        .iter()
        .map(|e| (e.id, (e.msg_key.as_str(), e.version)))
        .collect();
    let by_version: HashMap<(&str, i64), i64> = events
        .iter()
        .map(|e| ((e.msg_key.as_str(), e.version), e.id))
        .collect();
    let mut found = HashMap::new();
    crate::kafka::resend::scan_since(cfg, since_ms, |m| {
        let num = |name: &str| m.header(name).and_then(|v| v.trim().parse::<i64>().ok());
        // The id, and the key and version with it: another database's outbox may number its
        // events the same.
        let id = match num(HEADER_EVENT_ID) {
            Some(id) => by_id
                .get(&id)
                .is_some_and(|(k, v)| {
                    m.key.as_deref() == Some(*k) && num(HEADER_VERSION) == Some(*v)
                })
                .then_some(id),
            None => match (m.key.as_deref(), num(HEADER_VERSION)) {
                (Some(k), Some(v)) => by_version.get(&(k, v)).copied(),
                _ => None,
            },
        };
        if let Some(id) = id {
            found.entry(id).or_insert((m.partition, m.offset));
        }
        found.len() == by_id.len()
    })
    .await?;
    Ok(found)
}
