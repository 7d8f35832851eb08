//! The composition root: logging, the runtime, and what each subcommand starts.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{KafkaTarget, Settings};
use crate::kafka::{KafkaConfig, TailOptions, TailStart};
use crate::service::{Service, ServiceError};

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

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("dataflow: cannot start the async runtime: {e}");
            ExitCode::from(1)
        })
}

/// Starts the service and, for an embedded broker, records its address for `dataflow tail`.
/// Prints nothing: the terminal UI may own the screen.
pub async fn start_service(settings: Settings) -> Result<Service, ServiceError> {
    let broker_file = settings.paths.data_dir.join("broker.addr");
    let service = Service::start(settings).await.map_err(|e| {
        tracing::error!(error = %e, "start-up failed");
        e
    })?;
    if service.owns_broker() {
        // Lets `dataflow tail` in another terminal find this process's broker.
        let _ = std::fs::write(
            &broker_file,
            format!("{}\n{}\n", service.kafka().bootstrap, std::process::id()),
        );
    }
    Ok(service)
}

pub async fn stop_service(service: &Service) {
    service.shutdown().await;
    if service.owns_broker() {
        let _ = std::fs::remove_file(service.settings().paths.data_dir.join("broker.addr"));
    }
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
            Err(e) => {
                eprintln!("dataflow: {e}");
                return ExitCode::from(1);
            }
        };
        match store.migrate().await {
            Ok(()) => {
                println!("migrations applied ({})", store.backend());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("dataflow: {e}");
                ExitCode::from(1)
            }
        }
    })
}

pub fn run_serve(settings: Settings) -> ExitCode {
    let _guard = init_logging(&settings.paths.log_dir, true);
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(crate::http::serve_main(settings))
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
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(crate::tui::run(settings))
}

pub struct TailArgs {
    pub from_beginning: bool,
    pub last: usize,
    pub follow: bool,
    pub limit: Option<usize>,
}

/// The broker `tail` reads: KAFKA_HOST, or the embedded broker of a running dataflow process.
fn tail_broker(settings: &Settings) -> Result<String, String> {
    if let KafkaTarget::External(h) = &settings.kafka {
        return Ok(h.clone());
    }
    let file = settings.paths.data_dir.join("broker.addr");
    let text = std::fs::read_to_string(&file).map_err(|_| {
        "KAFKA_HOST: not set and no running dataflow process with an embedded broker was found; \
         set KAFKA_HOST or start `dataflow serve` first"
            .to_string()
    })?;
    let mut lines = text.lines();
    let (addr, pid) = (
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
    );
    if pid.is_empty() || !Path::new("/proc").join(pid).exists() {
        return Err(format!(
            "KAFKA_HOST: not set, and the embedded broker in {} belongs to a process that ended",
            file.display()
        ));
    }
    Ok(addr.to_string())
}

/// The broker of `tail` and `bench --flood`, reporting a missing one as one line, exit 2.
fn reader_config(settings: &Settings) -> Result<KafkaConfig, ExitCode> {
    let bootstrap = tail_broker(settings).map_err(|e| {
        eprintln!("dataflow: {e}");
        ExitCode::from(2)
    })?;
    Ok(KafkaConfig {
        bootstrap,
        topic: settings.topic.clone(),
        partitions: settings.partitions,
        replication: settings.replication,
        embedded: false,
    })
}

pub fn run_tail(settings: Settings, args: TailArgs) -> ExitCode {
    let _guard = init_logging(&settings.paths.log_dir, false);
    let cfg = match reader_config(&settings) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let start = if args.from_beginning {
        TailStart::Beginning
    } else {
        TailStart::Last(args.last)
    };
    let opts = TailOptions {
        start,
        follow: args.follow,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader_stop = stop.clone();
    let reader = std::thread::spawn(move || crate::kafka::tail(&cfg, opts, tx, reader_stop));
    let mut out = std::io::stdout().lock();
    let mut printed = 0usize;
    let mut reader_done = true;
    while let Some(m) = rx.blocking_recv() {
        if writeln!(out, "{}", m.to_json(settings.timezone)).is_err() {
            reader_done = false;
            break;
        }
        printed += 1;
        if args.limit.is_some_and(|l| printed >= l) {
            reader_done = false;
            break;
        }
    }
    let _ = out.flush();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if !reader_done {
        // Stopped early: exit without waiting for the consumer's teardown.
        return ExitCode::SUCCESS;
    }
    match reader.join() {
        Ok(Err(e)) => {
            eprintln!("dataflow: {e}");
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    }
}
