//! The panes' tools on the TestBackend: the topic filter, seek and time column; export, save
//! and copy; an import's progress, report and rejected rows.

use crossterm::event::KeyCode;

use super::*;
use crate::service::{Counts, ExportFormat};
use crate::tui::import::ImportUpdate;

fn msg(key: &str, category: &str, partition: i32, offset: i64) -> TailMessage {
    let mut m = message(key, &product_json(key.parse().unwrap_or(0)), offset);
    m.partition = partition;
    m.payload = Some(
        product_json(key.parse().unwrap_or(0))
            .replace("Vestuário", category)
            .into_bytes(),
    );
    m
}

fn on_topic() -> App {
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('3')));
    app
}

#[test]
fn topic_filter_keeps_matching_kept_and_incoming_messages() {
    let mut app = on_topic();
    app.on_tail(vec![
        msg("1", "Cozinha", 0, 1),
        msg("2", "Vestuário", 1, 2),
        msg("3", "Cozinha", 1, 3),
    ]);
    typed(&mut app, "/category=Cozinha");
    let s = screen(&mut app, 120, 24);
    assert!(
        s.contains("filter: category=Cozinha▏") && s.contains("2 of 3 match"),
        "{s}"
    );
    assert!(!s.contains("Blusa 2 "), "{s}");
    app.on_key(key(KeyCode::Enter));
    app.on_tail(vec![msg("4", "Cozinha", 0, 4), msg("5", "Jardim", 0, 5)]);
    let s = screen(&mut app, 120, 24);
    assert!(s.contains("3 of 5 match") && s.contains("Blusa 4"), "{s}");
    assert!(!s.contains("Blusa 5"), "{s}");
    let keys: Vec<_> = main(&app)
        .tail
        .shown()
        .iter()
        .map(|m| m.key.clone().unwrap())
        .collect();
    assert_eq!(keys, ["4", "3", "1"], "newest first");

    // Partition and plain text; Esc clears.
    app.on_key(key(KeyCode::Char('/')));
    for _ in 0.."category=Cozinha".len() {
        app.on_key(key(KeyCode::Backspace));
    }
    typed(&mut app, "p=1");
    assert_eq!(main(&app).tail.shown().len(), 2);
    app.on_key(key(KeyCode::Esc));
    typed(&mut app, "/jardim");
    assert_eq!(main(&app).tail.match_counts(), Some((1, 5)));
    app.on_key(key(KeyCode::Esc));
    assert_eq!(main(&app).tail.shown().len(), 5);
    assert!(!screen(&mut app, 120, 24).contains("filter:"));
}

#[test]
fn seek_asks_where_and_refuses_what_it_cannot_read() {
    let mut app = on_topic();
    app.on_tail(vec![msg("1", "Cozinha", 0, 1)]);
    assert_eq!(typed(&mut app, "s"), vec![]);
    assert!(screen(&mut app, 100, 24).contains("Seek the topic"));
    typed(&mut app, "yesterday");
    assert_eq!(app.on_key(key(KeyCode::Enter)), vec![]);
    let s = screen(&mut app, 100, 24);
    assert!(s.contains("must be -15m / 2h (ago)"), "{s}");
    app.on_key(ctrl('u'));
    typed(&mut app, "1:5");
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        vec![Effect::Seek {
            start: TailStart::Offset(5),
            partition: Some(1)
        }]
    );
    assert!(app.overlay.is_none());
    assert!(main(&app).tail.rows.is_empty(), "read again from there");
    assert!(screen(&mut app, 140, 24).contains("partition 1 from offset 5"));
    app.on_action(Action::TailStopped(
        "partition 1 does not exist: products has partitions 0 to 0".into(),
    ));
    assert!(screen(&mut app, 140, 24).contains("The tail stopped: partition 1 does not exist"));
    typed(&mut app, "s-15m");
    let before = chrono::Utc::now().timestamp_millis() - 15 * 60_000;
    match app.on_key(key(KeyCode::Enter)).as_slice() {
        [
            Effect::Seek {
                start: TailStart::Time(ms),
                partition: None,
            },
        ] => assert!((*ms - before).abs() < 5_000, "{ms} vs {before}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn time_column_cycles_local_utc_and_age() {
    let mut app = on_topic();
    app.on_tail(vec![msg("1", "Cozinha", 0, 1)]);
    // 2024-06-29T23:47:19Z is 20:47:19 in São Paulo.
    let s = screen(&mut app, 120, 24);
    assert!(s.contains("20:47:19.000"), "{s}");
    typed(&mut app, "t");
    let s = screen(&mut app, 120, 24);
    assert!(
        s.contains("time (UTC)") && s.contains("23:47:19.000Z"),
        "{s}"
    );
    typed(&mut app, "t");
    let s = screen(&mut app, 120, 24);
    assert!(s.contains("age") && s.contains(" d ago"), "{s}");
    typed(&mut app, "t");
    assert!(screen(&mut app, 120, 24).contains("20:47:19.000"));
}

#[test]
fn save_export_and_copy() {
    let mut app = on_topic();
    app.on_tail(vec![msg("1", "Cozinha", 0, 1), msg("2", "Jardim", 0, 2)]);
    typed(&mut app, "/Jardim");
    app.on_key(key(KeyCode::Enter));
    typed(&mut app, "x");
    assert!(screen(&mut app, 100, 24).contains("dataflow-topic-"));
    match app.on_key(key(KeyCode::Enter)).as_slice() {
        [Effect::SaveMessages { path, messages }] => {
            assert!(path.is_absolute() && path.to_string_lossy().ends_with(".jsonl"));
            assert_eq!(messages.len(), 1, "the filtered messages");
            assert_eq!(messages[0].key.as_deref(), Some("2"));
        }
        other => panic!("{other:?}"),
    }
    app.on_action(Action::Wrote(Ok("Saved 1 messages to /tmp/x.jsonl".into())));
    assert!(screen(&mut app, 100, 24).contains("Saved 1 messages to /tmp/x.jsonl"));
    typed(&mut app, "y");
    let copied = app.clipboard.take().expect("copied");
    let v: serde_json::Value = serde_json::from_str(&copied).unwrap();
    assert_eq!(
        (v["key"].as_str(), v["offset"].as_i64()),
        (Some("2"), Some(2))
    );

    app.on_key(key(KeyCode::Char('2')));
    load_page(&mut app, 1..=3, 3);
    typed(&mut app, "y");
    let v: serde_json::Value = serde_json::from_str(&app.clipboard.take().unwrap()).unwrap();
    assert_eq!(
        (v["id"].as_i64(), v["name"].as_str()),
        (Some(3), Some("Blusa 3"))
    );
    typed(&mut app, "/Blusa");
    app.on_key(key(KeyCode::Enter));
    typed(&mut app, "x");
    app.on_key(ctrl('u'));
    typed(&mut app, "out.txt");
    app.on_key(key(KeyCode::Enter));
    assert!(screen(&mut app, 100, 24).contains("must end in .csv or .jsonl"));
    app.on_key(ctrl('u'));
    typed(&mut app, "out.jsonl");
    match app.on_key(key(KeyCode::Enter)).as_slice() {
        [
            Effect::ExportProducts {
                path,
                format,
                filter,
            },
        ] => {
            assert!(path.is_absolute() && path.ends_with("out.jsonl"));
            assert_eq!(*format, ExportFormat::Jsonl);
            assert_eq!(filter.as_deref(), Some("Blusa"), "the view's filter");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn import_shows_progress_then_the_report_and_rejected_rows() {
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    typed(&mut app, "i");
    assert!(screen(&mut app, 100, 24).contains("Import products"));
    typed(&mut app, "/data/new.csv");
    let effects = app.on_key(key(KeyCode::Enter));
    assert_eq!(
        effects,
        vec![Effect::Import {
            path: "/data/new.csv".into(),
            rejects: "/data/new.rejects.csv".into(),
            by: Some("vert".into()),
        }]
    );
    let counts = Counts {
        imported: 40,
        duplicates: 0,
        rejected: 1,
        bytes: 500,
        total_bytes: 1000,
        events: None,
    };
    app.on_action(Action::Import(ImportUpdate {
        counts,
        rejects: vec!["line 3: name: must be 1-200 characters (got 0)".into()],
        done: None,
    }));
    let s = screen(&mut app, 100, 24);
    assert!(s.contains(" 50% · 41 rows") && s.contains("ETA"), "{s}");
    assert!(s.contains("line 3: name: must be 1-200 characters"), "{s}");
    app.on_key(key(KeyCode::Esc));
    assert!(app.overlay.is_none(), "closed while it runs");
    assert!(screen(&mut app, 100, 24).contains("Importing… 50%"));
    typed(&mut app, "i");
    assert!(
        matches!(app.overlay, Some(Overlay::Import)),
        "i shows it again"
    );
    app.on_key(key(KeyCode::Esc));
    let effects = app.on_action(Action::Import(ImportUpdate {
        counts: Counts {
            imported: 80,
            bytes: 1000,
            ..counts
        },
        rejects: Vec::new(),
        done: Some(Ok(())),
    }));
    assert!(
        matches!(effects.as_slice(), [Effect::LoadProducts(r)] if r.fetch == Fetch::Top),
        "the table reloads: {effects:?}"
    );
    let s = screen(&mut app, 100, 24);
    assert!(
        s.contains("Import done: imported 80, duplicates 0, rejected 1"),
        "{s}"
    );
    typed(&mut app, "i");
    let s = screen(&mut app, 100, 24);
    assert!(
        s.contains("Done in") && s.contains("new.rejects.csv"),
        "{s}"
    );
    app.on_key(key(KeyCode::Esc));
    typed(&mut app, "i");
    assert!(
        screen(&mut app, 100, 24).contains("Import products"),
        "after the report, i starts another"
    );
    app.on_key(key(KeyCode::Esc));
    typed(&mut app, "i");
    typed(&mut app, "notes.txt");
    app.on_key(key(KeyCode::Enter));
    assert!(screen(&mut app, 100, 24).contains("must end in .csv or .jsonl"));
}
