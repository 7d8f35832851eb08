//! A demanding keyboard user: pastes on every pane, drafts never lost without a word, a
//! refused file name that keeps its box, a fast tail that keeps the selection, and the
//! smallest terminal the UI serves.

use crossterm::event::KeyCode;

use super::*;

/// The word `study` pasted on the products pane: `d` would open the delete box and `y`
/// confirm it if a paste ran as keys. It is ignored, and says so.
#[test]
fn a_paste_on_a_pane_without_a_text_field_is_ignored() {
    let mut app = logged_in();
    load_page(&mut app, 1..=5, 5);
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    app.on_paste("study");
    assert!(app.overlay.is_none(), "no delete box");
    let notice = main(&app).notice.clone().unwrap_or_default();
    assert!(
        notice.contains("Paste ignored: no text field has the focus"),
        "{notice}"
    );
    // With the filter open, the paste is the filter.
    app.on_key(key(KeyCode::Char('/')));
    app.on_paste("Blusa\n");
    assert_eq!(main(&app).table.filter, "Blusa");
}

#[test]
fn a_paste_goes_whole_into_the_focused_field() {
    let mut app = logged_in();
    app.on_paste("Line1\nLine2\tTabbed");
    assert_eq!(
        main(&app).form.draft().name,
        "Line1 Line2 Tabbed",
        "one line"
    );
    assert_eq!(main(&app).form.focus, 0, "nothing spread over other fields");
    app.on_key(key(KeyCode::Tab));
    app.on_paste("first\r\nsecond");
    assert_eq!(main(&app).form.draft().description, "first\nsecond");
    app.on_paste("bell\u{7}");
    assert!(
        main(&app)
            .notice
            .clone()
            .unwrap_or_default()
            .contains("U+0007")
    );
    assert_eq!(
        main(&app).form.draft().description,
        "first\nsecond",
        "refused whole"
    );
    for _ in 0..3 {
        app.on_key(key(KeyCode::Tab));
    }
    app.on_paste("usd");
    assert_eq!(
        main(&app).form.draft().currency,
        "USD",
        "replaces the default, upper-cased"
    );
    let long = "x".repeat(5_000);
    app.on_key(key(KeyCode::BackTab));
    app.on_key(key(KeyCode::BackTab));
    app.on_key(key(KeyCode::BackTab));
    app.on_key(ctrl('r'));
    app.on_paste(&long);
    assert_eq!(main(&app).form.draft().name.len(), 5_000, "all of it");
    // In a window with a text field, the paste is its answer.
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    app.on_key(key(KeyCode::Char('x')));
    app.on_key(ctrl('u'));
    app.on_paste("/tmp/x.csv");
    match &app.overlay {
        Some(Overlay::Prompt(p)) => assert_eq!(p.text, "/tmp/x.csv"),
        _ => panic!("the export box stays"),
    }
}

#[test]
fn a_draft_set_aside_by_an_edit_says_so_and_comes_back() {
    let mut app = logged_in();
    typed(&mut app, "Half typed");
    load_page(&mut app, 1..=3, 3);
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    app.on_key(key(KeyCode::Char('e')));
    let s = screen(&mut app, 120, 30);
    assert!(
        s.contains("your draft \"Half typed\" is set aside: Ctrl+B"),
        "{s}"
    );
    assert!(
        s.contains("1 set aside: Ctrl+B"),
        "the title keeps saying it: {s}"
    );
    app.on_key(key(KeyCode::Esc)); // cancels the edit
    app.on_key(ctrl('b'));
    assert_eq!(main(&app).form.draft().name, "Half typed");
}

#[test]
fn a_refused_export_name_keeps_its_box_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("taken.csv");
    std::fs::write(&taken, "x").unwrap();
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    app.on_key(key(KeyCode::Char('x')));
    app.on_key(ctrl('u'));
    typed(&mut app, taken.to_str().unwrap());
    assert!(app.on_key(key(KeyCode::Enter)).is_empty());
    match &app.overlay {
        Some(Overlay::Prompt(p)) => {
            assert!(
                p.error
                    .as_deref()
                    .unwrap_or_default()
                    .contains("exists already")
            );
        }
        _ => panic!("the box stays open"),
    }
    // What is typed next edits the name, not the table's filter.
    typed(&mut app, "x");
    assert!(matches!(app.overlay, Some(Overlay::Prompt(_))));
    assert_eq!(main(&app).table.filter, "");
}

#[test]
fn the_tail_keeps_the_selected_message_while_a_flood_arrives() {
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('3')));
    let batch = |from: i64| -> Vec<TailMessage> {
        (from..from + 5)
            .map(|o| message(&o.to_string(), "{}", o))
            .collect()
    };
    app.on_tail(batch(0));
    for _ in 0..3 {
        app.on_key(key(KeyCode::Char('j')));
    }
    let chosen = main(&app).tail.selected_message().unwrap().offset;
    // The buffer (5 in these tests) turns over entirely.
    app.on_tail(batch(5));
    app.on_tail(batch(10));
    assert_eq!(main(&app).tail.selected_message().unwrap().offset, chosen);
    assert!(screen(&mut app, 120, 30).contains("left the buffer"));
    app.on_key(key(KeyCode::Char('g')));
    assert_eq!(main(&app).tail.selected_message().unwrap().offset, 14);
}

/// At the smallest size every field shows with its label (the focused one marked), and
/// below it one clear line.
#[test]
fn the_form_fits_at_60x16_and_smaller_terminals_say_so() {
    let mut app = logged_in();
    let s = screen(&mut app, 60, 16);
    for label in [
        "Name:",
        "Description:",
        "Category:",
        "Amount:",
        "Currency:",
        "Quantity:",
    ] {
        assert!(s.contains(label), "{label} at 60x16:\n{s}");
    }
    for (w, h) in [(40, 12), (20, 8), (59, 16), (60, 15)] {
        let s = screen(&mut app, w, h);
        assert!(s.contains("Terminal too small") || w < 30, "{w}x{h}:\n{s}");
    }
    // The help scrolls where it does not fit.
    app.on_key(key(KeyCode::F(1)));
    let first = screen(&mut app, 60, 16);
    assert!(first.contains("j/k scroll"), "{first}");
    for _ in 0..30 {
        app.on_key(key(KeyCode::Char('j')));
    }
    let last = screen(&mut app, 60, 16);
    assert!(last.contains("audit trail"), "the end of the help: {last}");
}

/// What the topic does not have is refused, naming what it has: a seek to partition 9 of 3
/// keeps its box with the reason, and `p=9` or `p=abc` says why nothing matches.
#[test]
fn seeks_and_partition_filters_name_what_the_topic_has() {
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('3')));
    app.on_action(Action::TopicPartitions(3));
    app.on_key(key(KeyCode::Char('s')));
    typed(&mut app, "9:0");
    assert!(
        app.on_key(key(KeyCode::Enter)).is_empty(),
        "no seek started"
    );
    match &app.overlay {
        Some(Overlay::Prompt(p)) => {
            assert_eq!(p.error.as_deref(), Some("the topic has partitions 0 to 2"))
        }
        _ => panic!("the seek box stays open"),
    }
    app.on_key(key(KeyCode::Esc));
    for (filter, want) in [
        ("p=9", "the topic has partitions 0 to 2"),
        ("p=abc", "p= takes a partition number"),
        ("p=-1", "p= takes a partition number"),
    ] {
        app.on_key(key(KeyCode::Char('/')));
        typed(&mut app, filter);
        let s = screen(&mut app, 140, 30);
        assert!(s.contains(want), "{filter}: {s}");
        app.on_key(key(KeyCode::Esc)); // clears the filter
    }
}

/// README's key table: F1 opens help on the login screen too; Ctrl+S and Ctrl+O act over a
/// window that only shows something (it closes first), and not over one that asks.
#[test]
fn f1_ctrl_s_and_ctrl_o_work_where_the_table_says() {
    let mut login = App::new(chrono_tz::UTC, "BRL", 1, 1);
    login.on_key(key(KeyCode::F(1)));
    assert!(
        matches!(login.overlay, Some(Overlay::Help)),
        "F1 on the login screen"
    );
    assert!(screen(&mut login, 80, 24).contains("Ctrl+S"));

    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    load_page(&mut app, 1..=3, 3);
    app.on_key(key(KeyCode::Enter));
    assert!(
        matches!(app.overlay, Some(Overlay::Product(_))),
        "details open"
    );
    app.on_key(ctrl('s'));
    assert!(app.overlay.is_none(), "the details window closed");
    assert_eq!(
        main(&app).pane,
        Pane::Form,
        "Ctrl+S went to the form to save"
    );

    app.on_key(key(KeyCode::F(1)));
    assert!(matches!(app.overlay, Some(Overlay::Help)));
    app.on_key(ctrl('o'));
    assert!(
        matches!(app.screen, Screen::Login(_)),
        "Ctrl+O logged out over help"
    );
}
