//! Changing a product in the form: `e` fills it with the product and a target (id and the
//! version read), `c` fills it as a new product. A save that finds a newer version says so and
//! offers a reload; it never overwrites silently.

use super::{FormOutcome, FormPane, Outcome};
use crate::domain::{Product, ProductDraft};

/// The product being changed, and the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditTarget {
    pub id: i64,
    pub version: i64,
    /// Set when a save found this newer version: Ctrl+S then saves over it, knowingly.
    pub newer: Option<i64>,
}

/// Why a change was not saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeError {
    Stale { current: i64 },
    NotFound,
    Other(String),
}

/// The product's fields as the form shows them.
pub fn draft_of(p: &Product) -> ProductDraft {
    ProductDraft {
        name: p.name.clone(),
        description: p.description.clone(),
        category: p.category.clone(),
        amount: p.amount.to_string(),
        currency: p.currency.clone(),
        quantity: p.quantity.to_string(),
    }
}

fn set_aside_note(name: &str) -> String {
    let name = if name.is_empty() { "(no name)" } else { name };
    format!("your draft \"{name}\" is set aside: Ctrl+B brings it back")
}

impl FormPane {
    /// Opens `p` for editing; anything typed meanwhile is set aside (Ctrl+B brings it back,
    /// as a new product).
    pub fn edit(&mut self, p: &Product) {
        let aside = self.load(&draft_of(p));
        self.target = Some(EditTarget {
            id: p.id,
            version: p.revision.version,
            newer: None,
        });
        self.outcome = aside.map(|name| Outcome::Note(set_aside_note(&name)));
    }

    /// Starts a new product from `p`'s fields.
    pub fn copy(&mut self, p: &Product) {
        let aside = self.load(&draft_of(p));
        self.target = None;
        let mut note = format!("New product from a copy of #{}: Ctrl+S registers it", p.id);
        if let Some(name) = aside {
            note = format!("{note} · {}", set_aside_note(&name));
        }
        self.outcome = Some(Outcome::Note(note));
    }

    /// Fills the form with `d`; what was typed (a new product's draft) is set aside, never
    /// lost: its name is returned to be said on screen.
    fn load(&mut self, d: &ProductDraft) -> Option<String> {
        let now = self.draft();
        let changed = self.target.is_none() || self.touched.iter().any(|t| *t);
        let aside = (changed && self.has_input_in(&now)).then(|| {
            let name = now.name.clone();
            self.set_aside.push(now);
            name
        });
        self.fill(d);
        self.touched = [false; 6];
        self.focus = 0;
        self.editing = true;
        self.cursor_to_end();
        aside
    }

    /// Esc while editing: back to an empty form for a new product.
    pub(super) fn cancel_edit(&mut self) -> bool {
        let Some(t) = self.target.take() else {
            return false;
        };
        self.reset();
        self.outcome = Some(Outcome::Note(format!(
            "Editing #{} cancelled: nothing was changed",
            t.id
        )));
        true
    }

    /// The submit of an edit: what to save and over which version.
    pub(super) fn submit_edit(&mut self, draft: ProductDraft) -> FormOutcome {
        match self.target.take() {
            Some(t) => {
                let expected = Some(t.newer.unwrap_or(t.version));
                let id = t.id;
                self.in_flight_target = Some(t);
                FormOutcome::Update {
                    id,
                    expected,
                    draft,
                }
            }
            None => FormOutcome::Submit(draft),
        }
    }

    /// The change was saved.
    pub fn updated(&mut self, p: &Product) {
        self.in_flight = None;
        self.in_flight_target = None;
        self.outcome = Some(Outcome::Updated {
            id: p.id,
            version: p.revision.version,
            publish: p.publish,
        });
    }

    /// The change was refused: the edit comes back (or is set aside if something else is
    /// being typed), with what happened.
    pub fn update_failed(&mut self, error: ChangeError) {
        let target = self.in_flight_target.take();
        let id = target.as_ref().map_or(0, |t| t.id);
        let message = match &error {
            ChangeError::Stale { current } => format!(
                "#{id} was changed by someone else (now v{current}): Ctrl+L reloads it, Ctrl+S saves yours over it"
            ),
            ChangeError::NotFound => {
                format!("#{id} was deleted meanwhile: Ctrl+S registers this as a new product")
            }
            ChangeError::Other(e) => e.clone(),
        };
        if !self.failed(message.clone()) {
            return; // set aside: Ctrl+B brings it back, as a new product
        }
        self.target = match (error, target) {
            (ChangeError::Stale { current }, Some(t)) => {
                self.outcome = Some(Outcome::Stale { id, message });
                Some(EditTarget {
                    newer: Some(current),
                    ..t
                })
            }
            (ChangeError::NotFound, _) => None,
            (_, t) => t,
        };
    }

    /// The product to reload after a stale save (Ctrl+L).
    pub fn stale_id(&self) -> Option<i64> {
        self.target
            .as_ref()
            .filter(|t| t.newer.is_some())
            .map(|t| t.id)
    }

    pub fn is_editing_product(&self) -> bool {
        self.target.is_some()
    }

    pub fn title(&self) -> String {
        let title = match &self.target {
            Some(t) => format!(" Editing #{} (v{}) · Esc cancels ", t.id, t.version),
            None => " Product ".to_string(),
        };
        match self.set_aside.len() {
            0 => title,
            n => format!("{title}· {n} set aside: Ctrl+B "),
        }
    }
}
