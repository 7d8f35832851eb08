//! `dataflow verify`: the topic against the outbox. Exit 0 clean, 1 problems found, 2 bad
//! usage or no such topic, 3 the database or the broker did not answer.

use std::io::IsTerminal;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use super::tail::broker_config;
use super::{init_logging, runtime, start_failed};
use crate::config::Settings;
use crate::domain::{Finding, VerifyReport};
use crate::service::{self, ServiceError, VerifyTarget};
use crate::store::PublishedFilter;

pub struct VerifyArgs {
    pub since: Option<String>,
    pub product: Option<i64>,
    pub json: bool,
}

fn spinner() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = ProgressBar::new_spinner();
    let style = ProgressStyle::with_template("{spinner} {pos} records read ({per_sec})").ok()?;
    pb.set_style(style);
    Some(pb)
}

pub fn run_verify(settings: Settings, args: VerifyArgs) -> ExitCode {
    let _guard = init_logging(&settings.paths.log_dir, false);
    let since = match &args.since {
        None => None,
        Some(s) => match crate::domain::parse_since(s, chrono::Utc::now()) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("dataflow: --since: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let cfg = match broker_config(&settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dataflow: {e}");
            return ExitCode::from(3);
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
        let store = match service::open_store(&settings).await {
            Ok(s) => s,
            Err(e) => return start_failed(&e),
        };
        let destination = service::destination_of(&settings);
        let target = VerifyTarget {
            store: &store,
            kafka: &cfg,
            destination: &destination,
            filter: PublishedFilter {
                since,
                product: args.product,
            },
        };
        let bar = spinner();
        let progress = |n: u64| {
            if let Some(b) = &bar {
                b.set_position(n);
            }
        };
        let report = service::verify(&target, &progress).await;
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        match report {
            Ok(r) => {
                if args.json {
                    println!("{}", serde_json::to_string(&r).unwrap_or_default());
                } else {
                    for l in lines(&r) {
                        println!("{l}");
                    }
                }
                if r.clean() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(ServiceError::Kafka(e)) if e.contains("not found") => {
                eprintln!("dataflow: {e}");
                ExitCode::from(2)
            }
            Err(e) => start_failed(&e),
        }
    })
}

/// The human report: one line per partition, totals, then each problem.
pub fn lines(r: &VerifyReport) -> Vec<String> {
    let mut out = vec![format!("{} ({})", r.topic, r.destination)];
    out.push(format!(
        "{:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>10} {:>12}",
        "partition",
        "records",
        "present",
        "missing",
        "expired",
        "unexplained",
        "duplicates",
        "out of order"
    ));
    for p in &r.partitions {
        out.push(format!(
            "{:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>10} {:>12}",
            p.partition,
            p.records,
            p.present,
            p.missing,
            p.expired,
            p.unexplained,
            p.duplicates,
            p.out_of_order
        ));
    }
    out.push(if r.clean() {
        "clean: every published event is on the topic once, in order".to_string()
    } else {
        format!(
            "PROBLEMS: {} missing, {} unexplained, {} duplicates, {} out of order",
            r.total(|p| p.missing),
            r.total(|p| p.unexplained),
            r.total(|p| p.duplicates),
            r.total(|p| p.out_of_order)
        )
    });
    out.extend(r.problems.iter().map(describe));
    out
}

fn describe(f: &Finding) -> String {
    let at = |p: i32, o: i64| format!("partition {p} offset {o}");
    match f {
        Finding::Missing {
            event,
            product,
            version,
            partition,
            offset,
            holds,
        } => {
            let instead = holds.as_ref().map_or(String::new(), |h| {
                format!(
                    "; it holds key {} version {}",
                    h.key.as_deref().unwrap_or("-"),
                    h.version.map_or("-".into(), |v| v.to_string())
                )
            });
            format!(
                "missing: event {event} (product {product} version {version}) recorded at {}{instead}",
                at(*partition, *offset)
            )
        }
        Finding::Unexplained { record } => format!(
            "unexplained: {} key {} version {}: no event of the outbox",
            at(record.partition, record.offset),
            record.key.as_deref().unwrap_or("-"),
            record.version.map_or("-".into(), |v| v.to_string())
        ),
        Finding::Duplicate { event, record } => format!(
            "duplicate: {} is a second copy of event {event} (product {})",
            at(record.partition, record.offset),
            record.key.as_deref().unwrap_or("-")
        ),
        Finding::OutOfOrder {
            product,
            version,
            after,
            partition,
            offset,
        } => format!(
            "out of order: product {product} version {version} at {} comes after version {after}",
            at(*partition, *offset)
        ),
    }
}
