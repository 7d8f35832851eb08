//! librdkafka's own logging mapped onto ours at the level an operator should hear it: the end
//! of a partition, connections refused while a reader is closed or while the broker is away
//! (the producer's health says that once), and client chatter go below INFO, so a real
//! error is not lost among them.

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

/// The context of every reader, probe and admin client.
pub struct Quiet;

/// Transport failures: the broker is away or the client is being closed.
fn transport(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::BrokerDestroy
        )
    )
}

/// A client error at its level: the end of a partition is normal, a transport failure is
/// the broker's health (reported once by the producer), anything else a warning.
pub fn log_error(error: &KafkaError, reason: &str) {
    if matches!(error, KafkaError::PartitionEOF(_)) {
        tracing::trace!(%error, "librdkafka: end of partition");
    } else if transport(error) {
        tracing::debug!(%error, reason, "librdkafka: transport");
    } else {
        tracing::warn!(%error, reason, "kafka client error");
    }
}

/// A librdkafka log line at its level; connection failures (facility FAIL) below INFO.
pub fn log_line(level: RDKafkaLogLevel, fac: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
            tracing::error!(target: "librdkafka", fac, "{message}")
        }
        RDKafkaLogLevel::Error | RDKafkaLogLevel::Warning if fac != "FAIL" => {
            tracing::warn!(target: "librdkafka", fac, "{message}")
        }
        RDKafkaLogLevel::Debug => tracing::trace!(target: "librdkafka", fac, "{message}"),
        _ => tracing::debug!(target: "librdkafka", fac, "{message}"),
    }
}

impl ClientContext for Quiet {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log_line(level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        log_error(&error, reason);
    }
}

impl ConsumerContext for Quiet {}

impl rdkafka::producer::ProducerContext for Quiet {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_partition_and_transport_are_not_warnings() {
        assert!(transport(&KafkaError::MessageConsumption(
            RDKafkaErrorCode::AllBrokersDown
        )));
        assert!(!transport(&KafkaError::PartitionEOF(0)));
        assert!(!transport(&KafkaError::MessageConsumption(
            RDKafkaErrorCode::TopicAuthorizationFailed
        )));
    }
}
