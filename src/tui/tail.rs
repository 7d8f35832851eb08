//! The live tail of the topic: newest on top, a bounded buffer, pause, and a rate.

use std::collections::VecDeque;
use std::time::Instant;

use chrono_tz::Tz;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table, TableState};
use serde_json::Value;

use super::text::{clip, pane_block, plain, printable};
use crate::domain::{EventKind, HEADER_EVENT, HEADER_VERSION};
use crate::service::TailMessage;

pub struct TailPane {
    pub rows: VecDeque<TailMessage>,
    pub capacity: usize,
    pub selected: usize,
    pub paused: bool,
    pub received: u64,
    pub rate: f64,
    pub from_beginning: bool,
    rate_mark: (Instant, u64),
    page_height: usize,
}

/// What a key in the tail asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailAction {
    None,
    /// Restart reading from the oldest message.
    SeekBeginning,
    /// Restart from the newest N.
    SeekNewest,
    Open,
}

impl TailPane {
    pub fn new(capacity: usize) -> TailPane {
        TailPane {
            rows: VecDeque::new(),
            capacity: capacity.max(1),
            selected: 0,
            paused: false,
            received: 0,
            rate: 0.0,
            from_beginning: false,
            rate_mark: (Instant::now(), 0),
            page_height: 10,
        }
    }

    /// Adds messages (oldest first in `batch`), newest on top, dropping the oldest past capacity.
    /// A selection away from the top stays on the same message.
    pub fn push(&mut self, batch: Vec<TailMessage>) {
        let n = batch.len();
        self.received += n as u64;
        for m in batch {
            self.rows.push_front(m);
        }
        if self.selected > 0 {
            self.selected += n;
        }
        self.rows.truncate(self.capacity);
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    pub fn clear(&mut self) {
        self.rows.clear();
        self.selected = 0;
        self.received = 0;
        self.rate_mark = (Instant::now(), 0);
    }

    pub fn tick(&mut self, now: Instant) {
        let (at, count) = self.rate_mark;
        let secs = now.duration_since(at).as_secs_f64();
        if secs >= 0.5 {
            self.rate = (self.received - count) as f64 / secs;
            self.rate_mark = (now, self.received);
        }
    }

    pub fn selected_message(&self) -> Option<&TailMessage> {
        self.rows.get(self.selected)
    }

    /// Selects the newest message with this key; false when none is in the buffer.
    pub fn select_key(&mut self, key: &str) -> bool {
        match self.rows.iter().position(|m| m.key.as_deref() == Some(key)) {
            Some(i) => {
                self.selected = i;
                true
            }
            None => false,
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> TailAction {
        let last = self.rows.len().saturating_sub(1);
        match (key.code, plain(&key)) {
            (KeyCode::Down, _) | (_, Some('j')) => self.selected = (self.selected + 1).min(last),
            (KeyCode::Up, _) | (_, Some('k')) => self.selected = self.selected.saturating_sub(1),
            (KeyCode::PageDown, _) => self.selected = (self.selected + self.page_height).min(last),
            (KeyCode::PageUp, _) => self.selected = self.selected.saturating_sub(self.page_height),
            (KeyCode::Home, _) | (_, Some('g')) => self.selected = 0,
            (KeyCode::End, _) | (_, Some('G')) => self.selected = last,
            (_, Some('p')) | (_, Some(' ')) => self.paused = !self.paused,
            (_, Some('b')) => return TailAction::SeekBeginning,
            (_, Some('n')) => return TailAction::SeekNewest,
            (KeyCode::Enter, _) => return TailAction::Open,
            _ => {}
        }
        TailAction::None
    }

    pub fn render(&mut self, f: &mut Frame, area: Rect, focused: bool, tz: Tz) {
        let state = if self.paused {
            "paused (p resumes)"
        } else {
            "live"
        };
        let origin = if self.from_beginning {
            "from the beginning"
        } else {
            "newest first"
        };
        let title = format!(
            " Topic · {state} · {} received · {:.0} msg/s · {} kept · {origin} ",
            self.received,
            self.rate,
            self.rows.len()
        );
        let block = pane_block(title, focused);
        self.page_height = area.height.saturating_sub(3).max(1) as usize;
        if self.rows.is_empty() {
            let msg =
                "No messages yet: products you register appear here as Kafka acknowledges them.";
            f.render_widget(ratatui::widgets::Paragraph::new(msg).block(block), area);
            return;
        }
        let wide = area.width >= 90;
        let mut widths = vec![
            Constraint::Length(4),
            Constraint::Length(8),
            Constraint::Length(8),
        ];
        widths.push(Constraint::Length(8));
        widths.push(Constraint::Length(4));
        let mut header = vec!["p", "offset", "key", "event", "v"];
        if wide {
            widths.push(Constraint::Length(12));
            header.push("time");
        }
        widths.push(Constraint::Min(10));
        header.push("summary");
        // Only the visible rows are formatted: the buffer can hold many thousands.
        let height = self.page_height;
        let offset = self.selected.saturating_sub(height.saturating_sub(1));
        let rows = self.rows.iter().skip(offset).take(height).map(|m| {
            let mut cells = vec![
                Cell::from(m.partition.to_string()),
                Cell::from(m.offset.to_string()),
                Cell::from(clip(&printable(m.key.as_deref().unwrap_or("∅")), 8)),
                Cell::from(clip(&printable(event_of(m)), 8)),
                Cell::from(clip(&printable(m.header(HEADER_VERSION).unwrap_or("")), 4)),
            ];
            if wide {
                let t = m
                    .timestamp_ms
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|t| t.with_timezone(&tz).format("%H:%M:%S%.3f").to_string())
                    .unwrap_or_default();
                cells.push(Cell::from(t));
            }
            cells.push(Cell::from(summary(m)));
            Row::new(cells)
        });
        let table = Table::new(rows, widths)
            .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
            .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
            .block(block);
        let mut state = TableState::default().with_selected(Some(self.selected - offset));
        f.render_stateful_widget(table, area, &mut state);
    }
}

/// One line for a message: a product's main fields, or the start of any other payload.
/// One line of the message; a message that is not a product event as the published schema
/// describes it (another producer's) is marked, never hidden.
pub fn summary(m: &TailMessage) -> String {
    let line = describe(m);
    if is_product_event(m) {
        line
    } else {
        format!("≠ schema · {line}")
    }
}

/// A product event as published: a product's JSON, or a tombstone saying `deleted`.
fn is_product_event(m: &TailMessage) -> bool {
    match &m.payload {
        Some(p) => crate::domain::matches_schema(p),
        None => m.header(HEADER_EVENT) == Some(EventKind::Deleted.as_str()),
    }
}

/// The `event` header; messages from before headers existed were creations.
fn event_of(m: &TailMessage) -> &str {
    match m.header(HEADER_EVENT) {
        Some(e) => e,
        None if m.payload.is_none() => "∅",
        None => "",
    }
}

fn describe(m: &TailMessage) -> String {
    if m.payload.is_none() {
        return "tombstone (null value): the product was deleted".into();
    }
    match serde_json::from_slice::<Value>(m.bytes()) {
        Ok(v) if v.get("pricing").is_some() && v.get("name").is_some() => {
            let s = |p: &Value| match p {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            printable(&format!(
                "{} · {} · {} {} · qty {}",
                s(&v["name"]),
                s(&v["category"]),
                s(&v["pricing"]["amount"]),
                s(&v["pricing"]["currency"]),
                s(&v["availability"]["quantity"])
            ))
        }
        Ok(v) => printable(&clip(&v.to_string(), 200)),
        Err(_) => format!(
            "(not JSON) {}",
            printable(&clip(&String::from_utf8_lossy(m.bytes()), 200))
        ),
    }
}

/// The message in full: JSON pretty-printed, anything else as text.
pub fn detail_lines(m: &TailMessage, tz: Tz) -> Vec<Line<'static>> {
    let time = m
        .timestamp_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.with_timezone(&tz).to_rfc3339())
        .unwrap_or_else(|| "none".into());
    let mut lines = vec![
        Line::from(format!(
            "partition {} · offset {} · key {}",
            m.partition,
            m.offset,
            printable(m.key.as_deref().unwrap_or("(none)"))
        )),
        Line::from(format!("timestamp {time}")),
    ];
    for (k, v) in &m.headers {
        lines.push(Line::from(format!(
            "header {}: {}",
            printable(k),
            printable(v)
        )));
    }
    lines.push(Line::from(""));
    let body = match (&m.payload, serde_json::from_slice::<Value>(m.bytes())) {
        (None, _) => "null (tombstone)".to_string(),
        (Some(_), Ok(v)) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        (Some(p), Err(_)) => String::from_utf8_lossy(p).into_owned(),
    };
    lines.extend(body.lines().map(|l| Line::from(printable(l))));
    lines
}
