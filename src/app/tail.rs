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
    pub since: Option<String>,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    pub key: Option<String>,
    pub grep: Option<String>,
}

fn start_of(args: &TailArgs) -> Result<TailStart, String> {
    if let Some(since) = &args.since {
        let at = crate::domain::parse_since(since, chrono::Utc::now())
            .map_err(|e| format!("--since: {e}"))?;
        return Ok(TailStart::Time(at.timestamp_millis()));
    }
    if let Some(o) = args.offset {
        if o < 0 {
            return Err("--offset: must be 0 or more".into());
        }
        return Ok(TailStart::Offset(o));
    }
    Ok(if args.from_beginning {
        TailStart::Beginning
    } else {
        TailStart::Last(args.last)
    })
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
    broker_config(settings).map_err(|e| {
        eprintln!("dataflow: {e}");
        ExitCode::from(2)
    })
}

/// The broker a command of its own reads (KAFKA_HOST, or a running process's embedded
/// broker), or why there is none.
pub(super) fn broker_config(settings: &Settings) -> Result<KafkaConfig, String> {
    let bootstrap = tail_broker(settings)?;
    Ok(KafkaConfig {
        bootstrap,
        topic: settings.topic.clone(),
        partitions: settings.partitions,
        replication: settings.replication,
        cleanup_policy: settings.cleanup_policy.clone(),
        // The mock broker has no offsets-for-times: `--since` searches by reading instead.
        embedded: matches!(settings.kafka, KafkaTarget::Embedded),
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
    let start = match start_of(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dataflow: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = TailOptions {
        start,
        follow: args.follow,
        partition: args.partition,
    };
    let grep = args.grep.as_deref().and_then(|g| {
        let text = g.trim();
        (!text.is_empty()).then(|| crate::service::MessageFilter::Text(text.to_lowercase()))
    });
    let keeps = |m: &crate::kafka::TailMessage| {
        args.key
            .as_deref()
            .is_none_or(|k| m.key.as_deref() == Some(k))
            && grep.as_ref().is_none_or(|g| g.matches(m))
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader_stop = stop.clone();
    let reader = std::thread::spawn(move || crate::kafka::tail(&cfg, opts, tx, reader_stop));
    let mut out = std::io::stdout().lock();
    let mut printed = 0usize;
    let mut reader_done = true;
    while let Some(m) = rx.blocking_recv() {
        if !keeps(&m) {
            continue;
        }
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
