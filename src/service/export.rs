//! Export: every product (or those matching the table's filter), oldest first, page by page by
//! key, so memory stays constant whatever the table's size. CSV has import's columns plus `id`
//! and `timestamp`; JSON Lines has the register body's shape plus `id` and the timestamp.

use std::io::Write;

use chrono::SecondsFormat;
use serde_json::json;

use super::ServiceError;
use crate::config::Settings;
use crate::domain::AuditAction;
use crate::domain::Product;
use crate::store::{Order, ProductQuery, Store};

const PAGE: i64 = 1000;

/// Export writes the formats import reads.
pub type ExportFormat = super::Format;

pub const CSV_COLUMNS: [&str; 8] = [
    "id",
    "name",
    "description",
    "category",
    "amount",
    "currency",
    "quantity",
    "timestamp",
];

/// Connects and migrates, without a broker: what export needs.
pub async fn open_store(settings: &Settings) -> Result<Store, ServiceError> {
    let store = Store::connect(&settings.database).await?;
    store.migrate().await?;
    Ok(store)
}

fn io(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("writing the export: {e}"))
}

/// The product's timestamp as export writes it, in this time zone.
fn stamp(p: &Product, tz: chrono_tz::Tz) -> String {
    p.timestamp
        .with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// A product as one JSON Lines row of the export (the register body plus `id` and time).
pub fn product_json(p: &Product, tz: chrono_tz::Tz) -> serde_json::Value {
    jsonl(p, &stamp(p, tz))
}

fn jsonl(p: &Product, ts: &str) -> serde_json::Value {
    json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "category": p.category,
        "pricing": {"ammount": p.amount.to_json_number(), "currency": p.currency},
        "availability": {"quantity": p.quantity, "timestamp": ts},
    })
}

/// Writes the products to `out` (`target` names it in the audit trail, which records the
/// export as `by`'s); returns how many.
pub async fn export<W: Write>(
    store: &Store,
    settings: &Settings,
    by: &super::Actor,
    target: &str,
    format: ExportFormat,
    filter: Option<&str>,
    out: W,
) -> Result<u64, ServiceError> {
    let result = export_to(store, settings, format, filter, out).await;
    let entry = by.entry(AuditAction::Export, target);
    let filtered = filter
        .map(|f| format!(", filter {f:?}"))
        .unwrap_or_default();
    let entry = match &result {
        Ok(n) => entry.detail(format!("{n} products{filtered}")),
        Err(e) => entry.outcome("failed").detail(e.to_string()),
    };
    super::audit::write(store, &entry).await;
    result
}

async fn export_to<W: Write>(
    store: &Store,
    settings: &Settings,
    format: ExportFormat,
    filter: Option<&str>,
    out: W,
) -> Result<u64, ServiceError> {
    let mut csv_out = None;
    let mut json_out = None;
    match format {
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(CSV_COLUMNS).map_err(io)?;
            csv_out = Some(w);
        }
        ExportFormat::Jsonl => json_out = Some(out),
    }
    // Paging by id alone would skip a row committed mid-export below the cursor (ids are
    // drawn before commit on PostgreSQL); the snapshot holds the table still.
    let mut snapshot = store.snapshot().await?;
    let mut cursor = None;
    let mut n = 0u64;
    loop {
        let page = snapshot
            .products(&ProductQuery {
                order: Order::Ascending,
                cursor,
                limit: PAGE,
                filter: filter.map(str::to_string),
            })
            .await?;
        for p in &page {
            let ts = stamp(p, settings.timezone);
            if let Some(w) = csv_out.as_mut() {
                w.write_record([
                    p.id.to_string().as_str(),
                    &p.name,
                    &p.description,
                    &p.category,
                    &p.amount.to_string(),
                    &p.currency,
                    &p.quantity.to_string(),
                    &ts,
                ])
                .map_err(io)?;
            }
            if let Some(w) = json_out.as_mut() {
                serde_json::to_writer(&mut *w, &jsonl(p, &ts)).map_err(io)?;
                w.write_all(b"\n").map_err(io)?;
            }
        }
        n += page.len() as u64;
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => cursor = Some(last.id),
            _ => break,
        }
    }
    if let Some(mut w) = csv_out {
        w.flush().map_err(io)?;
    }
    if let Some(mut w) = json_out {
        w.flush().map_err(io)?;
    }
    Ok(n)
}

impl super::Service {
    /// Exports to `out` with this service's store and time zone.
    pub async fn export<W: Write>(
        &self,
        by: &super::Actor,
        target: &str,
        format: ExportFormat,
        filter: Option<&str>,
        out: W,
    ) -> Result<u64, ServiceError> {
        let (store, settings) = (&self.inner.store, &self.inner.settings);
        export(store, settings, by, target, format, filter, out).await
    }
}
