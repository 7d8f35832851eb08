//! `dataflow import` and `dataflow export`: files of products in and out, from the command line.
//! Rejected rows go to stderr as `line N: FIELD: reason`; the summary to stdout.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;
use crate::service::{ExportFormat, Format, ImportError, ImportEvent, ImportOptions, Service};

use super::{init_logging, runtime};

pub struct ImportArgs {
    pub path: PathBuf,
    pub format: Option<Format>,
    pub rejects: Option<PathBuf>,
}

fn bar(total: u64) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{bar:30} {percent:>3}% {binary_bytes}/{binary_total_bytes} · {msg} · ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb.enable_steady_tick(Duration::from_millis(200));
    Some(pb)
}

/// How long the import waits at the end for a broker that takes no events.
const DRAIN_STALL: Duration = Duration::from_secs(30);

pub fn run_import(settings: Settings, args: ImportArgs) -> ExitCode {
    let _guard = init_logging(&settings.paths.log_dir, false);
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let by = Some(settings.username_api.clone());
        let svc = match Service::start(settings).await {
            Ok(s) => s,
            Err(e) => return super::start_failed(&e),
        };
        let opts = ImportOptions {
            path: args.path,
            format: args.format,
            by,
            rejects: args.rejects,
            actor: Some(crate::service::Actor::operator()),
        };
        let total = std::fs::metadata(&opts.path).map(|m| m.len()).unwrap_or(0);
        let pb = bar(total);
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let started = std::time::Instant::now();
        let import = {
            let svc = svc.clone();
            tokio::spawn(async move { svc.import(&opts, tx).await })
        };
        let mut stderr = std::io::stderr();
        while let Some(event) = rx.recv().await {
            match event {
                ImportEvent::Rejected { line, problem } => {
                    let text = problem.at(line);
                    match &pb {
                        Some(pb) => pb.println(text),
                        None => {
                            let _ = writeln!(stderr, "{text}");
                        }
                    }
                }
                ImportEvent::Progress(c) => {
                    if let Some(pb) = &pb {
                        let rows = c.rows();
                        let rate = rows as f64 / started.elapsed().as_secs_f64().max(0.001);
                        pb.set_position(c.bytes);
                        pb.set_message(format!("{rows} rows · {rate:.0} rows/s"));
                    }
                }
            }
        }
        if let Some(pb) = &pb {
            pb.finish_and_clear();
        }
        let result = import
            .await
            .unwrap_or_else(|e| Err(ImportError::Usage(format!("the import stopped: {e}"))));
        // Every imported product on the topic before the command ends, while the broker
        // takes them; what it does not take waits in the outbox for the next process.
        let pb = std::io::stderr().is_terminal().then(|| {
            let pb = ProgressBar::new_spinner();
            pb.enable_steady_tick(Duration::from_millis(200));
            pb
        });
        // Its own events only: others' (another cluster's, say) are not this command's wait.
        let own = match &result {
            Ok(c) | Err(ImportError::Stopped { counts: c, .. }) => c.events,
            Err(_) => None,
        };
        let left = svc
            .drain_events(own.or(Some((0, -1))), DRAIN_STALL, |n| {
                if let Some(pb) = &pb {
                    pb.set_message(format!("publishing · {n} events to go"));
                }
            })
            .await;
        if let Some(pb) = &pb {
            pb.finish_and_clear();
        }
        if left > 0 {
            eprintln!(
                "dataflow: {left} events not yet published (the broker took none for {}s); \
                 they are saved and the next dataflow process publishes them",
                DRAIN_STALL.as_secs()
            );
        }
        svc.shutdown().await;
        match result {
            Ok(c) => {
                println!("{c}");
                if c.rejected > 0 {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(ImportError::Stopped { counts, source }) => {
                println!("{counts}");
                eprintln!(
                    "dataflow: import stopped: {source}; running it again skips what was imported"
                );
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("dataflow: {e}");
                ExitCode::from(2)
            }
        }
    })
}

pub fn run_export(settings: Settings, format: ExportFormat, filter: Option<String>) -> ExitCode {
    let _guard = init_logging(&settings.paths.log_dir, false);
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let store = match crate::service::open_store(&settings).await {
            Ok(s) => s,
            Err(e) => return super::start_failed(&e),
        };
        let out = std::io::BufWriter::new(std::io::stdout().lock());
        let by = crate::service::Actor::operator();
        let filter = filter.as_deref();
        let result =
            crate::service::export(&store, &settings, &by, "stdout", format, filter, out).await;
        store.close().await;
        match result {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => super::start_failed(&e),
        }
    })
}
