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
}
