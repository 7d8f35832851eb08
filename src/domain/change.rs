//! Catalogue changes: what happened to a product, and which version of it is current.

use std::fmt;

use chrono::{DateTime, Utc};

/// What an event says about its product; the topic's `event` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Created,
    Updated,
    /// A tombstone: published with a null value.
    Deleted,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Updated => "updated",
            EventKind::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        match s {
            "created" => Some(EventKind::Created),
            "updated" => Some(EventKind::Updated),
            "deleted" => Some(EventKind::Deleted),
            _ => None,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kafka header names of every event.
pub const HEADER_EVENT: &str = "event";
pub const HEADER_VERSION: &str = "version";
/// The outbox id of the event: one per event, the same on a record sent twice, so a consumer
/// (and `dataflow verify`) can tell a second copy from a new event.
pub const HEADER_EVENT_ID: &str = "event-id";

/// Which version of a product this is (1 when created, +1 per change) and who made it so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub version: i64,
    /// Unknown for products registered before versions existed.
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Default for Revision {
    fn default() -> Self {
        Revision {
            version: 1,
            created_by: None,
            updated_by: None,
            updated_at: None,
        }
    }
}

impl Revision {
    pub fn created_by(user: Option<&str>) -> Revision {
        Revision {
            created_by: user.map(str::to_string),
            ..Revision::default()
        }
    }
}
