use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::store::PublishTimes;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0)
        .single()
        .expect("a valid time")
}

fn reading(at: DateTime<Utc>, high: i64, committed: Option<i64>) -> Reading {
    Reading {
        at,
        topic: "t".into(),
        destination: "d".into(),
        destinations: Vec::new(),
        pending: Some(0),
        database_error: None,
        latency: Latency::default(),
        partitions: vec![PartitionLine {
            partition: 0,
            low: 0,
            high,
            per_s: None,
        }],
        groups: vec![GroupLine {
            group: "g".into(),
            partitions: vec![GroupPartition {
                partition: 0,
                committed,
                lag: high - committed.unwrap_or(0),
                lag_seconds: None,
            }],
            lag: high - committed.unwrap_or(0),
            lag_seconds: None,
            stalled: false,
        }],
        broker: BrokerLine {
            bootstrap: "b".into(),
            up: true,
            error: None,
        },
    }
}

#[test]
fn percentiles_bars_and_rate_come_from_the_recent_events() {
    let now = t0();
    // 100 events over the last 10 s, 1..=100 ms from commit to acknowledgement.
    let recent: Vec<PublishTimes> = (1..=100)
        .rev()
        .map(|i| {
            let published_at = now - Duration::milliseconds(10_000 - i * 100);
            PublishTimes {
                created_at: published_at - Duration::milliseconds(i),
                published_at,
            }
        })
        .collect();
    let l = latency_of(now, &recent);
    assert_eq!(l.events, 100);
    assert_eq!(l.p50_ms, Some(51.0));
    assert_eq!(l.p99_ms, Some(99.0));
    assert_eq!(l.bars.iter().sum::<u64>(), 100);
    // <= 1, <= 2, <= 5, <= 10, <= 20, <= 50, <= 100 ms
    assert_eq!(&l.bars[..7], &[1, 1, 3, 5, 10, 30, 50]);
    assert!((l.per_s - 10.0).abs() < 0.01, "{}", l.per_s);
}

#[test]
fn events_older_than_the_window_leave_the_latency_and_the_rate() {
    let now = t0();
    let old = now - Duration::seconds(400);
    let recent = vec![PublishTimes {
        created_at: old - Duration::milliseconds(5),
        published_at: old,
    }];
    let l = latency_of(now, &recent);
    assert_eq!((l.events, l.p50_ms, l.per_s), (0, None, 0.0));
}

#[test]
fn a_group_whose_offsets_stand_still_while_its_lag_grows_is_stalled() {
    let mut h = History::new(10);
    let mut high = 100;
    for i in 0..6 {
        let r = h.push(reading(t0() + Duration::seconds(i), high, Some(50)));
        assert_eq!(r.groups[0].stalled, i >= 4, "reading {i}");
        high += 10;
    }
    // Its offset moves: no longer stalled.
    let r = h.push(reading(t0() + Duration::seconds(6), high, Some(60)));
    assert!(!r.groups[0].stalled);
    assert_eq!(r.partitions[0].per_s, Some(10.0));
    assert_eq!(h.lag("g").len(), 7);
}

#[test]
fn a_group_that_keeps_up_is_not_stalled_and_marks_moving_back_give_no_negative_rate() {
    let mut h = History::new(10);
    for i in 0..6 {
        let r = h.push(reading(t0() + Duration::seconds(i), 100, Some(100)));
        assert!(!r.groups[0].stalled);
    }
    let r = h.push(reading(t0() + Duration::seconds(7), 90, Some(90)));
    assert_eq!(r.partitions[0].per_s, Some(0.0));
}

#[test]
fn broker_changes_are_kept_once_per_change() {
    let mut h = History::new(3);
    let mut down = reading(t0(), 1, None);
    down.broker.up = false;
    down.broker.error = Some("gone".into());
    h.push(reading(t0(), 1, None));
    h.push(reading(t0() + Duration::seconds(1), 1, None));
    h.push(down.clone());
    h.push(down);
    h.push(reading(t0() + Duration::seconds(5), 1, None));
    let ups: Vec<bool> = h.changes().map(|c| c.up).collect();
    assert_eq!(ups, vec![true, false, true]);
    assert_eq!(h.pending().len(), 3);
}
