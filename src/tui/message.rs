//! How a topic message reads: a one-line summary for the tail, and the whole message (headers
//! included) for its detail window. Untrusted text is made printable first.

use chrono_tz::Tz;
use ratatui::text::Line;
use serde_json::Value;

use super::text::{clip, printable};
use crate::domain::{EventKind, HEADER_EVENT};
use crate::service::TailMessage;

/// One line for a message: a product's main fields, or the start of any other payload.
/// One line of the message; a message that is not a product event as the published schema
/// describes it (another producer's) is marked, never hidden.
pub fn summary(m: &TailMessage) -> String {
    let line = describe(m);
    if is_product_event(m) {
        line
    } else {
        format!("≠ schema · {line}")
    }
}

/// A product event as published: a product's JSON, or a tombstone saying `deleted`.
fn is_product_event(m: &TailMessage) -> bool {
    match &m.payload {
        Some(p) => crate::domain::matches_schema(p),
        None => m.header(HEADER_EVENT) == Some(EventKind::Deleted.as_str()),
    }
}

/// The `event` header; messages from before headers existed were creations.
pub fn event_of(m: &TailMessage) -> &str {
    match m.header(HEADER_EVENT) {
        Some(e) => e,
        None if m.payload.is_none() => "∅",
        None => "",
    }
}

fn describe(m: &TailMessage) -> String {
    if m.payload.is_none() {
        return "tombstone (null value): the product was deleted".into();
    }
    match serde_json::from_slice::<Value>(m.bytes()) {
        Ok(v) if v.get("pricing").is_some() && v.get("name").is_some() => {
            let s = |p: &Value| match p {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            printable(&format!(
                "{} · {} · {} {} · qty {}",
                s(&v["name"]),
                s(&v["category"]),
                // As the table shows it (`1000.00`), however the producer wrote the number.
                s(&v["pricing"]["amount"])
                    .parse::<crate::domain::Amount>()
                    .map_or_else(|_| s(&v["pricing"]["amount"]), |a| a.to_string()),
                s(&v["pricing"]["currency"]),
                s(&v["availability"]["quantity"])
            ))
        }
        Ok(v) => printable(&clip(&v.to_string(), 200)),
        Err(_) => format!(
            "(not JSON) {}",
            printable(&clip(&String::from_utf8_lossy(m.bytes()), 200))
        ),
    }
}

/// The message in full: JSON pretty-printed, anything else as text.
pub fn detail_lines(m: &TailMessage, tz: Tz) -> Vec<Line<'static>> {
    let time = m
        .timestamp_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.with_timezone(&tz).to_rfc3339())
        .unwrap_or_else(|| "none".into());
    let mut lines = vec![
        Line::from(format!(
            "partition {} · offset {} · key {}",
            m.partition,
            m.offset,
            printable(m.key.as_deref().unwrap_or("(none)"))
        )),
        Line::from(format!("timestamp {time}")),
    ];
    if let Some(id) = m
        .header(crate::domain::HEADER_TRACEPARENT)
        .and_then(crate::domain::trace_id_of)
    {
        lines.push(Line::from(format!("trace id {id}")));
    }
    for (k, v) in &m.headers {
        lines.push(Line::from(format!(
            "header {}: {}",
            printable(k),
            printable(v)
        )));
    }
    lines.push(Line::from(""));
    let body = match (&m.payload, serde_json::from_slice::<Value>(m.bytes())) {
        (None, _) => "null (tombstone)".to_string(),
        (Some(_), Ok(v)) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        (Some(p), Err(_)) => String::from_utf8_lossy(p).into_owned(),
    };
    lines.extend(body.lines().map(|l| Line::from(printable(l))));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_the_table_shows_them() {
        let m = TailMessage {
            partition: 0,
            offset: 0,
            key: Some("1".into()),
            timestamp_ms: None,
            payload: Some(
                br#"{"id":1,"name":"Mesa","description":"","category":"Casa","pricing":{"amount":1000.0,"currency":"BRL"},"availability":{"quantity":1,"timestamp":"2026-01-01T00:00:00Z"}}"#
                    .to_vec(),
            ),
            headers: vec![],
        };
        assert!(describe(&m).contains("1000.00 BRL"), "{}", describe(&m));
    }
}
