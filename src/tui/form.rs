//! The product form: six fields validated as you type with the core's rules.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui_textarea::{CursorMove, TextArea};

use super::text::{ctrl, draw_input, pane_block, printable};
use crate::domain::{ProductDraft, PublishState};

/// Field names as the core names them, in form order.
pub const FIELDS: [(&str, &str); 6] = [
    ("name", "Name"),
    ("description", "Description"),
    ("category", "Category"),
    ("pricing.ammount", "Amount"),
    ("pricing.currency", "Currency"),
    ("availability.quantity", "Quantity"),
];
const DESCRIPTION: usize = 1;

/// What the form asks the app to do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormOutcome {
    None,
    Submit(ProductDraft),
    /// Tab past the last field, or Shift-Tab before the first: leave for another pane.
    LeaveNext,
    LeavePrev,
    Leave,
}

/// The last submission's result, shown in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Saving,
    Saved { id: i64, publish: PublishState },
    Refused(String),
    Failed(String),
}

pub struct FormPane {
    inputs: Vec<TextArea<'static>>,
    pub focus: usize,
    pub editing: bool,
    pub keep_values: bool,
    pub outcome: Option<Outcome>,
    default_currency: String,
    /// Errors are shown only for fields the user touched, or all of them after a refused submit.
    touched: [bool; 6],
}

fn input(text: &str) -> TextArea<'static> {
    let mut t = TextArea::new(text.lines().map(str::to_string).collect::<Vec<_>>());
    if t.lines().is_empty() {
        t = TextArea::default();
    }
    t.set_cursor_line_style(Style::default());
    // Entering a filled field puts the cursor after its text, ready to extend or erase.
    t.move_cursor(CursorMove::Bottom);
    t.move_cursor(CursorMove::End);
    t
}

impl FormPane {
    pub fn new(default_currency: &str) -> FormPane {
        let mut f = FormPane {
            inputs: Vec::new(),
            focus: 0,
            editing: true,
            keep_values: false,
            outcome: None,
            default_currency: default_currency.to_string(),
            touched: [false; 6],
        };
        f.reset();
        f
    }

    /// Empties every field (the currency goes back to its default) and focuses the name.
    pub fn reset(&mut self) {
        self.inputs = FIELDS.iter().map(|_| input("")).collect();
        self.inputs[4] = input(&self.default_currency);
        self.focus = 0;
        self.touched = [false; 6];
    }

    pub fn draft(&self) -> ProductDraft {
        let v = |i: usize| self.inputs[i].lines().join("\n");
        ProductDraft {
            name: v(0),
            description: v(1),
            category: v(2),
            amount: v(3),
            currency: v(4),
            quantity: v(5),
        }
    }

    /// True when something was typed that a quit would lose.
    pub fn has_unsaved_input(&self) -> bool {
        let d = self.draft();
        let typed = [&d.name, &d.description, &d.category, &d.amount, &d.quantity]
            .iter()
            .any(|s| !s.is_empty());
        typed || d.currency != self.default_currency
    }

    pub fn field_error(&self, i: usize) -> Option<String> {
        self.draft().check_field(FIELDS[i].0)
    }

    /// Validates everything; refused submits show every reason and focus the first bad field.
    pub fn submit(&mut self) -> FormOutcome {
        let bad: Vec<usize> = (0..FIELDS.len())
            .filter(|i| self.field_error(*i).is_some())
            .collect();
        if let Some(first) = bad.first() {
            self.touched = [true; 6];
            self.focus = *first;
            self.editing = true;
            let n = bad.len();
            self.outcome = Some(Outcome::Refused(format!(
                "Not saved: {n} field{} to fix",
                if n == 1 { "" } else { "s" }
            )));
            return FormOutcome::None;
        }
        self.outcome = Some(Outcome::Saving);
        FormOutcome::Submit(self.draft())
    }

    /// After a successful save: ready for the next product.
    pub fn saved(&mut self, id: i64, publish: PublishState) {
        self.outcome = Some(Outcome::Saved { id, publish });
        if !self.keep_values {
            self.reset();
        }
        self.focus = 0;
        self.touched = [false; 6];
        self.editing = true;
    }

    pub fn on_key(&mut self, key: KeyEvent) -> FormOutcome {
        if ctrl(&key, 's') {
            return self.submit();
        }
        if ctrl(&key, 'r') {
            self.reset();
            self.outcome = None;
            return FormOutcome::None;
        }
        if ctrl(&key, 'k') {
            self.keep_values = !self.keep_values;
            return FormOutcome::None;
        }
        match key.code {
            KeyCode::Esc => {
                self.editing = false;
                return FormOutcome::Leave;
            }
            KeyCode::Tab => return self.move_focus(true),
            KeyCode::BackTab => return self.move_focus(false),
            KeyCode::Enter if self.focus != DESCRIPTION => {
                if self.focus == FIELDS.len() - 1 {
                    return self.submit();
                }
                return self.move_focus(true);
            }
            KeyCode::Up if self.focus != DESCRIPTION => return self.move_focus(false),
            KeyCode::Down if self.focus != DESCRIPTION => return self.move_focus(true),
            _ => {}
        }
        if self.inputs[self.focus].input(key) {
            self.touched[self.focus] = true;
        }
        FormOutcome::None
    }

    fn move_focus(&mut self, forward: bool) -> FormOutcome {
        self.touched[self.focus] = true;
        match (forward, self.focus) {
            (true, f) if f + 1 == FIELDS.len() => {
                self.editing = false;
                FormOutcome::LeaveNext
            }
            (false, 0) => {
                self.editing = false;
                FormOutcome::LeavePrev
            }
            (true, f) => {
                self.focus = f + 1;
                self.cursor_to_end();
                FormOutcome::None
            }
            (false, f) => {
                self.focus = f - 1;
                self.cursor_to_end();
                FormOutcome::None
            }
        }
    }

    fn cursor_to_end(&mut self) {
        let t = &mut self.inputs[self.focus];
        t.move_cursor(CursorMove::Bottom);
        t.move_cursor(CursorMove::End);
    }

    pub fn render(&self, f: &mut Frame, area: Rect, focused: bool) {
        let title = format!(
            " Product{} ",
            if self.keep_values {
                " · keeping values after save (Ctrl+K)"
            } else {
                ""
            }
        );
        let block = pane_block(title, focused);
        let inner = block.inner(area);
        f.render_widget(block, area);
        let desc_rows = if inner.height >= 20 {
            4
        } else if inner.height >= 16 {
            2
        } else {
            1
        };
        let mut rows: Vec<Constraint> = Vec::new();
        for i in 0..FIELDS.len() {
            rows.push(Constraint::Length(if i == DESCRIPTION {
                desc_rows
            } else {
                1
            }));
            rows.push(Constraint::Length(1));
        }
        rows.push(Constraint::Length(1));
        rows.push(Constraint::Min(1));
        let areas = Layout::vertical(rows).split(inner);
        let label_w = 13.min(inner.width / 3);
        for (i, (_, label)) in FIELDS.iter().enumerate() {
            let [label_area, input_area] =
                Layout::horizontal([Constraint::Length(label_w), Constraint::Min(1)])
                    .areas(areas[i * 2]);
            let active = focused && self.editing && self.focus == i;
            let label_style = if active {
                Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            };
            f.render_widget(
                Paragraph::new(format!("{label}:")).style(label_style),
                label_area,
            );
            draw_input(f, input_area, &self.inputs[i], active);
            let msg = match self.field_error(i) {
                Some(e) if self.touched[i] => Line::from(Span::styled(
                    format!("✗ {e}"),
                    Style::default().fg(Color::Red),
                )),
                Some(_) => Line::from(""),
                None => Line::from(Span::styled("✓", Style::default().fg(Color::Green))),
            };
            let [_, msg_area] =
                Layout::horizontal([Constraint::Length(label_w), Constraint::Min(1)])
                    .areas(areas[i * 2 + 1]);
            f.render_widget(Paragraph::new(msg), msg_area);
        }
        let outcome = match &self.outcome {
            None => Line::from(Span::styled(
                "Ctrl+S save · Ctrl+R reset · Ctrl+K keep values",
                Style::default().fg(Color::DarkGray),
            )),
            Some(Outcome::Saving) => Line::from("Saving…"),
            Some(Outcome::Saved {
                id,
                publish: PublishState::Published { partition, offset },
            }) => Line::from(vec![
                Span::styled(format!("✓ Saved #{id}"), Style::default().fg(Color::Green)),
                Span::raw(format!(
                    " · published to partition {partition}, offset {offset}"
                )),
            ]),
            Some(Outcome::Saved {
                id,
                publish: PublishState::Pending,
            }) => Line::from(vec![
                Span::styled(format!("✓ Saved #{id}"), Style::default().fg(Color::Green)),
                Span::styled(
                    " · pending: Kafka has not acknowledged yet; it will be published",
                    Style::default().fg(Color::Yellow),
                ),
            ]),
            Some(Outcome::Refused(m)) => {
                Line::from(Span::styled(m.clone(), Style::default().fg(Color::Red)))
            }
            Some(Outcome::Failed(m)) => Line::from(Span::styled(
                format!("✗ Not saved: {}", printable(m)),
                Style::default().fg(Color::Red),
            )),
        };
        f.render_widget(Paragraph::new(outcome), areas[FIELDS.len() * 2 + 1]);
    }
}
