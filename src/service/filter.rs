//! Which topic messages a filter keeps, as the topic pane's `/` and `dataflow tail` take it:
//! plain text matches the key or the value; `field=value` a top-level JSON field of the value;
//! `p=N` partition N.

use crate::kafka::TailMessage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageFilter {
    Text(String),
    Field { name: String, value: String },
    Partition(i32),
}

impl MessageFilter {
    /// Why a filter as typed cannot mean anything (`p=` without a partition number).
    pub fn problem(text: &str) -> Option<String> {
        let (k, v) = text.trim().split_once('=')?;
        (k.trim() == "p" && v.trim().parse::<u32>().is_err())
            .then(|| format!("p= takes a partition number (0, 1, …), not '{}'", v.trim()))
    }

    /// None for an empty filter (keeps everything).
    pub fn parse(text: &str) -> Option<MessageFilter> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        if let Some((k, v)) = t.split_once('=') {
            let (k, v) = (k.trim(), v.trim());
            if k == "p"
                && let Ok(p) = v.parse::<i32>()
            {
                return Some(MessageFilter::Partition(p));
            }
            if !k.is_empty() && !k.contains(char::is_whitespace) {
                return Some(MessageFilter::Field {
                    name: k.to_string(),
                    value: v.to_string(),
                });
            }
        }
        Some(MessageFilter::Text(t.to_lowercase()))
    }

    pub fn matches(&self, m: &TailMessage) -> bool {
        match self {
            MessageFilter::Partition(p) => m.partition == *p,
            MessageFilter::Text(t) => {
                m.key
                    .as_deref()
                    .is_some_and(|k| k.to_lowercase().contains(t))
                    || String::from_utf8_lossy(m.bytes())
                        .to_lowercase()
                        .contains(t)
            }
            MessageFilter::Field { name, value } => match m.value().get(name) {
                Some(serde_json::Value::String(s)) => s == value,
                Some(serde_json::Value::Null) | None => false,
                Some(other) => {
                    serde_json::from_str::<serde_json::Value>(value)
                        .ok()
                        .as_ref()
                        == Some(other)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(key: &str, value: &str, partition: i32) -> TailMessage {
        TailMessage {
            partition,
            offset: 0,
            key: Some(key.into()),
            timestamp_ms: None,
            payload: Some(value.as_bytes().to_vec()),
            headers: Vec::new(),
        }
    }

    #[test]
    fn text_fields_and_partitions() {
        let m = msg("42", r#"{"id":42,"category":"Cozinha","name":"Panela"}"#, 1);
        let keeps = |f: &str| MessageFilter::parse(f).unwrap().matches(&m);
        assert!(keeps("panela"), "text in the value, any case");
        assert!(keeps("42"), "the key");
        assert!(keeps("category=Cozinha"));
        assert!(!keeps("category=cozinha"), "a field's value is exact");
        assert!(keeps("id=42"));
        assert!(!keeps("id=4"));
        assert!(keeps("p=1"));
        assert!(!keeps("p=0"));
        assert!(!keeps("nothing"));
        assert_eq!(MessageFilter::parse("  "), None);
    }
}
