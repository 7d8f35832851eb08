//! The audit trail for admins: `a` on the pipeline pane opens the newest entries in a window
//! (j/k scroll, r reads again, Esc closes). Read in the background, like every pane.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use super::app::{App, Effect, Overlay};
use super::session::may;
use super::text::{plain, printable};
use crate::domain::{AuditRecord, Role};

/// Entries read at a time: the newest.
pub const AUDIT_ENTRIES: i64 = 500;

#[derive(Debug, Default)]
pub struct AuditView {
    pub entries: Vec<AuditRecord>,
    pub error: Option<String>,
    pub loading: bool,
    pub scroll: usize,
}

impl AuditView {
    pub fn loaded(&mut self, result: Result<Vec<AuditRecord>, String>) {
        self.loading = false;
        match result {
            Ok(entries) => {
                self.entries = entries;
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// At most `height` lines from the scroll position, newest first.
    pub fn lines(&self, height: usize, tz: chrono_tz::Tz) -> Vec<Line<'static>> {
        let mut lines = Vec::new();
        if self.loading {
            lines.push(Line::from("Reading the audit trail…"));
        }
        if let Some(e) = &self.error {
            lines.push(Line::from(Span::styled(
                printable(e),
                Style::default().fg(Color::Red),
            )));
        }
        if !self.loading && self.error.is_none() && self.entries.is_empty() {
            lines.push(Line::from("No entries yet."));
        }
        for r in self
            .entries
            .iter()
            .skip(self.scroll)
            .take(height.saturating_sub(lines.len()))
        {
            let colour = match r.outcome.as_str() {
                "ok" => Color::Reset,
                _ => Color::Yellow,
            };
            let at = r.at.with_timezone(&tz).format("%m-%d %H:%M:%S");
            let from = r.address.as_deref().unwrap_or(&r.via);
            let detail = r.detail.as_deref().unwrap_or("");
            let text = format!(
                "{at} {:<14} {:<14} {:<22} {:<7} {:<15} {detail}",
                printable(&r.actor),
                r.action,
                printable(&r.target),
                r.outcome,
                printable(from)
            );
            lines.push(Line::from(Span::styled(text, Style::default().fg(colour))));
        }
        lines
    }
}

impl App {
    /// `a` on the pipeline pane: admins see the trail; others hear which role it needs.
    pub(super) fn open_audit(&mut self) -> Vec<Effect> {
        let Some(main) = self.main_mut() else {
            return Vec::new();
        };
        if !may(main, Role::Admin, "Reading the audit trail") {
            return Vec::new();
        }
        main.audit.loading = true;
        main.audit.scroll = 0;
        self.overlay = Some(Overlay::Audit);
        vec![Effect::LoadAudit]
    }

    pub(super) fn on_audit_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(main) = self.main_mut() else {
            return Vec::new();
        };
        let last = main.audit.entries.len().saturating_sub(1);
        let a = &mut main.audit;
        match (key.code, plain(&key)) {
            (KeyCode::Esc, _) | (_, Some('q')) => return Vec::new(),
            (KeyCode::Down, _) | (_, Some('j')) => a.scroll = (a.scroll + 1).min(last),
            (KeyCode::Up, _) | (_, Some('k')) => a.scroll = a.scroll.saturating_sub(1),
            (KeyCode::PageDown, _) => a.scroll = (a.scroll + 10).min(last),
            (KeyCode::PageUp, _) => a.scroll = a.scroll.saturating_sub(10),
            (_, Some('r')) => {
                a.loading = true;
                self.overlay = Some(Overlay::Audit);
                return vec![Effect::LoadAudit];
            }
            _ => {}
        }
        self.overlay = Some(Overlay::Audit);
        Vec::new()
    }
}
