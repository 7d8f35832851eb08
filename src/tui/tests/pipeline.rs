//! The pipeline pane: read only while shown, drawn from a reading and its history.

use chrono::{Duration, TimeZone, Utc};
use crossterm::event::KeyCode;

use super::*;
use crate::service::pipeline::{
    BrokerLine, DestinationLine, GroupLine, GroupPartition, History, Latency, PartitionLine,
    Reading,
};

fn reading(i: i64, committed: i64, up: bool) -> Reading {
    let at = Utc
        .with_ymd_and_hms(2026, 12, 4, 12, 0, 0)
        .single()
        .expect("time")
        + Duration::seconds(i);
    let high = 100 + 10 * i;
    Reading {
        at,
        topic: "produtos-persistidos".into(),
        destination: "embedded:produtos-persistidos".into(),
        destinations: vec![
            DestinationLine {
                name: "embedded:produtos-persistidos".into(),
                pending: 3,
                oldest_age_s: Some(2.5),
                served: true,
            },
            DestinationLine {
                name: "kafka:old:9092/produtos-persistidos".into(),
                pending: 7,
                oldest_age_s: Some(4000.0),
                served: false,
            },
        ],
        pending: Some(10),
        database_error: None,
        latency: Latency {
            events: 42,
            p50_ms: Some(4.2),
            p99_ms: Some(18.5),
            bars: vec![0, 2, 10, 20, 8, 2, 0, 0, 0, 0, 0],
            per_s: 12.0,
        },
        partitions: vec![PartitionLine {
            partition: 0,
            low: 0,
            high,
            per_s: None,
        }],
        groups: vec![GroupLine {
            group: "consumer-group".into(),
            partitions: vec![GroupPartition {
                partition: 0,
                committed: Some(committed),
                lag: high - committed,
                lag_seconds: Some(200.0),
            }],
            lag: high - committed,
            lag_seconds: Some(200.0),
            stalled: false,
        }],
        broker: BrokerLine {
            bootstrap: "127.0.0.1:40000".into(),
            up,
            error: (!up).then(|| "all brokers down".to_string()),
        },
    }
}

fn view_after(readings: Vec<Reading>) -> Box<PipelineView> {
    let mut h = History::new(300);
    for r in readings {
        h.push(r);
    }
    Box::new(PipelineView::of(&h).expect("a reading"))
}

use super::super::pipeline::PipelineView;

#[test]
fn the_pipeline_is_read_only_while_its_pane_is_shown() {
    let mut app = logged_in();
    let t0 = std::time::Instant::now();
    assert!(!app.on_tick(t0).contains(&Effect::ReadPipeline));
    app.on_key(key(KeyCode::Esc));
    let effects = app.on_key(key(KeyCode::Char('4')));
    assert_eq!(main(&app).pane, Pane::Pipeline);
    assert!(effects.contains(&Effect::ReadPipeline), "read at once");
    assert!(
        app.on_tick(t0).contains(&Effect::ReadPipeline),
        "and every tick"
    );
    app.on_key(key(KeyCode::Char('2')));
    assert!(!app.on_tick(t0).contains(&Effect::ReadPipeline));
}

#[test]
fn the_pane_shows_backlog_latency_partitions_and_a_stalled_group() {
    let mut app = logged_in();
    app.on_key(key(KeyCode::Esc));
    app.on_key(key(KeyCode::Char('4')));
    let s = screen(&mut app, 100, 34);
    assert!(s.contains("reading the outbox"), "{s}");
    // The group's offset stands at 50 while the topic grows: stalled after a few readings.
    let mut readings: Vec<Reading> = (0..6).map(|i| reading(i, 50, true)).collect();
    readings.push(reading(6, 50, false));
    app.on_action(Action::Pipeline(view_after(readings)));
    let s = screen(&mut app, 120, 34);
    for want in [
        "4 Pipeline",
        "pending 10 · published 12.0/s",
        "embedded:produtos-persistidos  pending 3  oldest 2.5 s  published here",
        "kafka:old:9092/produtos-persistidos  pending 7  oldest 1.1 h  NO process here serves it",
        "p50 4.2 ms · p99 18.5 ms · 42 events",
        "Topic produtos-persistidos",
        "consumer-group  lag 110, 3 min 20 s behind  STALLED",
        "p0 at 50 lag 110",
        "DOWN: all brokers down",
        "up 09:00:00",
        "down 09:00:06",
    ] {
        assert!(s.contains(want), "missing {want:?}:\n{s}");
    }
    // The partition's rate comes from two readings: 10 messages in one second.
    assert!(s.contains("10.0"), "{s}");
    for (w, h) in [(1, 1), (20, 5), (40, 10), (80, 24), (200, 60)] {
        screen(&mut app, w, h);
    }
}
