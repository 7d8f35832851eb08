//! The product table and the topic tail, and the links between them.

use crossterm::event::KeyCode;

use super::super::app::{Action, App, Effect, Pane, Screen};
use super::super::table::{Fetch, Loaded, TableRequest};
use super::*;
use crate::service::TailStart;

#[test]
fn table_renders_rows_position_and_degrades_when_narrow() {
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    let empty = screen(&mut app, 80, 24);
    assert!(
        empty.contains("Loading…") || empty.contains("No products yet"),
        "{empty}"
    );
    load_page(&mut app, 1..=30, 1_000_000);
    let s = screen(&mut app, 120, 24);
    assert!(s.contains("row 1 of 1000000"), "{s}");
    assert!(
        s.contains("Blusa 30") && s.contains("59.99 BRL") && s.contains("timestamp"),
        "{s}"
    );
    assert!(
        s.contains("2024-06-29 20:47:19 -0300"),
        "rendered in TIMEZONE: {s}"
    );
    assert!(s.contains("published") && s.contains("pending"));
    let narrow = screen(&mut app, 80, 24);
    assert!(
        !narrow.contains("timestamp") && narrow.contains("qty"),
        "{narrow}"
    );
    let tiny = screen(&mut app, 60, 16);
    assert!(
        !tiny.contains("timestamp") && tiny.contains("Blusa 30"),
        "{tiny}"
    );
    let too_small = screen(&mut app, 50, 12);
    assert!(
        too_small.contains("Terminal too small: 50x12, need 60x16"),
        "{too_small}"
    );
    app.on_key(key(KeyCode::Char('j')));
    assert!(screen(&mut app, 80, 24).contains("row 2 of 1000000"));
}

#[test]
fn scrolling_fetches_the_next_page_by_key() {
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    load_page(&mut app, 801..=1000, 1000);
    let mut effects = Vec::new();
    for _ in 0..185 {
        effects.extend(app.on_key(key(KeyCode::Char('j'))));
    }
    let loads: Vec<_> = effects
        .iter()
        .filter_map(|e| {
            if let Effect::LoadProducts(r) = e {
                Some(r.fetch.clone())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        loads,
        vec![Fetch::Older(801)],
        "one request, keyed on the last loaded id"
    );
}

#[test]
fn filter_is_server_side_and_stale_answers_are_dropped() {
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    load_page(&mut app, 1..=3, 3);
    app.on_key(key(KeyCode::Char('/')));
    let first = typed(&mut app, "b");
    let second = typed(&mut app, "l");
    let (Some(Effect::LoadProducts(old)), Some(Effect::LoadProducts(new))) =
        (first.first(), second.first())
    else {
        panic!()
    };
    assert_eq!(new.filter.as_deref(), Some("bl"));
    assert!(new.generation > old.generation);
    app.on_action(Action::Page {
        request: old.clone(),
        result: Ok(Loaded::page(vec![product(99)], Some(0))),
    });
    assert!(
        !screen(&mut app, 80, 24).contains("Blusa 99"),
        "an answer to an older filter is ignored"
    );
    app.on_action(Action::Page {
        request: new.clone(),
        result: Ok(Loaded::page(vec![product(2)], Some(0))),
    });
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("filter: bl") && s.contains("Blusa 2"), "{s}");
    app.on_action(Action::Page {
        request: new.clone(),
        result: Err("database unavailable".into()),
    });
    assert!(screen(&mut app, 100, 24).contains("✗ database unavailable"));
}

#[test]
fn tail_keeps_newest_on_top_bounded_and_pausable() {
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('3')));
    assert!(screen(&mut app, 80, 24).contains("No messages yet"));
    app.on_tail(
        (1..=8)
            .map(|i| message(&i.to_string(), &product_json(i), i))
            .collect(),
    );
    assert_eq!(main(&app).tail.rows.len(), 5, "capacity 5");
    let s = screen(&mut app, 100, 24);
    assert!(s.contains("8 received") && s.contains("5 kept"), "{s}");
    assert!(
        s.contains("Blusa 8 · Vestuário · 59.99 BRL · qty 50"),
        "{s}"
    );
    assert!(!s.contains("Blusa 3 "), "evicted");
    app.on_tail(vec![message("raw", "not json \u{1b}[2J here", 9)]);
    let s = screen(&mut app, 100, 24);
    assert!(
        s.contains("(not JSON) not json ·[2J here"),
        "escape sequences are neutralised: {s}"
    );
    assert!(
        s.contains("≠ schema · (not JSON)"),
        "another producer's message is marked, not hidden: {s}"
    );
    assert!(
        !s.contains("≠ schema · Blusa 8"),
        "product events match the schema: {s}"
    );
    app.on_key(key(KeyCode::Char('p')));
    assert!(app.tail_paused());
    assert!(screen(&mut app, 100, 24).contains("paused"));
    app.on_key(key(KeyCode::Char('p')));
    assert!(!app.tail_paused());
    app.on_key(key(KeyCode::Char('j')));
    app.on_key(key(KeyCode::Enter));
    let s = screen(&mut app, 80, 24);
    assert!(
        s.contains("\"amount\": 59.99") && s.contains("partition 0 · offset 8"),
        "{s}"
    );
    assert_eq!(app.on_key(key(KeyCode::Esc)), vec![]);
    assert_eq!(
        app.on_key(key(KeyCode::Char('b'))),
        vec![Effect::StartTail(TailStart::Beginning)]
    );
    assert!(main(&app).tail.rows.is_empty());
}

#[test]
fn links_go_from_product_to_message_and_back() {
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    load_page(&mut app, 1..=3, 3);
    app.on_tail(
        (1..=3)
            .map(|i| message(&i.to_string(), &product_json(i), i))
            .collect(),
    );
    app.on_key(key(KeyCode::Char('j'))); // product 2
    app.on_key(key(KeyCode::Char('m')));
    assert_eq!(main(&app).pane, Pane::Tail);
    assert_eq!(
        main(&app)
            .tail
            .selected_message()
            .and_then(|m| m.key.clone())
            .as_deref(),
        Some("2")
    );
    app.on_key(key(KeyCode::Char('k'))); // message 3
    let effects = app.on_key(key(KeyCode::Char('o')));
    assert!(effects.is_empty(), "product 3 is loaded: selected in place");
    assert_eq!(main(&app).pane, Pane::Table);
    assert_eq!(main(&app).table.selected_product().map(|p| p.id), Some(3));
    app.on_key(key(KeyCode::Char('3')));
    app.on_tail(vec![message("500", &product_json(500), 10)]);
    app.on_key(key(KeyCode::Char('g')));
    let effects = app.on_key(key(KeyCode::Char('o')));
    assert!(
        matches!(
            effects.first(),
            Some(Effect::LoadProducts(TableRequest {
                fetch: Fetch::At(500),
                ..
            }))
        ),
        "{effects:?}"
    );
    app.on_key(key(KeyCode::Char('2')));
    app.on_key(key(KeyCode::Char('G')));
}

#[test]
fn product_detail_shows_every_field() {
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    load_page(&mut app, 1..=1, 1);
    app.on_key(key(KeyCode::Enter));
    let s = screen(&mut app, 100, 30);
    for want in [
        "id            1",
        "Blusa 1",
        "Vestuário",
        "59.99 BRL",
        "quantity      50",
        "2024-06-29T20:47:19-03:00",
        "partition 1 · offset 1",
        "segunda linha",
    ] {
        assert!(s.contains(want), "missing {want:?}:\n{s}");
    }
}

#[test]
fn new_products_appear_on_top_without_moving_a_selection_elsewhere() {
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    load_page(&mut app, 1..=3, 3);
    let newer = |app: &mut App, ids: Vec<i64>| {
        let Screen::Main(m) = &mut app.screen else {
            panic!()
        };
        let req = m
            .table
            .refresh()
            .expect("at the top: refresh asks for newer rows");
        assert_eq!(req.fetch, Fetch::Newer(m.table.rows[0].id));
        app.on_action(Action::Page {
            request: req,
            result: Ok(Loaded::page(ids.into_iter().map(product).collect(), None)),
        });
    };
    newer(&mut app, vec![4]);
    assert_eq!(
        main(&app).table.selected_product().map(|p| p.id),
        Some(4),
        "following the newest"
    );
    app.on_key(key(KeyCode::Char('j')));
    newer(&mut app, vec![6, 5]);
    assert_eq!(
        main(&app).table.selected_product().map(|p| p.id),
        Some(3),
        "kept on its row"
    );
    assert!(screen(&mut app, 80, 24).contains("row 4 of 6"));
}

/// Ids are drawn before commit: product 5 can commit after 6 is shown. Following by position
/// (not "newer than the top id") places it by id, once, and keeps the selection on its row.
#[test]
fn a_product_committed_late_with_a_lower_id_still_appears_once() {
    use crate::domain::Position;
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    let at = |writer, id| Position { writer, id };
    // The first page comes with where following starts.
    let generation = {
        let Screen::Main(m) = &mut app.screen else {
            panic!()
        };
        m.table.request(Fetch::Top).generation
    };
    app.on_action(Action::Page {
        request: TableRequest {
            generation,
            fetch: Fetch::Top,
            filter: None,
        },
        result: Ok(Loaded {
            rows: (1..=4).rev().map(product).collect(),
            position: Some(0),
            follow: Some(at(100, 0)),
        }),
    });
    app.on_action(Action::Count {
        filter: None,
        result: Ok(4),
    });
    let since = |app: &mut App, ids: Vec<(i64, Position)>, expect: Position| {
        let Screen::Main(m) = &mut app.screen else {
            panic!()
        };
        let req = m
            .table
            .refresh()
            .expect("at the top: a look for new products");
        assert_eq!(req.fetch, Fetch::Since(expect));
        let follow = ids.last().map(|(_, p)| *p);
        app.on_action(Action::Page {
            request: req,
            result: Ok(Loaded {
                rows: ids.into_iter().map(|(id, _)| product(id)).collect(),
                position: None,
                follow,
            }),
        });
    };
    // 4 was visible on the first page but written at or after the horizon: it comes again.
    since(&mut app, vec![(4, at(100, 4)), (6, at(101, 6))], at(100, 0));
    app.on_key(key(KeyCode::Char('j')));
    let selected = |app: &App| main(app).table.selected_product().map(|p| p.id);
    assert_eq!(selected(&app), Some(4));
    since(&mut app, vec![(5, at(102, 5))], at(101, 6));
    let ids: Vec<i64> = main(&app).table.rows.iter().map(|p| p.id).collect();
    assert_eq!(ids, vec![6, 5, 4, 3, 2, 1], "5 in its place, 4 once");
    assert_eq!(selected(&app), Some(4), "the selection stays on its row");
    since(&mut app, Vec::new(), at(102, 5));
    assert!(screen(&mut app, 80, 24).contains("of 6"));
}

/// A jump to a product (from the tail) keeps following by position: back at the top, new
/// products are still looked for since the last position, not "newer than the top id".
#[test]
fn a_jump_keeps_following_by_position() {
    use crate::domain::Position;
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('2')));
    let follow = Position { writer: 100, id: 0 };
    let Screen::Main(m) = &mut app.screen else {
        panic!()
    };
    let top = m.table.request(Fetch::Top);
    m.table.on_page(
        top,
        Ok(Loaded {
            rows: (1..=3).rev().map(product).collect(),
            position: Some(0),
            follow: Some(follow),
        }),
    );
    let jump = m.table.select_product(2).or_else(|| {
        // Loaded already: jump to one that is not.
        m.table.select_product(900)
    });
    let jump = jump.expect("a jump asks for its page");
    m.table.on_page(
        jump,
        Ok(Loaded::page(
            (898..=902).rev().map(product).collect(),
            Some(0),
        )),
    );
    let req = m
        .table
        .refresh()
        .expect("at the top: a look for new products");
    assert_eq!(req.fetch, Fetch::Since(follow));
}
