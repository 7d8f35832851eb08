//! The product form: six fields validated as you type with the core's rules.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui_textarea::{CursorMove, TextArea};

use super::text::{ctrl, draw_input, pane_block, plain, printable};
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
const CURRENCY: usize = 4;

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
    /// The save in flight; `repeat` once a further submit was ignored meanwhile.
    Saving {
        name: String,
        repeat: bool,
    },
    Saved {
        id: i64,
        publish: PublishState,
    },
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
    /// The product being saved: further submits wait for it.
    in_flight: Option<ProductDraft>,
    /// A product whose save failed while something else was being typed: Ctrl+B swaps it in.
    set_aside: Option<ProductDraft>,
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
            in_flight: None,
            set_aside: None,
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
        self.has_input_in(&self.draft()) || self.set_aside.is_some()
    }

    pub fn field_error(&self, i: usize) -> Option<String> {
        self.draft().check_field(FIELDS[i].0)
    }

    /// Puts `d` in the fields, as typed.
    fn fill(&mut self, d: &ProductDraft) {
        let values = [
            &d.name,
            &d.description,
            &d.category,
            &d.amount,
            &d.currency,
            &d.quantity,
        ];
        self.inputs = values.iter().map(|v| input(v)).collect();
        self.touched = [true; 6];
    }

    /// Validates everything; refused submits show every reason and focus the first bad field.
    /// A valid product is sent and the form is free for the next one at once (unless values
    /// are kept); while a save is in flight further submits are ignored, and say so.
    pub fn submit(&mut self) -> FormOutcome {
        if let Some(Outcome::Saving { repeat, .. }) = &mut self.outcome {
            *repeat = true;
            return FormOutcome::None;
        }
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
        let draft = self.draft();
        self.outcome = Some(Outcome::Saving {
            name: draft.name.clone(),
            repeat: false,
        });
        self.in_flight = Some(draft.clone());
        if !self.keep_values {
            self.reset();
        }
        self.focus = 0;
        self.touched = [false; 6];
        self.editing = true;
        FormOutcome::Submit(draft)
    }

    /// The save finished: the result shows, and what is being typed stays as it is.
    pub fn saved(&mut self, id: i64, publish: PublishState) {
        self.in_flight = None;
        self.outcome = Some(Outcome::Saved { id, publish });
    }

    /// The save failed: its product comes back into the form if nothing new was typed,
    /// else it is set aside for Ctrl+B. Nothing typed is lost either way.
    pub fn failed(&mut self, error: String) {
        let Some(draft) = self.in_flight.take() else {
            self.outcome = Some(Outcome::Failed(error));
            return;
        };
        let now = self.draft();
        if self.has_input_in(&now) && now != draft {
            self.set_aside = Some(draft);
            self.outcome = Some(Outcome::Failed(format!("{error} · Ctrl+B brings it back")));
        } else {
            self.fill(&draft);
            self.outcome = Some(Outcome::Failed(error));
        }
    }

    /// Swaps the product set aside after a failed save with what is in the form.
    fn swap_set_aside(&mut self) {
        if let Some(back) = self.set_aside.take() {
            let now = self.draft();
            self.fill(&back);
            if now != ProductDraft::default() && self.has_input_in(&now) {
                self.set_aside = Some(now);
            }
        }
    }

    fn has_input_in(&self, d: &ProductDraft) -> bool {
        [&d.name, &d.description, &d.category, &d.amount, &d.quantity]
            .iter()
            .any(|s| !s.is_empty())
            || d.currency != self.default_currency
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
        if ctrl(&key, 'b') {
            self.swap_set_aside();
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
        let key = self.currency_key(key);
        if self.inputs[self.focus].input(key) {
            self.touched[self.focus] = true;
        }
        FormOutcome::None
    }

    /// In the currency field, letters are upper-cased as typed, and the first one typed over
    /// the untouched default replaces it (`usd` gives `USD`, not `BRLusd`).
    fn currency_key(&mut self, key: KeyEvent) -> KeyEvent {
        let KeyCode::Char(c) = key.code else {
            return key;
        };
        if self.focus != CURRENCY || plain(&key).is_none() {
            return key;
        }
        if !self.touched[CURRENCY] && self.draft().currency == self.default_currency {
            self.inputs[CURRENCY] = input("");
        }
        KeyEvent::new(KeyCode::Char(c.to_ascii_uppercase()), key.modifiers)
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
            Some(Outcome::Saving { name, repeat }) => Line::from(vec![
                Span::raw(format!("Saving {}…", printable(name))),
                Span::styled(
                    if *repeat {
                        " still in progress: Ctrl+S works again once it is done"
                    } else {
                        " the form is free for the next product"
                    },
                    Style::default().fg(if *repeat {
                        Color::Yellow
                    } else {
                        Color::DarkGray
                    }),
                ),
            ]),
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
