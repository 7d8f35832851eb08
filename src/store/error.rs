//! What went wrong in the database, classified once, with the driver's error kept as source.

use std::sync::Arc;

use sqlx::error::ErrorKind;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or stopped answering: worth retrying later.
    #[error("database unavailable: {reason}")]
    Unavailable {
        reason: String,
        #[source]
        source: Option<Arc<sqlx::Error>>,
    },
    /// The connection was lost after the batch `token` was sent to be committed: it may have
    /// committed or not. `Store::settle` finds out.
    #[error("database unavailable during the commit: {reason}")]
    Unsettled { reason: String, token: i64 },
    /// A row broke a CHECK or NOT NULL rule of the schema: the field it concerns.
    #[error("{field}: refused by the database ({constraint})")]
    Constraint {
        field: &'static str,
        constraint: String,
        #[source]
        source: Arc<sqlx::Error>,
    },
    /// A unique key is already taken.
    #[error("already exists ({constraint})")]
    Conflict {
        constraint: String,
        #[source]
        source: Arc<sqlx::Error>,
    },
    #[error("database error")]
    Query(#[source] Arc<sqlx::Error>),
    /// Not from the driver: a broken invariant or a local resource.
    #[error("{0}")]
    Internal(String),
}

impl StoreError {
    pub fn unavailable(reason: impl Into<String>) -> StoreError {
        StoreError::Unavailable {
            reason: reason.into(),
            source: None,
        }
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable { .. } | StoreError::Unsettled { .. }
        )
    }
}

/// The request field a schema rule is about, from the constraint's name (PostgreSQL:
/// `tb_pricing_ammount_check`) or its text (SQLite: `CHECK constraint failed: ammount ...`).
fn field_of(text: &str) -> &'static str {
    const FIELDS: [(&str, &str); 6] = [
        ("ammount", "pricing.ammount"),
        ("currency", "pricing.currency"),
        ("quantity", "availability.quantity"),
        ("description", "description"),
        ("category", "category"),
        ("name", "name"),
    ];
    FIELDS
        .iter()
        .find(|(column, _)| text.contains(column))
        .map_or("product", |(_, field)| field)
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let unavailable = match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            // Connection exceptions, insufficient resources, server shutting down.
            sqlx::Error::Database(d) => d.code().is_some_and(|c| {
                c.starts_with("08") || c.starts_with("53") || c.starts_with("57P")
            }),
            _ => false,
        };
        if unavailable {
            return StoreError::Unavailable {
                reason: e.to_string(),
                source: Some(Arc::new(e)),
            };
        }
        let (kind, constraint) = match &e {
            sqlx::Error::Database(d) => (
                Some(d.kind()),
                d.constraint()
                    .map(str::to_string)
                    .unwrap_or_else(|| d.message().to_string()),
            ),
            _ => (None, String::new()),
        };
        match kind {
            Some(ErrorKind::CheckViolation | ErrorKind::NotNullViolation) => {
                StoreError::Constraint {
                    field: field_of(&constraint),
                    constraint,
                    source: Arc::new(e),
                }
            }
            Some(ErrorKind::UniqueViolation) => StoreError::Conflict {
                constraint,
                source: Arc::new(e),
            },
            _ => StoreError::Query(Arc::new(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn constraints_name_their_field() {
        assert_eq!(field_of("tb_pricing_ammount_check"), "pricing.ammount");
        assert_eq!(
            field_of("CHECK constraint failed: length(name) BETWEEN 1 AND 200"),
            "name"
        );
        assert_eq!(
            field_of("tb_availability_quantity_check"),
            "availability.quantity"
        );
        assert_eq!(field_of("something else"), "product");
    }
}
