//! `dataflow status [--json] [--watch SECS]`: the pipeline pane's figures for scripts and
//! shells. Exit 0 when the database and the broker answered, 1 when either did not.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use super::tail::broker_config;
use super::{init_logging, runtime};
use crate::config::Settings;
use crate::service::pipeline::{LATENCY_BOUNDS_MS, Reading, Watch, age_text, ms_text};
use crate::service::{destination_of, open_store};

/// Readings a one-shot status takes, this far apart, so rates have two points.
const ONE_SHOT_GAP: Duration = Duration::from_secs(1);

pub fn run_status(settings: Settings, json: bool, watch: Option<u64>) -> ExitCode {
    let _guard = init_logging(&settings.paths.log_dir, false);
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
        let store = match open_store(&settings).await {
            Ok(s) => s,
            Err(e) => return super::start_failed(&e),
        };
        let own = destination_of(&settings);
        let groups = [settings.consumer_group.clone()];
        let mut w = Watch::new(120);
        let every = watch.map(|s| Duration::from_secs(s.max(1)));
        if every.is_none() {
            w.read(&store, &own, broker_config(&settings), &groups)
                .await;
            tokio::time::sleep(ONE_SHOT_GAP).await;
        }
        loop {
            let r = w
                .read(&store, &own, broker_config(&settings), &groups)
                .await
                .clone();
            let lines = if json {
                vec![serde_json::to_string(&r).unwrap_or_default()]
            } else {
                text(&r)
            };
            let mut out = std::io::stdout().lock();
            for l in lines {
                if writeln!(out, "{l}").is_err() {
                    return ExitCode::from(1);
                }
            }
            let _ = out.flush();
            drop(out);
            let Some(every) = every else {
                let ok = r.database_error.is_none() && r.broker.up;
                return if ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                };
            };
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
            }
            if !json {
                println!();
            }
        }
    })
}

/// The reading as lines of text.
pub fn text(r: &Reading) -> Vec<String> {
    let mut out = vec![format!(
        "pipeline {}  topic {}",
        r.at.format("%Y-%m-%d %H:%M:%S UTC"),
        r.topic
    )];
    out.push(match &r.broker.error {
        None => format!("broker   {} up", r.broker.bootstrap),
        Some(e) => format!("broker   {} DOWN: {e}", r.broker.bootstrap),
    });
    match (&r.database_error, r.pending) {
        (Some(e), _) => out.push(format!("outbox   database unavailable: {e}")),
        (None, p) => out.push(format!(
            "outbox   pending {}, published {:.1}/s",
            p.unwrap_or(0),
            r.latency.per_s
        )),
    }
    for d in &r.destinations {
        let oldest = d.oldest_age_s.map_or("-".into(), age_text);
        let served = if d.served {
            "published here"
        } else if d.pending > 0 {
            "NOT published here: no process of this configuration serves it"
        } else {
            "not published here"
        };
        out.push(format!(
            "  {:<44} pending {:>8}  oldest {:>9}  {served}",
            d.name, d.pending, oldest
        ));
    }
    let l = &r.latency;
    out.push(format!(
        "latency  commit to acknowledgement p50 {}, p99 {} ({} events, last 5 min)",
        ms_text(l.p50_ms),
        ms_text(l.p99_ms),
        l.events
    ));
    if l.events > 0 {
        let mut bars: Vec<String> = LATENCY_BOUNDS_MS
            .iter()
            .zip(&l.bars)
            .map(|(b, n)| format!("<={b}ms {n}"))
            .collect();
        bars.push(format!(">5000ms {}", l.bars.last().copied().unwrap_or(0)));
        out.push(format!("  {}", bars.join("  ")));
    }
    out.push("topic    partition        low       high    msg/s".into());
    for p in &r.partitions {
        let rate = p.per_s.map_or("-".into(), |v| format!("{v:.1}"));
        out.push(format!(
            "         {:>9} {:>10} {:>10} {:>8}",
            p.partition, p.low, p.high, rate
        ));
    }
    for g in &r.groups {
        let stalled = if g.stalled { "  STALLED" } else { "" };
        let secs = |s: Option<f64>| s.map_or("?".into(), |s| format!("{s:.1} s"));
        out.push(format!(
            "group    {}  lag {} ({}){stalled}",
            g.group,
            g.lag,
            secs(g.lag_seconds)
        ));
        for p in &g.partitions {
            let c = p.committed.map_or("-".into(), |c| c.to_string());
            out.push(format!(
                "         partition {:>3}  committed {:>10}  lag {:>8}  {:>10}",
                p.partition,
                c,
                p.lag,
                secs(p.lag_seconds)
            ));
        }
    }
    out
}
