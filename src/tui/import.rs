//! An import started from the products pane (`i`): its progress while it runs, then its
//! summary and the rejected rows, in a window that can be closed while the import goes on.

use std::path::PathBuf;
use std::time::Instant;

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use super::text::printable;
use crate::service::Counts;

/// Rejected-row lines kept for viewing; the rejects file has them all.
pub const KEPT_REJECTS: usize = 10_000;

/// News of a running import, sent by the runner at most a few times a second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportUpdate {
    pub counts: Counts,
    /// `line N: FIELD: reason` since the last update.
    pub rejects: Vec<String>,
    /// Set once, when the import has ended (Err: why it could not run or stopped).
    pub done: Option<Result<(), String>>,
}

pub struct ImportView {
    pub path: PathBuf,
    pub rejects_path: PathBuf,
    pub counts: Counts,
    pub started: Instant,
    pub rejects: Vec<String>,
    pub done: Option<Result<(), String>>,
    /// The report of a finished import was looked at: `i` then starts another.
    pub seen: bool,
    pub scroll: usize,
}

impl ImportView {
    pub fn new(path: PathBuf, rejects_path: PathBuf) -> ImportView {
        ImportView {
            path,
            rejects_path,
            counts: Counts::default(),
            started: Instant::now(),
            rejects: Vec::new(),
            done: None,
            seen: false,
            scroll: 0,
        }
    }

    pub fn running(&self) -> bool {
        self.done.is_none()
    }

    pub fn update(&mut self, u: ImportUpdate) {
        self.counts = u.counts;
        let room = KEPT_REJECTS.saturating_sub(self.rejects.len());
        self.rejects.extend(u.rejects.into_iter().take(room));
        if u.done.is_some() {
            self.done = u.done;
        }
    }

    fn rows(&self) -> u64 {
        self.counts.rows()
    }

    pub fn summary(&self) -> String {
        self.counts.to_string()
    }

    /// One line for the notice bar.
    pub fn notice(&self) -> String {
        match &self.done {
            None => format!(
                "Importing… {}% · {} · i shows it",
                self.percent(),
                self.summary()
            ),
            Some(Ok(())) => format!("Import done: {} · i shows the report", self.summary()),
            Some(Err(e)) => format!("Import stopped: {} · i shows the report", printable(e)),
        }
    }

    fn percent(&self) -> u64 {
        match self.counts.total_bytes {
            0 => 0,
            t => (self.counts.bytes * 100 / t).min(100),
        }
    }

    fn progress(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = self.rows() as f64 / secs;
        let (done, total) = (self.counts.bytes as f64, self.counts.total_bytes as f64);
        let eta = if done > 0.0 && total > done {
            format!("ETA {:.0} s", secs * (total - done) / done)
        } else {
            "ETA –".into()
        };
        let filled = (self.percent() as usize * 30) / 100;
        format!(
            "{}{} {:>3}% · {} rows · {rate:.0} rows/s · {eta}",
            "█".repeat(filled),
            "░".repeat(30 - filled),
            self.percent(),
            self.rows()
        )
    }

    pub fn lines(&self, height: usize) -> Vec<Line<'static>> {
        let mut lines = vec![Line::from(format!(
            "File {}",
            printable(&self.path.display().to_string())
        ))];
        match &self.done {
            None => lines.push(Line::from(self.progress())),
            Some(Ok(())) => lines.push(Line::from(format!(
                "Done in {:.1} s.",
                self.started.elapsed().as_secs_f64()
            ))),
            Some(Err(e)) => lines.push(Line::from(Span::styled(
                format!("Stopped: {}", printable(e)),
                Style::default().fg(Color::Red),
            ))),
        }
        lines.push(Line::from(self.summary()));
        if self.counts.rejected > 0 {
            lines.push(Line::from(""));
            lines.push(Line::from(format!(
                "Rejected rows, also in {} to fix and import again:",
                printable(&self.rejects_path.display().to_string())
            )));
            let room = height.saturating_sub(lines.len() + 2).max(1);
            let start = self.scroll.min(self.rejects.len().saturating_sub(room));
            for r in self.rejects.iter().skip(start).take(room) {
                lines.push(Line::from(Span::styled(
                    printable(r),
                    Style::default().fg(Color::Yellow),
                )));
            }
        }
        lines
    }
}
