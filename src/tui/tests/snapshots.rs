//! The small screens as pictures: each is rendered on TestBackend and compared with its text
//! file in `snapshots/` (open them to see what a 60x16 terminal shows). After an intended
//! change, `UPDATE_SNAPSHOTS=1 cargo test --lib snapshots` writes them anew; review the diff.

use crossterm::event::KeyCode;

use super::*;

fn check(name: &str, screen: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/tui/tests/snapshots")
        .join(format!("{name}.txt"));
    let screen = format!("{}\n", screen.trim_end_matches('\n'));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &screen).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 writes it)", path.display()));
    assert_eq!(screen, want, "{name} differs from {}", path.display());
}

#[test]
fn small_screens() {
    let mut app = App::new(chrono_tz::UTC, "BRL", 100, 1000);
    check("login_60x16", &screen(&mut app, 60, 16));
    let mut app = logged_in();
    typed(&mut app, "Mesa de jantar");
    app.on_key(key(KeyCode::Tab));
    app.on_key(key(KeyCode::Tab));
    check("form_60x16", &screen(&mut app, 60, 16));
    check("too_small_40x12", &screen(&mut app, 40, 12));
    check("too_small_20x8", &screen(&mut app, 20, 8));
    app.on_key(key(KeyCode::F(1)));
    check("help_60x16", &screen(&mut app, 60, 16));
    app.on_key(key(KeyCode::Char('x')));
    app.on_key(key(KeyCode::Esc));
    load_page(&mut app, 1..=3, 3);
    app.on_key(key(KeyCode::Char('2')));
    app.on_key(key(KeyCode::Char('d')));
    check("delete_60x16", &screen(&mut app, 60, 16));
}
