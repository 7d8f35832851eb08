//! File work started from the panes, run as tasks: an import with throttled progress, an
//! export of the products in view, the kept messages saved as JSON Lines. Files are created
//! new (never overwritten) and a partial file is removed when writing fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::app::Action;
use super::import::{ImportUpdate, KEPT_REJECTS};
use crate::service::{ExportFormat, ImportEvent, ImportOptions, Service, TailMessage};

/// How often a running import tells the UI.
const EVERY: Duration = Duration::from_millis(100);

fn create_new(path: &Path) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                format!("{} exists already; choose another name", path.display())
            }
            _ => format!("{}: {e}", path.display()),
        })
}

pub async fn import(
    svc: Service,
    path: PathBuf,
    rejects: PathBuf,
    by: Option<String>,
    out: mpsc::UnboundedSender<Action>,
) {
    let actor = by
        .as_deref()
        .map(|name| crate::service::Actor::new(name, crate::domain::Origin::tui()));
    let opts = ImportOptions {
        path,
        format: None,
        by,
        rejects: Some(rejects.clone()),
        actor,
    };
    let (tx, mut rx) = mpsc::channel(1024);
    let task = {
        let svc = svc.clone();
        tokio::spawn(async move { svc.import(&opts, tx).await })
    };
    let mut update = ImportUpdate {
        counts: Default::default(),
        rejects: Vec::new(),
        done: None,
    };
    let mut kept = 0usize;
    let mut last = Instant::now();
    while let Some(event) = rx.recv().await {
        match event {
            ImportEvent::Rejected { line, problem } if kept < KEPT_REJECTS => {
                kept += 1;
                update.rejects.push(problem.at(line));
            }
            ImportEvent::Rejected { .. } => {}
            ImportEvent::Progress(c) => update.counts = c,
        }
        if last.elapsed() >= EVERY {
            last = Instant::now();
            let next = ImportUpdate {
                counts: update.counts,
                rejects: std::mem::take(&mut update.rejects),
                done: None,
            };
            if out.send(Action::Import(next)).is_err() {
                return;
            }
        }
    }
    let result = task
        .await
        .unwrap_or_else(|e| Err(crate::service::ImportError::Usage(e.to_string())));
    update.done = Some(match result {
        Ok(c) => {
            update.counts = c;
            Ok(())
        }
        Err(crate::service::ImportError::Stopped { counts, source }) => {
            update.counts = counts;
            Err(format!(
                "{source}; importing the file again skips what was imported"
            ))
        }
        Err(e) => Err(e.to_string()),
    });
    if update.counts.rejected == 0 {
        // Nothing to fix: no rejects file left behind.
        let _ = std::fs::remove_file(&rejects);
    }
    let _ = out.send(Action::Import(update));
}

pub async fn export(
    svc: Service,
    by: Option<String>,
    path: PathBuf,
    format: ExportFormat,
    filter: Option<String>,
) -> Result<String, String> {
    let file = create_new(&path)?;
    let mut w = std::io::BufWriter::new(file);
    let actor =
        crate::service::Actor::new(by.as_deref().unwrap_or(""), crate::domain::Origin::tui());
    let target = path.display().to_string();
    let written = match svc
        .export(&actor, &target, format, filter.as_deref(), &mut w)
        .await
    {
        Ok(n) => w.flush().map(|_| n).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match written {
        Ok(n) => Ok(format!("Exported {n} products to {}", path.display())),
        Err(e) => {
            drop(w);
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

pub fn save_messages(
    path: &Path,
    messages: &[TailMessage],
    tz: chrono_tz::Tz,
) -> Result<String, String> {
    let file = create_new(path)?;
    let mut w = std::io::BufWriter::new(file);
    let written = messages
        .iter()
        .try_for_each(|m| writeln!(w, "{}", m.to_json(tz)))
        .and_then(|_| w.flush());
    match written {
        Ok(()) => Ok(format!(
            "Saved {} messages to {}",
            messages.len(),
            path.display()
        )),
        Err(e) => {
            drop(w);
            let _ = std::fs::remove_file(path);
            Err(format!("{}: {e}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_as_json_lines_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept.jsonl");
        let m = TailMessage {
            partition: 1,
            offset: 7,
            key: Some("7".into()),
            timestamp_ms: Some(0),
            payload: None,
            headers: vec![("event".into(), "deleted".into())],
        };
        let said = save_messages(&path, &[m.clone(), m], chrono_tz::UTC).unwrap();
        assert!(said.starts_with("Saved 2 messages to "), "{said}");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["headers"]["event"], "deleted");
        assert!(lines[0]["value"].is_null());
        let again = save_messages(&path, &[], chrono_tz::UTC).unwrap_err();
        assert!(again.contains("exists already"), "{again}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "untouched");
    }
}
