//! Records the broker (or the client, before sending) refuses for good: too large for its
//! `message.max.bytes`, refused by a schema or a policy. Such an event holds back only its own
//! product (a product's later events wait for it in the outbox): it stays pending with the
//! reason, is tried again now and then (the broker's settings may change), and neither stops
//! the relay nor marks the broker down.

use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode as Code;

use super::handoff::Handoff;

/// The prefix of `last_error` for these events: status displays count them by it.
pub const REFUSED: &str = "refused by the broker: ";
/// How long a refused event waits before it is sent again.
const RETRY: Duration = Duration::from_secs(60);

/// True for an error that sending the same record again cannot cure.
pub(super) fn is_permanent(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            Code::MessageSizeTooLarge
                | Code::InvalidRecord
                | Code::InvalidMessageSize
                | Code::InvalidMessage
                | Code::PolicyViolation
        )
    )
}

#[derive(Default)]
pub(super) struct Refused {
    waiting: Vec<(Instant, Handoff)>,
}

impl Refused {
    pub(super) fn add(&mut self, h: Handoff) {
        self.waiting.push((Instant::now(), h));
    }

    /// Those whose wait is over, to be sent again.
    pub(super) fn due(&mut self) -> Vec<Handoff> {
        let (due, wait): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(t, _)| t.elapsed() >= RETRY);
        self.waiting = wait;
        due.into_iter().map(|(_, h)| h).collect()
    }
}
