//! The Kafka message of a registered product: the original's JSON, field for field.

use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};

use super::Product;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductMessage {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub pricing: MessagePricing,
    pub availability: MessageAvailability,
    pub category: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagePricing {
    pub amount: serde_json::Number,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageAvailability {
    pub quantity: i64,
    /// An RFC 3339 instant in UTC (the original labelled local time with `Z`).
    pub timestamp: String,
}

impl ProductMessage {
    pub fn of(p: &Product) -> Self {
        ProductMessage {
            id: p.id,
            name: p.name.clone(),
            description: p.description.clone(),
            pricing: MessagePricing {
                amount: p.amount.to_json_number(),
                currency: p.currency.clone(),
            },
            availability: MessageAvailability {
                quantity: i64::from(p.quantity),
                timestamp: p.timestamp.to_rfc3339_opts(SecondsFormat::Micros, true),
            },
            category: p.category.clone(),
        }
    }

    pub fn key(&self) -> String {
        self.id.to_string()
    }

    pub fn to_json(&self) -> String {
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The JSON that follows the id: `{"id":` + id + this is `to_json()`. Lets the database
    /// write the message in the same statement that assigns the id.
    pub fn json_after_id(&self) -> String {
        let json = ProductMessage {
            id: 0,
            ..self.clone()
        }
        .to_json();
        json.strip_prefix(ID_PREFIX)
            .and_then(|rest| rest.strip_prefix('0'))
            .map(str::to_string)
            .unwrap_or_default()
    }
}

/// The published JSON Schema of the topic's messages (`dataflow schema` prints it).
pub const SCHEMA: &str = include_str!("../../assets/product-event.schema.json");

/// True when `payload` is a product event as the schema describes it: exactly its fields,
/// each within its rules. Messages from other producers may be anything; this tells them apart.
pub fn matches_schema(payload: &[u8]) -> bool {
    use serde_json::Value;
    let Ok(Value::Object(v)) = serde_json::from_slice::<Value>(payload) else {
        return false;
    };
    let keys = |o: &serde_json::Map<String, Value>, want: &[&str]| {
        o.len() == want.len() && want.iter().all(|k| o.contains_key(*k))
    };
    let text = |v: &Value, min: usize, max: usize| {
        v.as_str()
            .is_some_and(|s| (min..=max).contains(&s.chars().count()))
    };
    let (Some(Value::Object(pricing)), Some(Value::Object(avail))) =
        (v.get("pricing"), v.get("availability"))
    else {
        return false;
    };
    keys(
        &v,
        &[
            "id",
            "name",
            "description",
            "pricing",
            "availability",
            "category",
        ],
    ) && v["id"].as_i64().is_some_and(|id| id >= 1)
        && text(&v["name"], 1, 200)
        && text(&v["description"], 0, 2000)
        && text(&v["category"], 1, 100)
        && keys(pricing, &["amount", "currency"])
        && pricing["amount"]
            .as_f64()
            .is_some_and(|a| (0.0..1e12).contains(&a))
        && pricing["currency"]
            .as_str()
            .is_some_and(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        && keys(avail, &["quantity", "timestamp"])
        && avail["quantity"]
            .as_i64()
            .is_some_and(|q| (0..=i64::from(i32::MAX)).contains(&q))
        && avail["timestamp"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
}

/// How every message starts; the id follows.
pub const ID_PREFIX: &str = "{\"id\":";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Amount, PublishState};

    #[test]
    fn id_prefix_and_rest_make_the_message() {
        let p = Product {
            id: 1234567,
            name: "Blusa \"azul\"".into(),
            description: "com touca".into(),
            category: "Vestuário".into(),
            pricing_id: 1,
            amount: "59.99".parse::<Amount>().unwrap(),
            currency: "BRL".into(),
            availability_id: 1,
            quantity: 5,
            timestamp: chrono::Utc::now(),
            publish: PublishState::Pending,
            revision: Default::default(),
        };
        let m = ProductMessage::of(&p);
        assert_eq!(
            format!("{ID_PREFIX}{}{}", p.id, m.json_after_id()),
            m.to_json()
        );
        assert!(matches_schema(m.to_json().as_bytes()));
        assert!(!matches_schema(br#"{"hello": 1}"#));
        assert!(!matches_schema(b"not json"));
        let extra = m.to_json().replacen('{', r#"{"extra":1,"#, 1);
        assert!(!matches_schema(extra.as_bytes()), "no other fields");
    }
}
