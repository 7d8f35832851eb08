//! The live tail of the topic: newest on top, a bounded buffer, pause, a rate, a filter over
//! kept and incoming messages, and a time column in local time, UTC or age.

use std::collections::VecDeque;
use std::time::Instant;

use chrono_tz::Tz;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Cell, Row, Table, TableState};

use super::message::{event_of, summary};
use super::text::{clip, pane_block, plain, printable};
use crate::domain::HEADER_VERSION;
use crate::service::{MessageFilter, TailMessage};

pub use super::time_mode::TimeMode;

/// The filter in effect, and what it has kept of what it has seen.
struct Filtered {
    filter: MessageFilter,
    shown: VecDeque<TailMessage>,
    seen: u64,
    matched: u64,
}

pub struct TailPane {
    /// Everything kept, newest first.
    pub rows: VecDeque<TailMessage>,
    pub capacity: usize,
    /// Index into what is shown (the filtered messages when a filter is set).
    pub selected: usize,
    pub paused: bool,
    pub received: u64,
    pub rate: f64,
    /// Where reading started: "newest first", "from the beginning", "from 2:140"...
    pub origin: String,
    pub time: TimeMode,
    /// The filter as typed (`/`).
    pub filter_text: String,
    pub filter_editing: bool,
    filtered: Option<Filtered>,
    rate_mark: (Instant, u64),
    /// Messages stamped within LIVE_MS of their arrival: the rate counts only these, so
    /// history read after a seek is not taken for traffic.
    live: u64,
    /// The selected message after it left the buffer (a fast topic): Enter still opens it.
    held: Option<TailMessage>,
    /// The topic's partitions, once read: a seek or a `p=` filter beyond them is refused.
    pub partitions: Option<i32>,
    page_height: usize,
}

/// A message stamped this recently when it arrives counts as new traffic.
const LIVE_MS: i64 = 10_000;

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
            origin: "newest first".into(),
            time: TimeMode::Local,
            filter_text: String::new(),
            filter_editing: false,
            filtered: None,
            rate_mark: (Instant::now(), 0),
            live: 0,
            held: None,
            partitions: None,
            page_height: 10,
        }
    }

    /// The messages on screen: the filtered ones when a filter is set.
    pub fn shown(&self) -> &VecDeque<TailMessage> {
        self.filtered.as_ref().map_or(&self.rows, |f| &f.shown)
    }

    /// (matched, seen) while a filter is set.
    pub fn match_counts(&self) -> Option<(u64, u64)> {
        self.filtered.as_ref().map(|f| (f.matched, f.seen))
    }

    /// Adds messages (oldest first in `batch`), newest on top, dropping the oldest past capacity.
    /// A selection away from the top stays on the same message.
    pub fn push(&mut self, batch: Vec<TailMessage>) {
        self.received += batch.len() as u64;
        let now_ms = chrono::Utc::now().timestamp_millis();
        self.live += batch
            .iter()
            .filter(|m| m.timestamp_ms.is_none_or(|t| t >= now_ms - LIVE_MS))
            .count() as u64;
        let pinned = (self.selected > 0 && self.held.is_none())
            .then(|| self.shown().get(self.selected).cloned())
            .flatten();
        let mut added = 0;
        for m in batch {
            if let Some(f) = self.filtered.as_mut() {
                f.seen += 1;
                if f.filter.matches(&m) {
                    f.matched += 1;
                    f.shown.push_front(m.clone());
                    f.shown.truncate(self.capacity);
                    added += 1;
                }
            } else {
                added += 1;
            }
            self.rows.push_front(m);
        }
        if self.selected > 0 {
            self.selected += added;
        }
        self.rows.truncate(self.capacity);
        if self.selected >= self.shown().len() && pinned.is_some() {
            self.held = pinned;
        }
        self.selected = self.selected.min(self.shown().len().saturating_sub(1));
    }

    pub fn clear(&mut self) {
        self.rows.clear();
        self.selected = 0;
        self.held = None;
        self.received = 0;
        self.live = 0;
        self.rate_mark = (Instant::now(), 0);
        self.apply_filter();
    }

    /// Filters the kept messages again with the filter as typed.
    fn apply_filter(&mut self) {
        self.filtered = MessageFilter::parse(&self.filter_text).map(|filter| {
            let shown: VecDeque<TailMessage> = self
                .rows
                .iter()
                .filter(|m| filter.matches(m))
                .cloned()
                .collect();
            Filtered {
                matched: shown.len() as u64,
                seen: self.rows.len() as u64,
                filter,
                shown,
            }
        });
        self.selected = 0;
        self.held = None;
    }

    pub fn tick(&mut self, now: Instant) {
        let (at, count) = self.rate_mark;
        let secs = now.duration_since(at).as_secs_f64();
        if secs >= 0.5 {
            self.rate = self.live.saturating_sub(count) as f64 / secs;
            self.rate_mark = (now, self.live);
        }
    }

    pub fn selected_message(&self) -> Option<&TailMessage> {
        self.held
            .as_ref()
            .or_else(|| self.shown().get(self.selected))
    }

    /// Selects the newest shown message with this key; false when none is shown.
    pub fn select_key(&mut self, key: &str) -> bool {
        match self
            .shown()
            .iter()
            .position(|m| m.key.as_deref() == Some(key))
        {
            Some(i) => {
                self.selected = i;
                self.held = None;
                true
            }
            None => false,
        }
    }

    /// Why a `p=N` filter can match nothing: the topic has no partition N.
    fn missing_partition(&self) -> Option<String> {
        match (&self.filtered, self.partitions) {
            (Some(f), Some(n)) => match f.filter {
                MessageFilter::Partition(p) if p >= n => Some(partitions_are(n)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Pasted text joins the filter being typed.
    pub fn paste_filter(&mut self, text: &str) {
        self.filter_text.push_str(text);
        self.apply_filter();
    }

    fn on_filter_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Enter => self.filter_editing = false,
            KeyCode::Esc => {
                self.filter_editing = false;
                self.filter_text.clear();
                self.apply_filter();
            }
            KeyCode::Backspace => {
                self.filter_text.pop();
                self.apply_filter();
            }
            _ => {
                if let Some(c) = plain(&key) {
                    self.filter_text.push(c);
                    self.apply_filter();
                }
            }
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> TailAction {
        if self.filter_editing {
            self.on_filter_key(key);
            return TailAction::None;
        }
        let last = self.shown().len().saturating_sub(1);
        if matches!(
            key.code,
            KeyCode::Down
                | KeyCode::Up
                | KeyCode::PageDown
                | KeyCode::PageUp
                | KeyCode::Home
                | KeyCode::End
        ) || matches!(plain(&key), Some('j' | 'k' | 'g' | 'G'))
        {
            self.held = None; // a move picks what is on screen again
        }
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
            (_, Some('/')) => self.filter_editing = true,
            (_, Some('t')) => self.time = self.time.next(),
            (KeyCode::Esc, _) if !self.filter_text.is_empty() => {
                self.filter_text.clear();
                self.apply_filter();
            }
            (KeyCode::Enter, _) => return TailAction::Open,
            _ => {}
        }
        TailAction::None
    }

    fn title(&self) -> String {
        let state = if self.paused {
            "paused (p resumes)"
        } else {
            "live"
        };
        let mut title = format!(
            " Topic · {state} · {} received · {:.0} msg/s · {} kept · {} ",
            self.received,
            self.rate,
            self.rows.len(),
            self.origin
        );
        if let Some(m) = &self.held {
            title.push_str(&format!(
                "· selected {}:{} left the buffer (Enter opens it, j/k pick again) ",
                m.partition, m.offset
            ));
        }
        if self.filter_editing || !self.filter_text.is_empty() {
            title.push_str(&format!(
                "· filter: {}{}",
                printable(&self.filter_text),
                if self.filter_editing { "▏" } else { "" }
            ));
            if let Some(problem) =
                MessageFilter::problem(&self.filter_text).or_else(|| self.missing_partition())
            {
                title.push_str(&format!(" · {problem}"));
            } else if let Some((matched, seen)) = self.match_counts() {
                title.push_str(&format!(" · {matched} of {seen} match"));
            }
            title.push(' ');
        }
        title
    }

    pub fn render(&mut self, f: &mut Frame, area: Rect, focused: bool, tz: Tz) {
        let block = pane_block(self.title(), focused);
        self.page_height = area.height.saturating_sub(3).max(1) as usize;
        if self.shown().is_empty() {
            let msg = if self.filtered.is_some() {
                "No message matches the filter (Esc clears it)."
            } else {
                "No messages yet: products you register appear here as Kafka acknowledges them."
            };
            f.render_widget(ratatui::widgets::Paragraph::new(msg).block(block), area);
            return;
        }
        let wide = area.width >= 90;
        let mut widths = vec![
            Constraint::Length(4),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(4),
        ];
        let mut header = vec!["p", "offset", "key", "event", "v"];
        if wide {
            widths.push(Constraint::Length(13));
            header.push(self.time.header());
        }
        widths.push(Constraint::Min(10));
        header.push("summary");
        let now_ms = chrono::Utc::now().timestamp_millis();
        // Only the visible rows are formatted: the buffer can hold many thousands.
        let height = self.page_height;
        let offset = self.selected.saturating_sub(height.saturating_sub(1));
        let rows = self.shown().iter().skip(offset).take(height).map(|m| {
            let mut cells = vec![
                Cell::from(m.partition.to_string()),
                Cell::from(m.offset.to_string()),
                Cell::from(clip(&printable(m.key.as_deref().unwrap_or("∅")), 8)),
                Cell::from(clip(&printable(event_of(m)), 8)),
                Cell::from(clip(&printable(m.header(HEADER_VERSION).unwrap_or("")), 4)),
            ];
            if wide {
                cells.push(Cell::from(self.time.format(m.timestamp_ms, tz, now_ms)));
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

/// "the topic has partitions 0 to 2", for a refusal.
pub fn partitions_are(n: i32) -> String {
    format!("the topic has partitions 0 to {}", n - 1)
}
