//! Panes rendered on ratatui's TestBackend, and key handling (key -> effect -> state).
//! Shared helpers and the login, form and navigation tests; `lists` has the table and tail.

use chrono::TimeZone;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{Action, App, Effect, Overlay, Pane, Screen};
use super::table::{Fetch, Loaded, TableRequest};
use crate::domain::{Amount, Product, PublishState};
use crate::service::Status;
use crate::service::{TailMessage, TailStart};

pub(super) fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}
pub(super) fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}
pub(super) fn typed(app: &mut App, s: &str) -> Vec<Effect> {
    s.chars()
        .flat_map(|c| app.on_key(key(KeyCode::Char(c))))
        .collect()
}

pub(super) fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| super::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    buf.content
        .chunks(w as usize)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn status(db_ok: bool, broker_ok: bool, pending: i64) -> Status {
    Status {
        database: "sqlite",
        database_ok: db_ok,
        database_error: None,
        broker_ok,
        broker_error: None,
        broker_embedded: true,
        broker_note: None,
        elsewhere: Vec::new(),
        refused: None,
        bootstrap: "127.0.0.1:40000".into(),
        pending: db_ok.then_some(pending),
    }
}

pub(super) fn product(id: i64) -> Product {
    Product {
        id,
        name: format!("Blusa {id}"),
        description: "Blusa com touca\nsegunda linha".into(),
        category: "Vestuário".into(),
        pricing_id: id,
        amount: Amount::from_cents(5999).unwrap(),
        currency: "BRL".into(),
        availability_id: id,
        quantity: 50,
        timestamp: chrono::Utc
            .with_ymd_and_hms(2024, 6, 29, 23, 47, 19)
            .unwrap(),
        publish: if id % 2 == 0 {
            PublishState::Pending
        } else {
            PublishState::Published {
                partition: 1,
                offset: id,
            }
        },
        revision: Default::default(),
    }
}

pub(super) fn message(key: &str, payload: &str, offset: i64) -> TailMessage {
    TailMessage {
        partition: 0,
        offset,
        key: Some(key.into()),
        timestamp_ms: Some(1_719_704_839_000),
        payload: Some(payload.as_bytes().to_vec()),
        headers: vec![
            ("event".into(), "created".into()),
            ("version".into(), "1".into()),
        ],
    }
}

pub(super) fn product_json(id: i64) -> String {
    format!(
        r#"{{"id":{id},"name":"Blusa {id}","description":"d","pricing":{{"amount":59.99,"currency":"BRL"}},"availability":{{"quantity":50,"timestamp":"2024-06-29T23:47:19Z"}},"category":"Vestuário"}}"#
    )
}

pub(super) fn logged_in() -> App {
    logged_in_as(crate::domain::Role::Admin)
}

pub(super) fn logged_in_as(role: crate::domain::Role) -> App {
    let mut app = App::new(chrono_tz::America::Sao_Paulo, "BRL", 100, 5);
    app.on_action(Action::Ready {
        database: "sqlite".into(),
        bootstrap: "127.0.0.1:40000".into(),
        embedded: true,
        first_run: None,
    });
    let effects = app.on_action(Action::LoggedIn(crate::service::Principal {
        username: "vert".into(),
        role,
        generation: 0,
    }));
    assert!(effects.contains(&Effect::StartTail(TailStart::Last(100))));
    assert!(effects.contains(&Effect::RefreshStatus));
    app.on_action(Action::Status(status(true, true, 0)));
    app
}

pub(super) fn main(app: &App) -> &super::session::Main {
    app.main().expect("main screen")
}

pub(super) fn load_page(app: &mut App, ids: std::ops::RangeInclusive<i64>, total: i64) {
    let generation = {
        let Screen::Main(m) = &mut app.screen else {
            panic!()
        };
        m.table.request(Fetch::Top).generation
    };
    let rows: Vec<Product> = ids.rev().map(product).collect();
    let request = TableRequest {
        generation,
        fetch: Fetch::Top,
        filter: None,
    };
    app.on_action(Action::Page {
        request,
        result: Ok(Loaded::page(rows, Some(0))),
    });
    app.on_action(Action::Count {
        filter: None,
        result: Ok(total),
    });
}

mod changes;
mod input;
mod lists;
mod pipeline;
mod roles;
mod snapshots;
mod tools;

#[test]
fn login_screen_masks_the_password_and_submits() {
    let mut app = App::new(chrono_tz::UTC, "BRL", 100, 5);
    let s = screen(&mut app, 80, 24);
    assert!(
        s.contains("dataflow · log in") && s.contains("Username:") && s.contains("Password:"),
        "{s}"
    );
    assert!(s.contains("starting the database and the broker"));
    assert!(typed(&mut app, "vert").is_empty());
    app.on_key(key(KeyCode::Tab));
    typed(&mut app, "secret");
    let s = screen(&mut app, 80, 24);
    assert!(!s.contains("secret") && s.contains("••••••"), "{s}");
    let effects = app.on_key(key(KeyCode::Enter));
    assert_eq!(
        effects,
        vec![Effect::Login {
            username: "vert".into(),
            password: "secret".into()
        }]
    );
    app.on_action(Action::LoginFailed("Incorrect username or password".into()));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Incorrect username or password"));
    assert!(
        !s.contains("••••••"),
        "the password is cleared after a failure"
    );
}

#[test]
fn start_up_failure_is_shown_on_the_login_screen() {
    let mut app = App::new(chrono_tz::UTC, "BRL", 100, 5);
    app.on_action(Action::StartFailed(
        "database unavailable: connection refused".into(),
    ));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Start-up failed: database unavailable"), "{s}");
}

#[test]
fn main_screen_at_80x24_shows_tabs_form_and_status() {
    let mut app = logged_in();
    let s = screen(&mut app, 80, 24);
    for want in [
        "1 Form",
        "2 Products",
        "3 Topic",
        "user vert",
        "Name:",
        "Quantity:",
        "Currency:    BRL",
        "DB sqlite up",
        "Kafka embedded 127.0.0.1:40000 up",
        "pending 0",
    ] {
        assert!(s.contains(want), "missing {want:?} in\n{s}");
    }
    app.on_action(Action::Status(status(false, false, 0)));
    let s = screen(&mut app, 80, 24);
    assert!(
        s.contains("DB sqlite DOWN") && s.contains("DOWN │ pending ?"),
        "{s}"
    );
}

#[test]
fn form_validates_as_you_type_and_refuses_bad_submits() {
    let mut app = logged_in();
    typed(&mut app, "Blusa");
    app.on_key(key(KeyCode::Tab));
    app.on_key(key(KeyCode::Tab)); // description may stay empty
    app.on_key(key(KeyCode::Tab)); // category left empty: touched, so its reason shows
    typed(&mut app, "-1");
    let s = screen(&mut app, 100, 30);
    assert!(s.contains("✗ is required"), "{s}");
    assert!(s.contains("✗ must be >= 0"), "{s}");
    assert!(app.on_key(ctrl('s')).is_empty(), "refused: nothing to run");
    let s = screen(&mut app, 100, 30);
    assert!(s.contains("Not saved: 3 fields to fix"), "{s}");
    assert_eq!(main(&app).form.focus, 2, "focus on the first bad field");
}

#[test]
fn a_valid_form_registers_and_is_ready_for_the_next() {
    let mut app = logged_in();
    typed(&mut app, "Blusa");
    app.on_key(key(KeyCode::Enter)); // to description
    typed(&mut app, "Blusa com touca");
    app.on_key(key(KeyCode::Tab));
    typed(&mut app, "Vestuário");
    app.on_key(key(KeyCode::Enter));
    typed(&mut app, "59.99");
    app.on_key(key(KeyCode::Enter));
    app.on_key(key(KeyCode::Enter)); // currency keeps its default
    typed(&mut app, "50");
    let effects = app.on_key(key(KeyCode::Enter)); // Enter on the last field saves
    let Some(Effect::Register(d)) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(
        (
            d.name.as_str(),
            d.description.as_str(),
            d.category.as_str(),
            d.amount.as_str(),
            d.currency.as_str(),
            d.quantity.as_str()
        ),
        (
            "Blusa",
            "Blusa com touca",
            "Vestuário",
            "59.99",
            "BRL",
            "50"
        )
    );
    assert!(screen(&mut app, 80, 24).contains("Saving Blusa…"));
    let mut saved = product(7);
    saved.publish = PublishState::Pending;
    app.on_action(Action::Registered(Ok(saved)));
    let s = screen(&mut app, 100, 24);
    assert!(s.contains("Saved #7") && s.contains("pending"), "{s}");
    assert!(
        !main(&app).form.has_unsaved_input(),
        "form emptied for the next product"
    );
    assert_eq!(main(&app).form.focus, 0);
    app.on_action(Action::Published(crate::service::PublishedAck {
        outbox_id: 1,
        product_id: 7,
        partition: 2,
        offset: 9,
    }));
    assert!(screen(&mut app, 100, 24).contains("published to partition 2, offset 9"));
}

/// Types a valid product into the form, from its first field.
fn fill_valid(app: &mut App, name: &str) {
    typed(app, name);
    app.on_key(key(KeyCode::Tab));
    app.on_key(key(KeyCode::Tab));
    typed(app, "Vestuário");
    app.on_key(key(KeyCode::Tab));
    typed(app, "10");
    app.on_key(key(KeyCode::Tab));
    app.on_key(key(KeyCode::Tab));
    typed(app, "1");
}

#[test]
fn a_save_in_flight_ignores_submits_and_never_wipes_the_next_product() {
    let mut app = logged_in();
    fill_valid(&mut app, "First");
    let effects = app.on_key(ctrl('s'));
    assert!(matches!(effects.first(), Some(Effect::Register(d)) if d.name == "First"));
    assert!(
        app.on_key(ctrl('s')).is_empty(),
        "a second submit while saving sends nothing"
    );
    assert!(screen(&mut app, 100, 24).contains("still in progress"));
    // The form is free at once: the next product is typed while the first is saving.
    typed(&mut app, "Second");
    assert!(
        app.on_key(ctrl('s')).is_empty(),
        "still saving: not sent, and not lost"
    );
    app.on_action(Action::Registered(Ok(product(1))));
    assert_eq!(
        main(&app).form.draft().name,
        "Second",
        "the earlier save's result does not wipe what is typed"
    );
    assert!(screen(&mut app, 100, 24).contains("Saved #1"));
}

#[test]
fn a_failed_save_comes_back_or_is_set_aside() {
    let mut app = logged_in();
    fill_valid(&mut app, "First");
    app.on_key(ctrl('s'));
    app.on_action(Action::Registered(Err("database unavailable".into())));
    assert_eq!(
        main(&app).form.draft().name,
        "First",
        "back in the empty form"
    );
    app.on_key(ctrl('s'));
    typed(&mut app, "Other");
    app.on_action(Action::Registered(Err("database unavailable".into())));
    assert_eq!(main(&app).form.draft().name, "Other", "what is typed stays");
    assert!(screen(&mut app, 120, 24).contains("Ctrl+B brings it back"));
    app.on_key(ctrl('b'));
    assert_eq!(main(&app).form.draft().name, "First", "swapped in");
    app.on_key(ctrl('b'));
    assert_eq!(
        main(&app).form.draft().name,
        "Other",
        "and back: nothing lost"
    );
}

#[test]
fn first_minutes_currency_amount_and_login_hint() {
    // The hint waits for start-up to have read the stored password: a shared database whose
    // API user has another password never shows it.
    let mut app = App::new(chrono_tz::UTC, "BRL", 100, 1000);
    assert!(!screen(&mut app, 100, 24).contains("First run"));
    let ready = |first_run: Option<&str>| Action::Ready {
        database: "sqlite".into(),
        bootstrap: "127.0.0.1:40000".into(),
        embedded: true,
        first_run: first_run.map(str::to_string),
    };
    app.on_action(ready(None));
    assert!(!screen(&mut app, 100, 24).contains("First run"));
    let mut app = App::new(chrono_tz::UTC, "BRL", 100, 1000);
    app.on_action(ready(Some("vert")));
    assert!(screen(&mut app, 100, 24).contains("First run: log in as vert / vert"));
    let mut app = logged_in();
    for _ in 0..4 {
        app.on_key(key(KeyCode::Tab));
    }
    assert_eq!(main(&app).form.focus, 4, "on the currency");
    typed(&mut app, "usd");
    assert_eq!(
        main(&app).form.draft().currency,
        "USD",
        "replaces the default, upper-cased"
    );
    app.on_key(key(KeyCode::BackTab));
    typed(&mut app, "1e3");
    assert_eq!(main(&app).form.field_error(3), None, "1e3 is an amount");
    typed(&mut app, "e-999999999");
    assert!(
        main(&app).form.field_error(3).is_some(),
        "a huge exponent is refused"
    );
}

#[test]
fn keep_values_and_failed_saves_lose_nothing() {
    let mut app = logged_in();
    app.on_key(ctrl('k'));
    typed(&mut app, "Blusa");
    app.on_action(Action::Registered(Err("database unavailable".into())));
    assert!(screen(&mut app, 80, 24).contains("Not saved: database unavailable"));
    assert!(
        main(&app).form.has_unsaved_input(),
        "typed values stay after a failure"
    );
    app.on_action(Action::Registered(Ok(product(3))));
    assert_eq!(
        main(&app).form.draft().name,
        "Blusa",
        "kept for fast similar entries"
    );
    app.on_key(ctrl('r'));
    assert!(!main(&app).form.has_unsaved_input());
}

#[test]
fn ctrl_c_asks_only_with_unsaved_input() {
    let mut app = logged_in();
    typed(&mut app, "x");
    app.on_key(ctrl('c'));
    assert!(!app.quit && matches!(app.overlay, Some(Overlay::ConfirmQuit)));
    assert!(screen(&mut app, 80, 24).contains("Quit and lose it?"));
    app.on_key(key(KeyCode::Char('n')));
    assert!(!app.quit && app.overlay.is_none());
    app.on_key(ctrl('c'));
    app.on_key(key(KeyCode::Char('y')));
    assert!(app.quit);
    let mut clean = logged_in();
    clean.on_key(ctrl('c'));
    assert!(clean.quit, "nothing to lose: quits at once");
}

#[test]
fn panes_switch_by_tab_digits_and_alt_digits() {
    let mut app = logged_in();
    for _ in 0..6 {
        app.on_key(key(KeyCode::Tab));
    }
    assert_eq!(
        main(&app).pane,
        Pane::Table,
        "Tab past the last field leaves the form"
    );
    app.on_key(key(KeyCode::Char('3')));
    assert_eq!(main(&app).pane, Pane::Tail);
    app.on_key(key(KeyCode::BackTab));
    assert_eq!(main(&app).pane, Pane::Table);
    // A pane digit never becomes text: `1` shows the form without entering a field, so
    // the next digit still switches panes.
    app.on_key(key(KeyCode::Char('1')));
    assert!(main(&app).pane == Pane::Form && !main(&app).form.editing);
    typed(&mut app, "2");
    assert_eq!(main(&app).pane, Pane::Table, "still a pane key");
    assert_eq!(main(&app).form.draft().name, "");
    // In a field (Enter, or any letter) digits are text.
    app.on_key(key(KeyCode::Char('1')));
    typed(&mut app, "B2");
    assert_eq!(
        main(&app).pane,
        Pane::Form,
        "a digit typed in a field is text"
    );
    assert_eq!(
        main(&app).form.draft().quantity,
        "B2",
        "in the focused field"
    );
    app.on_key(KeyEvent::new(KeyCode::Char('2'), KeyModifiers::ALT));
    assert_eq!(main(&app).pane, Pane::Table);
    // Logging out with a draft asks first, as quitting does.
    app.on_key(ctrl('o'));
    assert!(matches!(app.overlay, Some(Overlay::ConfirmLogout)));
    assert!(screen(&mut app, 80, 24).contains("Log out and lose them?"));
    app.on_key(key(KeyCode::Char('n')));
    assert!(matches!(app.screen, Screen::Main(_)) && app.overlay.is_none());
    assert_eq!(main(&app).form.draft().quantity, "B2", "nothing lost");
    app.on_key(ctrl('o'));
    app.on_key(key(KeyCode::Char('y')));
    assert!(
        matches!(app.screen, Screen::Login(_)),
        "log out returns to the login screen"
    );
}

#[test]
fn help_lists_every_binding_within_80x24() {
    let mut app = logged_in();
    app.on_key(key(KeyCode::F(1)));
    let s = screen(&mut app, 80, 24);
    for (k, _) in super::help::HELP {
        assert!(s.contains(k), "help misses {k}:\n{s}");
    }
    app.on_key(key(KeyCode::Char('x')));
    assert!(app.overlay.is_none());
}

#[test]
fn any_size_renders_without_panic() {
    let mut app = logged_in();
    load_page(&mut app, 1..=5, 5);
    app.on_tail(vec![message("1", &product_json(1), 1)]);
    for pane in ['1', '2', '3', '4'] {
        app.on_key(key(KeyCode::Esc));
        app.on_key(key(KeyCode::Char(pane)));
        for (w, h) in [(1, 1), (10, 3), (20, 5), (40, 10), (80, 24), (200, 60)] {
            screen(&mut app, w, h);
        }
    }
    let mut login = App::new(chrono_tz::UTC, "BRL", 1, 1);
    for (w, h) in [(1, 1), (10, 3), (30, 8)] {
        screen(&mut login, w, h);
    }
}

#[test]
fn entering_a_filled_field_puts_the_cursor_at_its_end() {
    let mut app = logged_in();
    for _ in 0..4 {
        app.on_key(key(KeyCode::Tab));
    }
    for _ in 0..3 {
        app.on_key(key(KeyCode::Backspace));
    }
    typed(&mut app, "USD");
    assert_eq!(main(&app).form.draft().currency, "USD");
}
