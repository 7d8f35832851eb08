//! The product form: six fields validated as you type with the core's rules. It registers a
//! new product, or changes one (`edit.rs`).

mod edit;
mod view;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::style::Style;
use ratatui_textarea::{CursorMove, TextArea};

use super::text::{ctrl, plain};
use crate::domain::{ProductDraft, PublishState};

pub use edit::{ChangeError, EditTarget};

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
    /// Save `draft` over product `id`, read at version `expected`.
    Update {
        id: i64,
        expected: Option<i64>,
        draft: ProductDraft,
    },
    /// Tab past the last field, or Shift-Tab before the first: leave for another pane.
    LeaveNext,
    LeavePrev,
    Leave,
    /// Read product `id` again into the form (after a stale save).
    Reload(i64),
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
    Updated {
        id: i64,
        version: i64,
        publish: PublishState,
    },
    /// A save found a newer version: reload or save over it.
    Stale {
        id: i64,
        message: String,
    },
    Refused(String),
    Failed(String),
    Note(String),
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
    /// Drafts put aside (a save that failed while the next was typed, or what was typed
    /// when `e`/`c` filled the form), newest last: Ctrl+B swaps the newest in. Never dropped.
    set_aside: Vec<ProductDraft>,
    /// The product being changed (None: a new product).
    target: Option<EditTarget>,
    /// The target of the change in flight.
    in_flight_target: Option<EditTarget>,
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
            set_aside: Vec::new(),
            target: None,
            in_flight_target: None,
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
        self.target = None;
    }

    /// What the fields hold, as saved: spaces and line breaks at either end of any field
    /// are dropped (one rule for every field, said in the hint bar).
    pub fn draft(&self) -> ProductDraft {
        let v = |i: usize| self.inputs[i].lines().join("\n").trim().to_string();
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
        self.has_input_in(&self.draft()) || !self.set_aside.is_empty()
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
        let out = self.submit_edit(draft);
        if !self.keep_values {
            self.reset();
        }
        self.focus = 0;
        self.touched = [false; 6];
        self.editing = true;
        out
    }

    /// The save finished: the result shows, and what is being typed stays as it is.
    pub fn saved(&mut self, id: i64, publish: PublishState) {
        self.in_flight = None;
        self.outcome = Some(Outcome::Saved { id, publish });
    }

    /// The save failed: its product comes back into the form if nothing new was typed (true),
    /// else it is set aside for Ctrl+B. Nothing typed is lost either way.
    pub fn failed(&mut self, error: String) -> bool {
        let Some(draft) = self.in_flight.take() else {
            self.outcome = Some(Outcome::Failed(error));
            return false;
        };
        let now = self.draft();
        if self.has_input_in(&now) && now != draft {
            self.set_aside.push(draft);
            self.outcome = Some(Outcome::Failed(format!("{error} · Ctrl+B brings it back")));
            false
        } else {
            self.fill(&draft);
            self.outcome = Some(Outcome::Failed(error));
            true
        }
    }

    /// Swaps the product set aside after a failed save with what is in the form.
    fn swap_set_aside(&mut self) {
        if let Some(back) = self.set_aside.pop() {
            let now = self.draft();
            self.fill(&back);
            if now != ProductDraft::default() && self.has_input_in(&now) {
                self.set_aside.insert(0, now);
            }
            self.outcome = Some(Outcome::Note(format!(
                "Brought back \"{}\"{}",
                back.name,
                match self.set_aside.len() {
                    0 => String::new(),
                    n => format!(" · {n} more set aside: Ctrl+B"),
                }
            )));
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
        if ctrl(&key, 'l')
            && let Some(id) = self.stale_id()
        {
            return FormOutcome::Reload(id);
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
                if self.cancel_edit() {
                    return FormOutcome::None;
                }
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

    /// A paste into the focused field, whole: one line except in the description; the
    /// currency upper-cased and replacing the untouched default, as typing does.
    pub fn paste(&mut self, text: &str) -> Result<(), String> {
        let text = super::paste::clean(text, self.focus == DESCRIPTION)?;
        let text = if self.focus == CURRENCY {
            if !self.touched[CURRENCY] && self.draft().currency == self.default_currency {
                self.inputs[CURRENCY] = input("");
            }
            text.to_uppercase()
        } else {
            text
        };
        self.inputs[self.focus].insert_str(text);
        self.touched[self.focus] = true;
        Ok(())
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
}
