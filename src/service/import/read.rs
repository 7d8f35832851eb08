//! Reading an import file row by row, in constant memory: CSV with a header row, or JSON Lines in
//! the register body's shape. Each row is validated with the form's rules and keyed for
//! duplicates; bad rows keep their raw text for the rejects file.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::bounded::{Guarded, Line, MAX_ROW, read_line};
use crate::domain::{FieldError, NewProduct, ProductDraft, product_from_json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    /// From the file's extension: `.csv`, or `.jsonl` / `.ndjson` / `.json`.
    pub fn of_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// One row's problem, as `line N: FIELD: reason` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub reason: String,
}

impl Problem {
    /// `line N: FIELD: reason`, the line every front end prints for a rejected row.
    pub fn at(&self, line: u64) -> String {
        format!("line {line}: {}: {}", self.field, self.reason)
    }
}

/// A row as read: valid (with its duplicate key) or not, and its raw form for the rejects file.
#[derive(Debug)]
pub struct Row {
    pub line: u64,
    pub parsed: Result<(NewProduct, String), Vec<Problem>>,
    pub raw: Raw,
}

#[derive(Debug)]
pub enum Raw {
    Csv(csv::ByteRecord),
    /// The line as it was (not UTF-8 perhaps); empty for a line too long to keep.
    Json(Vec<u8>),
}

/// The CSV columns, by position in the header.
pub(super) struct Columns {
    name: usize,
    /// Optional: a file without it imports empty descriptions.
    description: Option<usize>,
    category: usize,
    amount: (usize, String),
    currency: usize,
    quantity: usize,
    external_id: Option<usize>,
}

pub enum Reader {
    Csv {
        reader: csv::Reader<Guarded<File>>,
        /// Bytes read since the last record (the guard's count).
        since: Arc<AtomicU64>,
        columns: Box<Columns>,
        headers: csv::ByteRecord,
        record: csv::ByteRecord,
    },
    Jsonl {
        reader: BufReader<File>,
        line: u64,
        bytes: u64,
    },
}

/// The duplicate key of a valid row: its external id, else a hash of its content (amounts in
/// their normal form, so `59.9` and `59.90` are the same product).
fn key_of(p: &NewProduct, external_id: Option<&str>) -> String {
    if let Some(id) = external_id.map(str::trim).filter(|s| !s.is_empty()) {
        return format!("ext:{id}");
    }
    let mut h = Sha256::new();
    for part in [
        p.name.as_str(),
        p.description.as_str(),
        p.category.as_str(),
        &p.amount.to_string(),
        p.currency.code(),
        &p.quantity.to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    // The first 128 bits: collisions stay out of reach (about 1 in 10^20 at a billion rows)
    // and the unique index is half the size, which is most of SQLite's import time.
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn problems(errs: Vec<FieldError>, rename: impl Fn(&str) -> String) -> Vec<Problem> {
    errs.into_iter()
        .map(|e| Problem {
            field: rename(e.field),
            reason: e.message,
        })
        .collect()
}

impl Reader {
    /// Opens `path`; a missing column or an unreadable file is an error for the whole import.
    pub fn open(path: &Path, format: Format) -> Result<Reader, String> {
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        match format {
            Format::Jsonl => Ok(Reader::Jsonl {
                reader: BufReader::with_capacity(1 << 16, file),
                line: 0,
                bytes: 0,
            }),
            Format::Csv => {
                let (guarded, since) = Guarded::new(file);
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(true)
                    .from_reader(guarded);
                let headers = reader
                    .byte_headers()
                    .map_err(|e| format!("{}: {e}", path.display()))?
                    .clone();
                let columns = columns(&headers).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(Reader::Csv {
                    reader,
                    since,
                    columns: Box::new(columns),
                    headers,
                    record: csv::ByteRecord::new(),
                })
            }
        }
    }

    /// The header row of a CSV file (written first in its rejects file).
    pub fn csv_headers(&self) -> Option<&csv::ByteRecord> {
        match self {
            Reader::Csv { headers, .. } => Some(headers),
            Reader::Jsonl { .. } => None,
        }
    }

    /// Bytes read so far, for progress.
    pub fn position(&self) -> u64 {
        match self {
            Reader::Csv { reader, .. } => reader.position().byte(),
            Reader::Jsonl { bytes, .. } => *bytes,
        }
    }

    /// The next row; None at the end; Err when the file cannot be read further.
    pub fn next_row(&mut self) -> Option<Result<Row, String>> {
        match self {
            Reader::Jsonl {
                reader,
                line,
                bytes,
            } => loop {
                let bytes_of_line = match read_line(reader) {
                    Ok((Line::Eof, _)) => return None,
                    Ok((l, n)) => {
                        *line += 1;
                        *bytes += n;
                        l
                    }
                    Err(e) => return Some(Err(format!("line {}: {e}", *line + 1))),
                };
                let reject = |reason: String, raw: Vec<u8>| Row {
                    line: *line,
                    parsed: Err(vec![Problem {
                        field: "line".into(),
                        reason,
                    }]),
                    raw: Raw::Json(raw),
                };
                let raw = match bytes_of_line {
                    Line::Bytes(b) => b,
                    _ => {
                        let why = format!("is longer than {} KiB", MAX_ROW / 1024);
                        return Some(Ok(reject(why, Vec::new())));
                    }
                };
                let text = match std::str::from_utf8(&raw) {
                    Ok(t) => t,
                    Err(_) => {
                        let kept = raw.strip_suffix(b"\n").unwrap_or(&raw).to_vec();
                        return Some(Ok(reject("is not UTF-8".into(), kept)));
                    }
                };
                let trimmed = text.trim_end_matches(['\n', '\r']);
                if trimmed.trim().is_empty() {
                    continue;
                }
                let parsed = match serde_json::from_str::<serde_json::Value>(trimmed) {
                    Err(e) => Err(vec![Problem {
                        field: "line".into(),
                        reason: format!("is not JSON: {e}"),
                    }]),
                    Ok(v) => {
                        let ext = v.get("external_id").and_then(|x| match x {
                            serde_json::Value::String(s) => Some(s.clone()),
                            serde_json::Value::Number(n) => Some(n.to_string()),
                            _ => None,
                        });
                        product_from_json(&v)
                            .map(|p| {
                                let key = key_of(&p, ext.as_deref());
                                (p, key)
                            })
                            .map_err(|e| problems(e, str::to_string))
                    }
                };
                return Some(Ok(Row {
                    line: *line,
                    parsed,
                    raw: Raw::Json(trimmed.as_bytes().to_vec()),
                }));
            },
            Reader::Csv {
                reader,
                since,
                columns,
                headers,
                record,
            } => {
                // Where this row starts: the reader stops further on when a row is too long.
                let at = reader.position().line();
                let read = reader.read_byte_record(record);
                since.store(0, Ordering::Relaxed);
                match read {
                    Ok(false) => return None,
                    Ok(true) => {}
                    Err(e) => return Some(Err(format!("line {at}: {e}"))),
                }
                let line = record.position().map_or(0, |p| p.line());
                let parsed = if record.len() != headers.len() {
                    Err(vec![Problem {
                        field: "row".into(),
                        reason: format!(
                            "has {} field{}, the header has {}",
                            record.len(),
                            if record.len() == 1 { "" } else { "s" },
                            headers.len()
                        ),
                    }])
                } else {
                    csv_product(record, columns)
                };
                Some(Ok(Row {
                    line,
                    parsed,
                    raw: Raw::Csv(record.clone()),
                }))
            }
        }
    }
}

fn columns(headers: &csv::ByteRecord) -> Result<Columns, String> {
    let names: Vec<String> = headers
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim()
                .trim_start_matches('\u{feff}')
                .to_ascii_lowercase()
        })
        .collect();
    let find = |want: &str| names.iter().position(|n| n == want);
    let need = |want: &str| find(want).ok_or_else(|| format!("missing column '{want}'"));
    let (name, description, category) = (need("name")?, find("description"), need("category")?);
    let amount = match (find("amount"), find("ammount")) {
        (Some(i), _) => (i, "amount".to_string()),
        (None, Some(i)) => (i, "ammount".to_string()),
        (None, None) => return Err("missing column 'amount' (or 'ammount')".into()),
    };
    Ok(Columns {
        name,
        description,
        category,
        amount,
        currency: need("currency")?,
        quantity: need("quantity")?,
        external_id: find("external_id"),
    })
}

fn csv_product(
    record: &csv::ByteRecord,
    c: &Columns,
) -> Result<(NewProduct, String), Vec<Problem>> {
    let mut bad = Vec::new();
    let mut field = |i: usize, name: &str| match std::str::from_utf8(&record[i]) {
        Ok(s) => s.to_string(),
        Err(_) => {
            bad.push(Problem {
                field: name.to_string(),
                reason: "is not UTF-8".into(),
            });
            String::new()
        }
    };
    let draft = ProductDraft {
        name: field(c.name, "name"),
        description: c
            .description
            .map(|i| field(i, "description"))
            .unwrap_or_default(),
        category: field(c.category, "category"),
        amount: field(c.amount.0, &c.amount.1).trim().to_string(),
        currency: field(c.currency, "currency").trim().to_string(),
        quantity: field(c.quantity, "quantity").trim().to_string(),
    };
    let ext = c.external_id.map(|i| field(i, "external_id"));
    if !bad.is_empty() {
        return Err(bad);
    }
    let column = |f: &str| match f {
        "pricing.ammount" => c.amount.1.clone(),
        "pricing.currency" => "currency".to_string(),
        "availability.quantity" => "quantity".to_string(),
        other => other.to_string(),
    };
    draft
        .validate()
        .map(|p| {
            let key = key_of(&p, ext.as_deref());
            (p, key)
        })
        .map_err(|e| problems(e.0, column))
}
