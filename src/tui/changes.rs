//! Catalogue changes in the UI: `e` edit, `c` copy, `d` delete (after a confirmation), their
//! results, and other people's changes seen on the topic, which update the table live.

use super::events::{Action, Effect, Overlay, Pane};
use super::form::{ChangeError, FormOutcome};
use super::session::Main;
use crate::domain::{EventKind, HEADER_EVENT, HEADER_VERSION, Product};
use crate::service::TailMessage;

/// The effects of a form key or submit.
pub fn form_effects(outcome: FormOutcome) -> Vec<Effect> {
    match outcome {
        FormOutcome::Submit(d) => vec![Effect::Register(d)],
        FormOutcome::Update {
            id,
            expected,
            draft,
        } => vec![Effect::Update {
            id,
            expected,
            draft,
        }],
        FormOutcome::Reload(id) => vec![Effect::LoadForEdit(id)],
        FormOutcome::None
        | FormOutcome::Leave
        | FormOutcome::LeaveNext
        | FormOutcome::LeavePrev => Vec::new(),
    }
}

/// `e` opens the product in the form, `c` starts a new product from it, `d` asks to delete it.
/// What a change key does, as a role refusal names it.
pub fn change_verb(key: char) -> &'static str {
    match key {
        'e' => "Editing products",
        'c' => "Copying a product into a new one",
        _ => "Deleting products",
    }
}

pub fn change_key(main: &mut Main, key: char, p: Product) -> Option<Overlay> {
    match key {
        'e' | 'c' => {
            if key == 'e' {
                main.form.edit(&p);
            } else {
                main.form.copy(&p);
            }
            main.pane = Pane::Form;
            main.notice = None;
            None
        }
        'd' => Some(Overlay::ConfirmDelete(Box::new(p))),
        _ => None,
    }
}

fn refused(id: i64, verb: &str, e: &ChangeError) -> String {
    match e {
        ChangeError::Stale { current } => format!(
            "Not {verb}: #{id} was changed by someone else (now v{current}); look at it again first"
        ),
        ChangeError::NotFound => format!("#{id} was already deleted"),
        ChangeError::Other(e) => format!("Not {verb}: {e}"),
    }
}

pub fn on_change_action(main: &mut Main, action: Action) -> Vec<Effect> {
    match action {
        Action::Updated(Ok(p)) => {
            main.form.updated(&p);
            main.table.replace(p);
        }
        Action::Updated(Err(e)) => main.form.update_failed(e),
        Action::Deleted { id, result } => {
            main.notice = Some(match &result {
                Ok(p) => format!(
                    "Deleted #{id} {} (v{}): a tombstone goes to the topic",
                    super::text::printable(&p.name),
                    p.revision.version
                ),
                Err(e) => refused(id, "deleted", e),
            });
            if matches!(result, Ok(_) | Err(ChangeError::NotFound)) {
                main.table.remove(id);
            }
        }
        Action::ForEdit(Ok(Some(p))) => {
            main.form.edit(&p);
            main.pane = Pane::Form;
            main.notice = Some(format!(
                "Reloaded #{} at v{}: your version is set aside (Ctrl+B)",
                p.id, p.revision.version
            ));
            main.table.replace(p);
        }
        Action::ForEdit(Ok(None)) => {
            main.notice = Some("The product was deleted meanwhile".into());
        }
        Action::ForEdit(Err(e)) => main.notice = Some(format!("Cannot reload: {e}")),
        Action::Row {
            result: Ok(Some(p)),
            ..
        } => main.table.replace(p),
        Action::Row {
            id,
            result: Ok(None),
        } => main.table.remove(id),
        Action::Row { result: Err(e), .. } => {
            tracing::warn!(error = %e, "cannot reload a changed row");
        }
        _ => {}
    }
    Vec::new()
}

/// Updates and deletes on the topic, for products in the table: a deleted row goes, a row with
/// an older version is read again.
pub fn on_tail_changes(main: &mut Main, batch: &[TailMessage]) -> Vec<Effect> {
    let mut reload: Vec<i64> = Vec::new();
    for m in batch {
        let Some(id) = m.key.as_deref().and_then(|k| k.parse::<i64>().ok()) else {
            continue;
        };
        let Some(shown) = main.table.version_of(id) else {
            continue;
        };
        match m.header(HEADER_EVENT).and_then(EventKind::parse) {
            Some(EventKind::Deleted) => main.table.remove(id),
            Some(EventKind::Updated) => {
                let newer = m
                    .header(HEADER_VERSION)
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v > shown);
                if newer && !reload.contains(&id) {
                    reload.push(id);
                }
            }
            _ => {}
        }
    }
    reload.into_iter().map(Effect::ReloadRow).collect()
}
