//! Command line: subcommands and the flags that form the top configuration layer.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod audit;
mod replay;
mod user;
mod verify;
pub use user::UserAction;

use crate::config::{
    ConfigError, DatabaseTarget, KafkaTarget, Layers, Settings, VARIABLES, redact_url,
};

#[derive(Debug, Parser)]
#[command(
    name = "dataflow",
    version,
    about = "Register products from the keyboard; store them in SQL and publish them to Kafka"
)]
pub struct Cli {
    #[command(flatten)]
    pub flags: Flags,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags override every other configuration layer.
#[derive(Debug, Args, Default)]
pub struct Flags {
    /// PostgreSQL (postgres://...) or SQLite (sqlite:PATH) database [DATABASE_URL]
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Kafka bootstrap servers; without it an embedded broker runs in-process [KAFKA_HOST]
    #[arg(long, global = true)]
    pub kafka_host: Option<String>,
    /// Topic the products are published to [TOPIC_PRODUCTS]
    #[arg(long, global = true)]
    pub topic: Option<String>,
    /// IANA time zone used to render timestamps [TIMEZONE]
    #[arg(long, global = true)]
    pub timezone: Option<String>,
    /// Folder for the SQLite file, the JWT secret and the logs [DATAFLOW_DATA_DIR]
    #[arg(long, global = true)]
    pub data_dir: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The terminal UI (also what runs with no subcommand)
    Tui,
    /// Serve the HTTP API headless
    Serve {
        /// Listen address HOST:PORT [BIND]; default from ENVIRON
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply database migrations and exit
    Migrate,
    /// Print the effective settings (secrets redacted), where files live, and the outbox
    Config,
    /// Events waiting per destination (a cluster and topic); `reroute` moves those of a
    /// cluster no process serves any more
    Outbox {
        #[command(subcommand)]
        action: Option<OutboxAction>,
    },
    /// The audit trail, newest first: logins, failed logins and lock-outs, user changes,
    /// product changes, imports, exports and reroutes, with who, from where and the outcome
    Audit(audit::AuditFlags),
    /// The pipeline: outbox backlog per destination, commit-to-acknowledgement latency,
    /// the topic's partitions and every consumer group's lag. Exit 1 when the database or
    /// the broker does not answer
    Status {
        /// One JSON object per reading
        #[arg(long)]
        json: bool,
        /// Read again every SECS seconds until interrupted
        #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "2")]
        watch: Option<u64>,
    },
    /// Users and their roles (viewer, editor, admin), straight in the database
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Compare the topic with the outbox per partition: present, missing, expired, unexplained,
    /// second copies, out of order. Exit 0 clean, 1 problems, 2 bad usage or no topic, 3 no answer
    Verify(verify::VerifyFlags),
    /// Print the JSON Schema of the topic's messages (key and value)
    Schema,
    /// Print a completion script for SHELL to stdout (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout
    Man,
    /// Measure registration throughput, publish latency and paging on the configured back ends
    Bench {
        /// Products to register per run
        #[arg(long, default_value_t = 2000)]
        count: usize,
        /// Instead: produce this many messages per second to the topic (KAFKA_HOST, or a
        /// running process's embedded broker), to load the live tail
        #[arg(long)]
        flood: Option<u64>,
        /// How long --flood runs, in seconds
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// First add this many generated products (paging figures on a big table)
        #[arg(long, default_value_t = 0)]
        seed: i64,
    },
    /// Import products from a CSV (header row) or JSON Lines file; prints `line N: FIELD:
    /// reason` per rejected row on stderr and a summary on stdout. Exit 0: nothing rejected,
    /// 1: some rows rejected, 2: bad usage or unreadable file
    Import {
        /// The file to read
        path: std::path::PathBuf,
        /// csv or jsonl; default from the extension
        #[arg(long, value_parser = ["csv", "jsonl"])]
        format: Option<String>,
        /// Write the rejected rows here, in the input's format, to fix and import again
        #[arg(long)]
        rejects: Option<std::path::PathBuf>,
    },
    /// Write every product (or those matching --filter) to stdout, oldest first
    Export {
        /// csv (import's columns plus id and timestamp) or jsonl
        #[arg(long, value_parser = ["csv", "jsonl"], default_value = "csv")]
        format: String,
        /// Only products whose name or category contains this (as the table's filter)
        #[arg(long)]
        filter: Option<String>,
    },
    /// Print the topic's messages to stdout, one JSON object per line
    Tail {
        /// Start at the oldest message instead of the newest --last
        #[arg(long)]
        from_beginning: bool,
        /// How many of the newest messages per partition to start with
        #[arg(long, default_value_t = 100)]
        last: usize,
        /// Keep waiting for new messages
        #[arg(long)]
        follow: bool,
        /// Stop after N messages
        #[arg(long)]
        limit: Option<usize>,
        /// Start at this time: a duration ago (15m, 2h, 1d) or an RFC 3339 instant
        #[arg(long, allow_hyphen_values = true, conflicts_with_all = ["from_beginning", "offset"])]
        since: Option<String>,
        /// Only this partition
        #[arg(long)]
        partition: Option<i32>,
        /// Start at this offset (of --partition, or of every partition)
        #[arg(long, conflicts_with = "from_beginning")]
        offset: Option<i64>,
        /// Only messages with exactly this key
        #[arg(long)]
        key: Option<String>,
        /// Only messages whose key or value contains this text (any case)
        #[arg(long)]
        grep: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// Move every pending event of one destination to another; prints how many moved
    Reroute {
        /// The destination the events wait for now (as `dataflow outbox` lists it)
        #[arg(long)]
        from: String,
        /// Where they go; default: this configuration's destination
        #[arg(long)]
        to: Option<String>,
    },
    /// Send published events again from the outbox (to another topic, or with
    /// --into-live-topic to the live one), in order, resuming an interrupted replay
    Replay(replay::ReplayFlags),
    /// Stop feeding a Kafka cluster for good (nothing may wait for it): a process without
    /// KAFKA_HOST may then use this database
    Retire {
        /// The destination, as `dataflow outbox` lists it
        #[arg(long)]
        destination: String,
    },
}

impl Flags {
    fn to_layer(&self, command: &Option<Command>) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v.clone());
            }
        };
        put("DATABASE_URL", &self.database_url);
        put("KAFKA_HOST", &self.kafka_host);
        put("TOPIC_PRODUCTS", &self.topic);
        put("TIMEZONE", &self.timezone);
        put("DATAFLOW_DATA_DIR", &self.data_dir);
        if let Some(Command::Serve { bind }) = command {
            put("BIND", bind);
        }
        m
    }
}

pub fn run(cli: Cli) -> ExitCode {
    // Generated from the command line's definition alone: no settings needed.
    match &cli.command {
        Some(Command::Completions { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "dataflow", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Some(Command::Man) => {
            let man = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
            return match man.render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                // `dataflow man | head`: the reader left, nothing is wrong.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("dataflow: cannot write the manual page: {e}");
                    ExitCode::from(1)
                }
            };
        }
        _ => {}
    }
    let (settings, layers) = match Settings::load(&cli.flags.to_layer(&cli.command)) {
        Ok(s) => s,
        Err(e) => return config_failure(&e),
    };
    if let Err((name, why)) = crate::kafka::check_properties(&settings.kafka_properties) {
        let var = format!(
            "{}{}",
            crate::config::PROPERTY_PREFIX,
            name.replace('.', "_").to_ascii_uppercase()
        );
        eprintln!("dataflow: {var} ({name}): {why}");
        return ExitCode::from(2);
    }
    match cli.command.unwrap_or(Command::Tui) {
        Command::Config => print_config(&settings, &layers),
        Command::Outbox { action } => crate::app::run_outbox(
            settings,
            match action {
                None => crate::app::OutboxCommand::List,
                Some(OutboxAction::Reroute { from, to }) => {
                    crate::app::OutboxCommand::Reroute { from, to }
                }
                Some(OutboxAction::Retire { destination }) => {
                    crate::app::OutboxCommand::Retire { destination }
                }
                Some(OutboxAction::Replay(flags)) => {
                    crate::app::OutboxCommand::Replay(flags.into())
                }
            },
        ),
        Command::User { action } => crate::app::run_user(settings, action.into()),
        Command::Audit(flags) => crate::app::run_audit(settings, flags.into()),
        Command::Status { json, watch } => crate::app::run_status(settings, json, watch),
        Command::Verify(flags) => crate::app::run_verify(settings, flags.into()),
        Command::Schema => {
            print!("{}", crate::domain::SCHEMA);
            ExitCode::SUCCESS
        }
        Command::Tui => crate::app::run_tui(settings),
        Command::Completions { .. } | Command::Man => ExitCode::SUCCESS, // answered above
        Command::Serve { .. } => crate::app::run_serve(settings),
        Command::Migrate => crate::app::run_migrate(settings),
        Command::Bench {
            count,
            flood: None,
            seed,
            ..
        } => crate::app::run_bench(settings, count, seed),
        Command::Bench {
            flood: Some(rate),
            seconds,
            ..
        } => crate::app::run_flood(settings, rate, seconds),
        Command::Import {
            path,
            format,
            rejects,
        } => crate::app::run_import(
            settings,
            crate::app::ImportArgs {
                path,
                format: format.as_deref().map(|f| match f {
                    "csv" => crate::service::Format::Csv,
                    _ => crate::service::Format::Jsonl,
                }),
                rejects,
            },
        ),
        Command::Export { format, filter } => crate::app::run_export(
            settings,
            if format == "jsonl" {
                crate::service::ExportFormat::Jsonl
            } else {
                crate::service::ExportFormat::Csv
            },
            filter,
        ),
        Command::Tail {
            from_beginning,
            last,
            follow,
            limit,
            since,
            partition,
            offset,
            key,
            grep,
        } => crate::app::run_tail(
            settings,
            crate::app::TailArgs {
                from_beginning,
                last,
                follow,
                limit,
                since,
                partition,
                offset,
                key,
                grep,
            },
        ),
    }
}

pub fn config_failure(e: &ConfigError) -> ExitCode {
    eprintln!("dataflow: {e}");
    ExitCode::from(2)
}

fn print_config(s: &Settings, layers: &Layers) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let mut lines = Vec::new();
    for (name, default, _) in VARIABLES {
        let (value, source) = match layers.get(name) {
            Some(v) => (v.to_string(), layers.source(name).to_string()),
            None => (default.to_string(), "default".to_string()),
        };
        let shown = if Settings::is_secret(name) && !value.is_empty() {
            "***".to_string()
        } else if *name == "DATABASE_URL" && !value.is_empty() {
            redact_url(&value)
        } else {
            value
        };
        lines.push(format!("{name:<18} = {shown:<40} ({source})"));
    }
    for (name, value, source) in layers.properties() {
        let shown = if Settings::is_secret_property(name) {
            "***"
        } else {
            value
        };
        lines.push(format!("kafka property {name} = {shown} ({source})"));
    }
    lines.push(String::new());
    lines.push(match &s.database {
        DatabaseTarget::Sqlite(p) => format!("database      sqlite {}", p.display()),
        DatabaseTarget::Postgres(u) => format!("database      postgres {}", redact_url(u.expose())),
    });
    lines.push(match &s.kafka {
        KafkaTarget::Embedded => {
            "kafka         embedded broker (in-process, address printed at start)".to_string()
        }
        KafkaTarget::External(h) => format!("kafka         {h}"),
    });
    lines.push(format!("http bind     {}", s.bind));
    lines.push(format!("data dir      {}", s.paths.data_dir.display()));
    lines.push(format!("config file   {}", s.paths.config_file.display()));
    lines.push(format!("log dir       {}", s.paths.log_dir.display()));
    lines.push(format!(
        "jwt secret    {}",
        s.paths.jwt_secret_file.display()
    ));
    lines.push(String::new());
    lines.extend(crate::app::outbox_summary(s));
    for l in lines {
        if writeln!(out, "{l}").is_err() {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
