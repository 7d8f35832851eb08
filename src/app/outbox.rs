//! `dataflow outbox`: the events waiting per destination, and `reroute` to move those of a
//! cluster no process serves.

use std::process::ExitCode;

use super::{init_logging, runtime};
use crate::config::Settings;
use crate::service::{self, Destinations, ServiceError};
use crate::store::DestinationPending;

/// The listing, one line per destination; also part of `dataflow config`.
pub fn lines(d: &Destinations) -> Vec<String> {
    let row = |x: &DestinationPending, what: String| {
        let cluster = x.cluster.as_deref().unwrap_or("-");
        format!("{:<44} {:<28} {:>8}  {what}", x.name, cluster, x.pending)
    };
    let mut out = vec![format!(
        "{:<44} {:<28} {:>8}",
        "destination", "cluster", "pending"
    )];
    for x in &d.served {
        let what = if x.name == d.own {
            "published here"
        } else {
            "published here (same cluster)"
        };
        out.push(row(x, what.to_string()));
    }
    for x in &d.elsewhere {
        let what = if x.pending == 0 {
            "not published here".to_string()
        } else {
            format!(
                "NOT published here: dataflow outbox reroute --from '{}'",
                x.name
            )
        };
        out.push(row(x, what));
    }
    out
}

/// What `dataflow outbox` was asked to do.
pub enum OutboxCommand {
    List,
    Reroute { from: String, to: Option<String> },
    Retire { destination: String },
    Replay(super::ReplayArgs),
}

pub fn run_outbox(settings: Settings, command: OutboxCommand) -> ExitCode {
    let command = match command {
        OutboxCommand::Replay(args) => return super::run_replay(settings, args),
        other => other,
    };
    let _guard = init_logging(&settings.paths.log_dir, false);
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
        let failed = |e: ServiceError| super::start_failed(&e);
        match command {
            OutboxCommand::List => match service::destinations(&settings).await {
                Ok(d) => {
                    for l in lines(&d) {
                        println!("{l}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => failed(e),
            },
            OutboxCommand::Reroute { from, to } => {
                match service::reroute(&settings, &service::Actor::operator(), &from, to.as_deref())
                    .await
                {
                    Ok((to, moved)) => {
                        println!("moved {moved} pending events from {from} to {to}");
                        ExitCode::SUCCESS
                    }
                    Err(e) => failed(e),
                }
            }
            OutboxCommand::Retire { destination } => {
                match service::retire(&settings, &service::Actor::operator(), &destination).await {
                    Ok(()) => {
                        println!("{destination} retired: this database no longer feeds it");
                        ExitCode::SUCCESS
                    }
                    Err(e) => failed(e),
                }
            }
            OutboxCommand::Replay(_) => ExitCode::from(1), // answered above
        }
    })
}

/// For `dataflow config`: the listing, or why there is none (at most a few seconds).
pub fn summary(settings: &Settings) -> Vec<String> {
    if let crate::config::DatabaseTarget::Sqlite(path) = &settings.database
        && !path.exists()
    {
        return vec!["outbox        (no database yet)".into()];
    }
    let Ok(rt) = runtime() else {
        return vec!["outbox        (cannot start the runtime)".into()];
    };
    rt.block_on(async {
        let wait = std::time::Duration::from_secs(3);
        match tokio::time::timeout(wait, service::destinations(settings)).await {
            Ok(Ok(d)) => lines(&d),
            Ok(Err(e)) => vec![format!("outbox        (database: {e})")],
            Err(_) => vec!["outbox        (database: no answer within 3 s)".into()],
        }
    })
}
