//! Roles in the TUI: the status bar says who and what; keys a role may not use say so at
//! once instead of failing later; a revoked login goes back to the login screen.

use crossterm::event::KeyCode;

use super::*;
use crate::domain::Role;

fn on_table(app: &mut App) {
    load_page(app, 1..=5, 5);
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    assert_eq!(main(app).pane, Pane::Table);
}

#[test]
fn the_status_bar_shows_the_user_and_role() {
    let mut app = logged_in_as(Role::Editor);
    let s = screen(&mut app, 120, 30);
    assert!(s.contains("user vert (editor)"), "{s}");
    assert!(s.contains("vert (editor)"), "{s}");
}

#[test]
fn a_viewer_starts_at_the_table_and_cannot_write() {
    let mut app = logged_in_as(Role::Viewer);
    assert_eq!(main(&app).pane, Pane::Table);
    assert!(!main(&app).form.editing);
    load_page(&mut app, 1..=5, 5);
    let needs = |app: &App| main(app).notice.clone().unwrap_or_default();
    for c in ['e', 'c', 'd', 'i'] {
        app.on_action(Action::Wrote(Ok(String::new())));
        assert!(app.on_key(key(KeyCode::Char(c))).is_empty(), "{c}");
        assert!(app.overlay.is_none(), "{c} opened nothing");
        assert!(
            needs(&app).contains("needs the editor role; you are a viewer"),
            "{c}: {}",
            needs(&app)
        );
    }
    // Saving from anywhere, and the form pane itself.
    assert!(app.on_key(ctrl('s')).is_empty());
    assert!(needs(&app).contains("Saving products needs the editor role"));
    app.on_key(key(KeyCode::Char('1')));
    assert!(!main(&app).form.editing, "typing does not reach the form");
    assert!(typed(&mut app, "Blusa").is_empty());
    assert!(needs(&app).contains("Registering products needs the editor role"));
    let s = screen(&mut app, 120, 30);
    assert!(
        s.contains("Registering products needs the editor role"),
        "{s}"
    );
    // From the details window: the key is refused, the window stays.
    app.on_key(key(KeyCode::Char('2')));
    app.on_key(key(KeyCode::Enter));
    app.on_key(key(KeyCode::Char('d')));
    assert!(matches!(app.overlay, Some(Overlay::Product(_))));
    // Reading is theirs: details, the tail, exports.
    app.overlay = None;
    app.on_key(key(KeyCode::Char('x')));
    assert!(
        matches!(app.overlay, Some(Overlay::Prompt(_))),
        "export asks for a path"
    );
}

#[test]
fn an_editor_writes_but_the_role_can_change_under_them() {
    let mut app = logged_in_as(Role::Editor);
    on_table(&mut app);
    app.on_key(key(KeyCode::Char('d')));
    assert!(matches!(app.overlay, Some(Overlay::ConfirmDelete(_))));
    app.on_key(key(KeyCode::Esc));
    // An admin makes them a viewer: the next delete is refused at the key.
    app.on_action(Action::RoleChanged(Role::Viewer));
    assert_eq!(main(&app).role, Role::Viewer);
    assert!(
        main(&app)
            .notice
            .as_deref()
            .unwrap()
            .contains("made you a viewer")
    );
    app.on_key(key(KeyCode::Char('d')));
    assert!(app.overlay.is_none());
}

#[test]
fn a_revoked_login_returns_to_the_login_screen() {
    let mut app = logged_in_as(Role::Editor);
    let effects = app.on_action(Action::SessionEnded(
        "Logged out: this login was revoked (password changed or user disabled); log in again"
            .into(),
    ));
    assert_eq!(effects, vec![Effect::EndSession]);
    assert!(matches!(app.screen, Screen::Login(_)));
    let s = screen(&mut app, 120, 30);
    assert!(s.contains("Logged out"), "{s}");
}

#[test]
fn admins_read_the_audit_trail_and_others_hear_the_role() {
    let mut app = logged_in_as(Role::Editor);
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('4')));
    assert!(app.on_key(key(KeyCode::Char('a'))).is_empty());
    assert!(app.overlay.is_none());
    assert!(
        main(&app)
            .notice
            .clone()
            .unwrap_or_default()
            .contains("Reading the audit trail needs the admin role; you are an editor")
    );

    let mut app = logged_in_as(Role::Admin);
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('4')));
    assert_eq!(app.on_key(key(KeyCode::Char('a'))), vec![Effect::LoadAudit]);
    assert!(screen(&mut app, 140, 30).contains("Reading the audit trail"));
    let entry = |id: i64, action: &str, outcome: &str| crate::domain::AuditRecord {
        id,
        at: chrono::Utc::now(),
        actor: "maria".into(),
        action: action.into(),
        target: format!("product {id} v2"),
        outcome: outcome.into(),
        via: "http".into(),
        address: Some("203.0.113.9".into()),
        user_agent: None,
        detail: None,
    };
    app.on_action(Action::Audit(Ok(vec![
        entry(2, "product.delete", "ok"),
        entry(1, "login.failed", "ok"),
    ])));
    let s = screen(&mut app, 140, 30);
    assert!(s.contains("Audit trail"), "{s}");
    assert!(
        s.contains("product.delete") && s.contains("203.0.113.9"),
        "{s}"
    );
    app.on_key(key(KeyCode::Char('j')));
    let s = screen(&mut app, 140, 30);
    assert!(
        !s.contains("product.delete") && s.contains("login.failed"),
        "scrolled: {s}"
    );
    assert_eq!(app.on_key(key(KeyCode::Char('r'))), vec![Effect::LoadAudit]);
    app.on_key(key(KeyCode::Esc));
    assert!(app.overlay.is_none());
}
