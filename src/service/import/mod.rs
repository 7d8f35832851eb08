//! Import: a file of products through the same group-commit write path and outbox as any
//! registration. Rows are read on a thread of their own and fed with a bounded number of writes
//! in flight, so memory stays constant whatever the file's size. A row whose duplicate key
//! (`import_key`) is already taken counts as a duplicate: re-running an import adds nothing.

mod bounded;
mod read;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;

use super::{Service, ServiceError};
use crate::domain::AuditAction;
use crate::store::{Creation, StoreError};
pub use read::{Format, Problem};
use read::{Raw, Reader, Row};

/// Rows handed from the reading thread at a time.
const CHUNK: usize = 512;
/// Writes waiting for their commit at most (the writer's batches fill from these).
const IN_FLIGHT: usize = 1024;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub path: PathBuf,
    /// None: from the extension.
    pub format: Option<Format>,
    /// Written as the products' `created_by`.
    pub by: Option<String>,
    /// Where rejected rows go, in the input's format.
    pub rejects: Option<PathBuf>,
    /// Who the audit trail names (None: `by`, from nowhere in particular).
    pub actor: Option<super::Actor>,
}

/// What an import tells as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportEvent {
    Rejected { line: u64, problem: Problem },
    Progress(Counts),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub imported: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Bytes read of `total_bytes`.
    pub bytes: u64,
    pub total_bytes: u64,
    /// The lowest and highest outbox ids of the events this import wrote: what its final
    /// wait for the broker waits for (not other writers' events, nor other clusters').
    pub events: Option<(i64, i64)>,
}

impl Counts {
    /// Rows read so far, whatever became of them.
    pub fn rows(&self) -> u64 {
        self.imported + self.duplicates + self.rejected
    }
}

/// The summary every front end prints: `imported X, duplicates Y, rejected Z`.
impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "imported {}, duplicates {}, rejected {}",
            self.imported, self.duplicates, self.rejected
        )
    }
}

/// Why an import could not run (bad usage, unreadable file) or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Unreadable(String),
    #[error("stopped after {} imported: {source}; running it again skips what was imported", .counts.imported)]
    Stopped {
        counts: Counts,
        #[source]
        source: ServiceError,
    },
}

/// Rejected rows written back in the input's format.
struct Rejects {
    out: Option<RejectSink>,
}

enum RejectSink {
    Csv(Box<csv::Writer<std::fs::File>>),
    Json(std::io::BufWriter<std::fs::File>),
}

impl Rejects {
    fn open(path: Option<&Path>, headers: Option<&csv::ByteRecord>) -> Result<Rejects, String> {
        let Some(path) = path else {
            return Ok(Rejects { out: None });
        };
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let out = match headers {
            Some(h) => {
                // Rows with the wrong number of fields are rejects too: written as they were.
                let mut w = csv::WriterBuilder::new().flexible(true).from_writer(file);
                w.write_byte_record(h).map_err(|e| e.to_string())?;
                RejectSink::Csv(Box::new(w))
            }
            None => RejectSink::Json(std::io::BufWriter::new(file)),
        };
        Ok(Rejects { out: Some(out) })
    }

    fn write(&mut self, raw: &Raw) -> Result<(), String> {
        match (&mut self.out, raw) {
            (Some(RejectSink::Csv(w)), Raw::Csv(r)) => {
                w.write_byte_record(r).map_err(|e| e.to_string())
            }
            // A line too long to keep is not in the rejects file (its reason says so).
            (Some(RejectSink::Json(_)), Raw::Json(line)) if line.is_empty() => Ok(()),
            (Some(RejectSink::Json(w)), Raw::Json(line)) => w
                .write_all(line)
                .and_then(|_| w.write_all(b"\n"))
                .map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self.out {
            Some(RejectSink::Csv(mut w)) => w.flush().map_err(|e| e.to_string()),
            Some(RejectSink::Json(mut w)) => w.flush().map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

type Written = (u64, Raw, Result<super::writer::Written, StoreError>);

impl Service {
    /// Imports `opts.path`; `events` hears each rejected row and the progress (a slow listener
    /// slows the import, never its memory). The audit trail records the file and the counts.
    pub async fn import(
        &self,
        opts: &ImportOptions,
        events: mpsc::Sender<ImportEvent>,
    ) -> Result<Counts, ImportError> {
        let result = self.import_file(opts, events).await;
        let actor = opts.actor.clone().unwrap_or_else(|| {
            super::Actor::new(opts.by.as_deref().unwrap_or("unknown"), Default::default())
        });
        let entry = actor.entry(AuditAction::Import, opts.path.display().to_string());
        let counted = |c: &Counts| {
            format!(
                "imported {}, duplicates {}, rejected {}",
                c.imported, c.duplicates, c.rejected
            )
        };
        let entry = match &result {
            Ok(c) => entry.detail(counted(c)),
            Err(ImportError::Stopped { counts, source }) => entry
                .outcome("failed")
                .detail(format!("{}; stopped: {source}", counted(counts))),
            Err(e) => entry.outcome("refused").detail(e.to_string()),
        };
        self.audit(&entry).await;
        result
    }

    async fn import_file(
        &self,
        opts: &ImportOptions,
        events: mpsc::Sender<ImportEvent>,
    ) -> Result<Counts, ImportError> {
        let format = match opts.format.or_else(|| Format::of_path(&opts.path)) {
            Some(f) => f,
            None => {
                return Err(ImportError::Usage(format!(
                    "{}: cannot tell the format from the extension; use --format csv or jsonl",
                    opts.path.display()
                )));
            }
        };
        let total_bytes = std::fs::metadata(&opts.path)
            .map_err(|e| ImportError::Unreadable(format!("{}: {e}", opts.path.display())))?
            .len();
        if let Some(r) = &opts.rejects
            && let (Ok(a), Ok(b)) = (std::fs::canonicalize(r), std::fs::canonicalize(&opts.path))
            && a == b
        {
            // Writing the rejects would empty the file being read.
            return Err(ImportError::Usage(format!(
                "{}: the rejects file must not be the file imported",
                r.display()
            )));
        }
        let mut reader = Reader::open(&opts.path, format).map_err(ImportError::Unreadable)?;
        let mut rejects = Rejects::open(opts.rejects.as_deref(), reader.csv_headers())
            .map_err(ImportError::Usage)?;
        let (tx, mut rx) = mpsc::channel::<Result<(Vec<Row>, u64), String>>(8);
        let reading = tokio::task::spawn_blocking(move || {
            let mut chunk = Vec::with_capacity(CHUNK);
            while let Some(row) = reader.next_row() {
                match row {
                    Ok(r) => chunk.push(r),
                    Err(e) => {
                        // The rows before the unreadable part are imported first.
                        let _ = tx.blocking_send(Ok((chunk, reader.position())));
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
                if chunk.len() == CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                    if tx.blocking_send(Ok((full, reader.position()))).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.blocking_send(Ok((chunk, reader.position())));
        });
        let mut counts = Counts {
            total_bytes,
            ..Counts::default()
        };
        let mut in_flight: FuturesUnordered<
            std::pin::Pin<Box<dyn Future<Output = Written> + Send>>,
        > = FuturesUnordered::new();
        let mut failure: Option<ServiceError> = None;
        while let Some(next) = rx.recv().await {
            let (rows, position) = match next {
                Ok(c) => c,
                Err(e) => {
                    failure = Some(ServiceError::Internal(format!("reading the file: {e}")));
                    break;
                }
            };
            let keys: Vec<String> = rows
                .iter()
                .filter_map(|r| r.parsed.as_ref().ok().map(|(_, k)| k.clone()))
                .collect();
            let known: HashSet<String> = match self.inner.store.known_import_keys(&keys).await {
                Ok(k) => k.into_iter().collect(),
                Err(e) => {
                    failure = Some(e.into());
                    break;
                }
            };
            let mut seen: HashSet<String> = HashSet::new();
            for row in rows {
                match row.parsed {
                    Err(problems) => {
                        counts.rejected += 1;
                        if let Err(e) = rejects.write(&row.raw) {
                            failure = Some(ServiceError::Internal(format!("rejects file: {e}")));
                        }
                        for problem in problems {
                            let _ = events
                                .send(ImportEvent::Rejected {
                                    line: row.line,
                                    problem,
                                })
                                .await;
                        }
                    }
                    Ok((_, ref key)) if known.contains(key) || !seen.insert(key.clone()) => {
                        counts.duplicates += 1;
                    }
                    Ok((item, key)) => {
                        while in_flight.len() >= IN_FLIGHT {
                            if let Some(done) = in_flight.next().await {
                                self.settle(done, &mut counts, &mut rejects, &events, &mut failure)
                                    .await;
                            }
                        }
                        let creation = Creation {
                            trace: None,
                            item,
                            by: opts.by.clone(),
                            key: Some(key),
                            idem: None,
                            id: None,
                        };
                        // Queued in file order, so ids follow the file.
                        let result = match self.inner.writer.enqueue(creation).await {
                            Ok(r) => r,
                            Err(e) => {
                                failure = Some(e.into());
                                break;
                            }
                        };
                        let (line, raw) = (row.line, row.raw);
                        in_flight.push(Box::pin(async move { (line, raw, result.await) }));
                    }
                }
            }
            while let Some(Some(done)) = in_flight.next().now_or_never() {
                self.settle(done, &mut counts, &mut rejects, &events, &mut failure)
                    .await;
            }
            counts.bytes = position;
            let _ = events.try_send(ImportEvent::Progress(counts));
            if failure.is_some() {
                break;
            }
        }
        drop(rx);
        while let Some(done) = in_flight.next().await {
            self.settle(done, &mut counts, &mut rejects, &events, &mut failure)
                .await;
        }
        let _ = reading.await;
        if let Err(e) = rejects.finish() {
            failure.get_or_insert(ServiceError::Internal(format!("rejects file: {e}")));
        }
        let _ = events.send(ImportEvent::Progress(counts)).await;
        match failure {
            None => Ok(counts),
            Some(source) => Err(ImportError::Stopped { counts, source }),
        }
    }

    async fn settle(
        &self,
        (line, raw, result): Written,
        counts: &mut Counts,
        rejects: &mut Rejects,
        events: &mpsc::Sender<ImportEvent>,
        failure: &mut Option<ServiceError>,
    ) {
        match result {
            Ok(w) => {
                counts.imported += 1;
                let id = w.saved.event.id;
                counts.events = Some(
                    counts
                        .events
                        .map_or((id, id), |(lo, hi)| (lo.min(id), hi.max(id))),
                );
            }
            // Another row (or import) took the key meanwhile.
            Err(StoreError::Conflict { .. }) => counts.duplicates += 1,
            Err(e @ StoreError::Constraint { .. }) => {
                counts.rejected += 1;
                let _ = rejects.write(&raw);
                if let ServiceError::Invalid(errs) = ServiceError::from(e) {
                    for f in errs.0 {
                        let problem = Problem {
                            field: f.field.to_string(),
                            reason: f.message,
                        };
                        let _ = events.send(ImportEvent::Rejected { line, problem }).await;
                    }
                }
            }
            Err(e) => {
                failure.get_or_insert(e.into());
            }
        }
    }
}
