//! The composition root: logging, the runtime, and what each subcommand starts. Process
//! concerns live here: signals, exit codes, what is printed.

mod audit;
mod import;
mod outbox;
mod replay;
mod serve;
mod status;
mod tail;
mod users;
mod verify;

pub use audit::{AuditArgs, run_audit};
pub use import::{ImportArgs, run_export, run_import};
pub use outbox::{OutboxCommand, run_outbox, summary as outbox_summary};
pub use replay::{ReplayArgs, run_replay};
pub use status::run_status;
use tail::reader_config;
pub use tail::{TailArgs, run_tail};
pub use users::{UserAction, run_user};
pub use verify::{VerifyArgs, run_verify};

use std::path::Path;
use std::process::ExitCode;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::Settings;

/// Logs go to a daily file in the data directory; `stderr` adds a copy for headless runs.
/// The terminal UI never passes it: nothing may print over the screen.
pub fn init_logging(log_dir: &Path, stderr: bool) -> Option<WorkerGuard> {
    if let Some(data_dir) = log_dir.parent() {
        // The data directory is private (0700) before anything is written into it.
        let _ = crate::config::Paths::under(data_dir.to_path_buf(), data_dir.to_path_buf())
            .ensure_data_dir();
    }
    std::fs::create_dir_all(log_dir).ok()?;
    let (file, guard) =
        tracing_appender::non_blocking(tracing_appender::rolling::daily(log_dir, "dataflow.log"));
    let filter = || EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let file_layer = tracing_subscriber::fmt::layer()
        .with_writer(file)
        .with_ansi(false)
        .with_filter(filter());
    // Colour only for a person at a terminal, never into files or pipes.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let stderr_layer = stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .with_filter(filter())
    });
    tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init()
        .ok()?;
    Some(guard)
}

/// README's exit codes: 2 when the configuration or the input is refused (nothing to retry
/// until it changes), 3 when the database (or the broker a command needs) did not answer
/// (retry later), 1 for any other failure.
pub(crate) fn exit_code_of(e: &crate::service::ServiceError) -> ExitCode {
    use crate::service::ServiceError;
    ExitCode::from(match e {
        ServiceError::Refused(_) => 2,
        ServiceError::Unavailable(_) | ServiceError::Kafka(_) => 3,
        _ => 1,
    })
}

/// A start that failed: one line, and its exit code.
pub(crate) fn start_failed(e: &crate::service::ServiceError) -> ExitCode {
    eprintln!("dataflow: {e}");
    exit_code_of(e)
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("dataflow: cannot start the async runtime: {e}");
            ExitCode::from(1)
        })
}

pub fn run_migrate(settings: Settings) -> ExitCode {
    let _guard = init_logging(&settings.paths.log_dir, true);
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
        let store = match crate::store::Store::connect(&settings.database).await {
            Ok(s) => s,
            Err(e) => return start_failed(&e.into()),
        };
        match store.migrate().await {
            Ok(()) => {
                println!("migrations applied ({})", store.backend());
                ExitCode::SUCCESS
            }
            Err(e) => start_failed(&e.into()),
        }
    })
}

/// Span export when an OTLP endpoint is set; a bad setting is logged, never fatal.
fn start_telemetry() -> Option<crate::telemetry::Telemetry> {
    match crate::telemetry::init() {
        Ok(t) => {
            if t.is_some() {
                tracing::info!("exporting spans over OTLP");
            }
            t
        }
        Err(e) => {
            tracing::warn!(error = %e, "spans are not exported");
            None
        }
    }
}

pub fn run_serve(settings: Settings) -> ExitCode {
    let _guard = init_logging(&settings.paths.log_dir, true);
    let _telemetry = start_telemetry();
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(serve::run(settings))
}

pub fn run_bench(settings: Settings, count: usize, seed: i64) -> ExitCode {
    let _guard = init_logging(&settings.paths.log_dir, false);
    match runtime() {
        Ok(rt) => rt.block_on(crate::bench::run(settings, count, seed)),
        Err(code) => code,
    }
}

pub fn run_flood(settings: Settings, rate: u64, seconds: u64) -> ExitCode {
    let _guard = init_logging(&settings.paths.log_dir, false);
    let cfg = match reader_config(&settings) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let start = std::time::Instant::now();
    match crate::kafka::flood(&cfg, rate, std::time::Duration::from_secs(seconds)) {
        Ok(n) => {
            let secs = start.elapsed().as_secs_f64();
            println!(
                "produced {n} messages in {secs:.1} s ({:.0}/s)",
                n as f64 / secs
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dataflow: {e}");
            ExitCode::from(1)
        }
    }
}

pub fn run_tui(settings: Settings) -> ExitCode {
    let _guard = init_logging(&settings.paths.log_dir, false);
    let _telemetry = start_telemetry();
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(crate::tui::run(settings)) {
        Ok(None) => ExitCode::SUCCESS,
        // Printed once the terminal is restored, so it stays on screen.
        Ok(Some(refused)) => {
            eprintln!("dataflow: {refused}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("dataflow: terminal error: {e}");
            ExitCode::from(1)
        }
    }
}
