//! `dataflow tail`: the topic as JSON lines, from the configured broker or the embedded broker
//! of a running dataflow process.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::config::{KafkaTarget, Settings};
use crate::kafka::{KafkaConfig, TailOptions, TailStart};

use super::init_logging;

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
    let file = settings.paths.data_dir.join(crate::service::BROKER_FILE);
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
pub(super) fn reader_config(settings: &Settings) -> Result<KafkaConfig, ExitCode> {
    let bootstrap = tail_broker(settings).map_err(|e| {
        eprintln!("dataflow: {e}");
        ExitCode::from(2)
    })?;
    Ok(KafkaConfig {
        bootstrap,
        topic: settings.topic.clone(),
        partitions: settings.partitions,
        replication: settings.replication,
        cleanup_policy: settings.cleanup_policy.clone(),
        embedded: false,
        properties: match settings.kafka {
            KafkaTarget::External(_) => settings.kafka_properties.clone(),
            KafkaTarget::Embedded => Vec::new(),
        },
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
