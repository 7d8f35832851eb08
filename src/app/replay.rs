//! `dataflow outbox replay`: published events sent again, with a progress bar on a terminal
//! and a summary on stdout.

use std::io::IsTerminal;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use super::tail::broker_config;
use super::{init_logging, runtime, start_failed};
use crate::config::Settings;
use crate::service::{self, ReplayJob};
use crate::store::ReplayFilter;

pub struct ReplayArgs {
    pub from: Option<String>,
    pub to_topic: Option<String>,
    pub product: Option<i64>,
    pub from_id: Option<i64>,
    pub to_id: Option<i64>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub into_live_topic: bool,
}

fn instant(
    flag: &str,
    v: &Option<String>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    v.as_deref()
        .map(|s| {
            crate::domain::parse_since(s, chrono::Utc::now()).map_err(|e| format!("{flag}: {e}"))
        })
        .transpose()
}

pub fn run_replay(settings: Settings, args: ReplayArgs) -> ExitCode {
    let _guard = init_logging(&settings.paths.log_dir, false);
    let times =
        instant("--since", &args.since).and_then(|s| Ok((s, instant("--until", &args.until)?)));
    let (since, until) = match times {
        Ok(t) => t,
        Err(e) => {
            eprintln!("dataflow: {e}");
            return ExitCode::from(2);
        }
    };
    let live = match broker_config(&settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dataflow: {e}");
            return ExitCode::from(3);
        }
    };
    let mut target = live.clone();
    if let Some(t) = &args.to_topic {
        target.topic = t.clone();
    }
    let Ok(rt) = runtime() else {
        return ExitCode::from(1);
    };
    rt.block_on(async {
        let store = match service::open_store(&settings).await {
            Ok(s) => s,
            Err(e) => return start_failed(&e),
        };
        let own = service::destination_of(&settings);
        let destination = args.from.clone().unwrap_or_else(|| own.clone());
        let by = service::Actor::operator();
        let times = format!("{:?}..{:?}", args.since, args.until);
        let job = ReplayJob {
            store: &store,
            destination: &destination,
            filter: ReplayFilter {
                product: args.product,
                from_id: args.from_id,
                to_id: args.to_id,
                since,
                until,
            },
            target: &target,
            live_topic: &live.topic,
            live_bootstrap: &live.bootstrap,
            own_destination: &own,
            times: &times,
            into_live: args.into_live_topic,
            by: &by,
        };
        let bar = std::io::stderr().is_terminal().then(|| {
            let pb = ProgressBar::new(0);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} events ({per_sec}, {eta})")
            {
                pb.set_style(style);
            }
            pb
        });
        let progress = |done: i64, total: i64| {
            if let Some(b) = &bar {
                b.set_length(total.max(0) as u64);
                b.set_position(done.max(0) as u64);
            }
        };
        let result = service::replay(&job, &progress).await;
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        match result {
            Ok(r) => {
                let resumed = if r.resumed {
                    format!(
                        ", resumed after id {} ({} already there)",
                        r.resumed_after, r.already_there
                    )
                } else {
                    String::new()
                };
                println!("replayed {} events to {}{resumed}", r.sent, r.topic);
                ExitCode::SUCCESS
            }
            Err(e) => start_failed(&e),
        }
    })
}
