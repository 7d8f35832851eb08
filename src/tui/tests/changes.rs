//! Catalogue changes in the UI: e/c/d from the table and the details window, a stale save,
//! and other people's changes arriving on the topic.

use crossterm::event::KeyCode;

use super::super::app::{Action, Effect, Overlay, Pane};
use super::super::form::ChangeError;
use super::{ctrl, key, load_page, logged_in, main, message, product, product_json, screen, typed};
use crate::domain::Product;

fn on_table(app: &mut super::super::app::App) {
    load_page(app, 1..=5, 5);
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    assert_eq!(main(app).pane, Pane::Table);
}

fn at_version(id: i64, version: i64) -> Product {
    let mut p = product(id);
    p.revision.version = version;
    p
}

#[test]
fn e_edits_the_selected_product_and_saves_an_update() {
    let mut app = logged_in();
    on_table(&mut app);
    app.on_key(key(KeyCode::Char('j'))); // product 4
    app.on_key(key(KeyCode::Char('e')));
    assert_eq!(main(&app).pane, Pane::Form);
    let s = screen(&mut app, 100, 30);
    assert!(s.contains("Editing #4 (v1)"), "{s}");
    assert!(s.contains("Blusa 4"), "{s}");
    typed(&mut app, " azul");
    let effects = app.on_key(ctrl('s'));
    let Some(Effect::Update {
        id,
        expected,
        draft,
    }) = effects.first()
    else {
        panic!("{effects:?}")
    };
    assert_eq!((*id, *expected), (4, Some(1)));
    assert_eq!(draft.name, "Blusa 4 azul");
    assert!(
        !screen(&mut app, 100, 30).contains("Editing #4"),
        "the form is free again"
    );

    let mut saved = at_version(4, 2);
    saved.name = "Blusa 4 azul".into();
    app.on_action(Action::Updated(Ok(saved)));
    let s = screen(&mut app, 100, 30);
    assert!(s.contains("Updated #4 to v2"), "{s}");
    let row = main(&app).table.rows.iter().find(|p| p.id == 4).unwrap();
    assert_eq!(
        (row.name.as_str(), row.revision.version),
        ("Blusa 4 azul", 2),
        "row in place"
    );
}

#[test]
fn esc_cancels_an_edit_and_changes_nothing() {
    let mut app = logged_in();
    on_table(&mut app);
    app.on_key(key(KeyCode::Char('e')));
    typed(&mut app, "xyz");
    assert!(app.on_key(key(KeyCode::Esc)).is_empty());
    let s = screen(&mut app, 100, 30);
    assert!(s.contains("Editing #5 cancelled"), "{s}");
    assert!(!s.contains("Blusa 5xyz"), "{s}");
    assert!(matches!(
        app.on_key(ctrl('s')).first(),
        None | Some(Effect::Register(_))
    ));
}

#[test]
fn a_stale_save_says_so_and_offers_a_reload() {
    let mut app = logged_in();
    on_table(&mut app);
    app.on_key(key(KeyCode::Char('e')));
    typed(&mut app, " mine");
    app.on_key(ctrl('s'));
    app.on_action(Action::Updated(Err(ChangeError::Stale { current: 3 })));
    let s = screen(&mut app, 120, 30);
    assert!(s.contains("changed by someone else (now v3)"), "{s}");
    assert!(s.contains("Blusa 5 mine"), "what was typed is back: {s}");
    // Ctrl+L reads it again; what was typed is set aside, not lost.
    assert_eq!(app.on_key(ctrl('l')), vec![Effect::LoadForEdit(5)]);
    app.on_action(Action::ForEdit(Ok(Some(at_version(5, 3)))));
    let s = screen(&mut app, 120, 30);
    assert!(s.contains("Editing #5 (v3)"), "{s}");
    assert!(main(&app).form.has_unsaved_input());
    let effects = app.on_key(ctrl('s'));
    assert!(
        matches!(
            effects.first(),
            Some(Effect::Update {
                id: 5,
                expected: Some(3),
                ..
            })
        ),
        "{effects:?}"
    );
    // A second stale answer, then Ctrl+S saves over the newer version, knowingly.
    app.on_action(Action::Updated(Err(ChangeError::Stale { current: 4 })));
    let effects = app.on_key(ctrl('s'));
    assert!(
        matches!(
            effects.first(),
            Some(Effect::Update {
                id: 5,
                expected: Some(4),
                ..
            })
        ),
        "{effects:?}"
    );
}

#[test]
fn d_deletes_after_a_confirmation_naming_the_product() {
    let mut app = logged_in();
    on_table(&mut app);
    app.on_key(key(KeyCode::Char('d')));
    assert!(matches!(app.overlay, Some(Overlay::ConfirmDelete(_))));
    let s = screen(&mut app, 100, 30);
    assert!(s.contains("Delete #5 Blusa 5 (v1)?"), "{s}");
    assert!(
        app.on_key(key(KeyCode::Char('n'))).is_empty(),
        "any other key keeps it"
    );
    assert!(app.overlay.is_none());
    // From the details window too.
    app.on_key(key(KeyCode::Enter));
    app.on_key(key(KeyCode::Char('d')));
    let effects = app.on_key(key(KeyCode::Char('y')));
    assert_eq!(effects, vec![Effect::Delete { id: 5, expected: 1 }]);
    app.on_action(Action::Deleted {
        id: 5,
        result: Ok(at_version(5, 2)),
    });
    let m = main(&app);
    assert!(m.table.rows.iter().all(|p| p.id != 5), "the row is gone");
    assert_eq!(m.table.total, 4);
    assert!(m.notice.as_deref().unwrap().contains("Deleted #5"));
}

#[test]
fn c_copies_a_product_into_the_form_as_a_new_one() {
    let mut app = logged_in();
    on_table(&mut app);
    app.on_key(key(KeyCode::Char('c')));
    assert_eq!(main(&app).pane, Pane::Form);
    let s = screen(&mut app, 100, 30);
    assert!(s.contains("copy of #5"), "{s}");
    assert!(!s.contains("Editing"), "{s}");
    let effects = app.on_key(ctrl('s'));
    assert!(
        matches!(effects.first(), Some(Effect::Register(d)) if d.name == "Blusa 5" && d.amount == "59.99"),
        "{effects:?}"
    );
}

#[test]
fn changes_on_the_topic_update_the_table_live() {
    let mut app = logged_in();
    on_table(&mut app);
    let mut updated = message("3", &product_json(3), 20);
    updated.headers = vec![
        ("event".into(), "updated".into()),
        ("version".into(), "2".into()),
    ];
    let mut deleted = message("2", "", 21);
    deleted.payload = None;
    deleted.headers = vec![
        ("event".into(), "deleted".into()),
        ("version".into(), "2".into()),
    ];
    let effects = app.on_tail(vec![updated.clone(), deleted]);
    assert_eq!(effects, vec![Effect::ReloadRow(3)]);
    assert!(main(&app).table.rows.iter().all(|p| p.id != 2));
    app.on_action(Action::Row {
        id: 3,
        result: Ok(Some(at_version(3, 2))),
    });
    assert_eq!(main(&app).table.version_of(3), Some(2));
    assert!(
        app.on_tail(vec![updated]).is_empty(),
        "an old version reloads nothing"
    );
    // The tail shows the event and version; a tombstone is a product event, not foreign.
    app.on_key(key(KeyCode::Char('3')));
    let s = screen(&mut app, 120, 30);
    assert!(s.contains("deleted"), "{s}");
    assert!(s.contains("updated"), "{s}");
    assert!(!s.contains("≠ schema · tombstone"), "{s}");
}
