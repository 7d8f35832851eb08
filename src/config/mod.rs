//! Effective settings, merged from layers: defaults < config file < `.env` < environment < flags.
//! Every value is parsed here, so a bad one stops start-up with a line naming the variable.

mod database;
mod layers;
mod paths;
mod secret;
mod variables;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use database::database_target;
pub use database::redact_url;
pub use layers::{Layers, PROPERTY_PREFIX, Source, property_name};
pub use paths::Paths;
pub use secret::Secret;
pub use variables::VARIABLES;

/// A setting that could not be used; its `Display` is the one line shown to the user.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn bad(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environ {
    Dev,
    Prd,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Sqlite(PathBuf),
    /// The connection URL, password included: never printed.
    Postgres(Secret),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KafkaTarget {
    /// The in-process broker, started with the program.
    Embedded,
    External(String),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub environ: Environ,
    pub timezone: chrono_tz::Tz,
    pub username_api: String,
    pub password_api: Secret,
    pub database: DatabaseTarget,
    pub kafka: KafkaTarget,
    pub topic: String,
    pub consumer_group: String,
    pub partitions: i32,
    /// Replication factor when the topic is created; None = the broker's default.
    pub replication: Option<i32>,
    /// The topic's cleanup.policy when we create it: delete, compact or compact,delete.
    pub cleanup_policy: String,
    pub publish_wait: Duration,
    /// How long an Idempotency-Key is remembered (IDEMPOTENCY_TTL_HOURS).
    pub idempotency_ttl: Duration,
    pub replay_on_start: usize,
    pub bind: SocketAddr,
    pub jwt_secret: Option<Secret>,
    pub default_currency: String,
    /// librdkafka properties for every client of a real cluster; values never printed.
    pub kafka_properties: Vec<(String, Secret)>,
    pub tail_last: usize,
    pub tail_buffer: usize,
    /// The first login lock-out's length (LOGIN_LOCK_SECONDS).
    pub login_lock: Duration,
    /// How long audit entries are kept (AUDIT_RETENTION_DAYS).
    pub audit_retention: Duration,
    /// Reverse proxies whose X-Forwarded-For is believed (TRUSTED_PROXIES).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// A bearer token /metrics requires (METRICS_TOKEN); None: /metrics is open.
    pub metrics_token: Option<Secret>,
    pub paths: Paths,
}

/// The original's default API password; refused in production.
pub const DEFAULT_PASSWORD: &str = "vert";
/// Shortest JWT_SECRET accepted in production (HS256 wants at least its 32-byte output).
pub const MIN_JWT_SECRET: usize = 32;

/// Secrets and passwords printed in this repository's own files (the compose file's former
/// placeholders, the scripts' and README's examples): public, so refused in production.
pub const PUBLISHED_SECRETS: &[&str] = &[
    "change-me-api-password",
    "change-me-to-32-or-more-random-bytes-000000",
    "bench-secret-bench-secret-bench-secret",
    "bench-login-passphrase",
    "a long secret",
];

const SECRETS: &[&str] = &[
    "PASSWORD_API",
    "DATABASE_PASSWORD",
    "JWT_SECRET",
    "METRICS_TOKEN",
];

impl Settings {
    /// Reads every layer from the real environment, then applies `flags` on top.
    pub fn load(flags: &BTreeMap<String, String>) -> Result<(Settings, Layers), ConfigError> {
        let data_override = flags
            .get("DATAFLOW_DATA_DIR")
            .cloned()
            .or_else(|| std::env::var("DATAFLOW_DATA_DIR").ok());
        let paths = Paths::discover(data_override.map(PathBuf::from))?;
        let layers = Layers::gather(&paths, flags)?;
        // `.env` and config.toml may name the data directory too (they are read from the
        // working and config directories, which do not depend on it): the winning layer's
        // value is the one in effect, as `dataflow config` shows it.
        let paths = match layers.value("DATAFLOW_DATA_DIR").filter(|d| !d.is_empty()) {
            Some(d) if Path::new(d) != paths.data_dir => {
                let config_dir = paths
                    .config_file
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                Paths::under(PathBuf::from(d), config_dir)
            }
            _ => paths,
        };
        let settings = Settings::from_layers(&layers, paths)?;
        Ok((settings, layers))
    }

    pub fn from_layers(l: &Layers, paths: Paths) -> Result<Settings, ConfigError> {
        let get = |k: &str| l.value(k);
        let or = |k: &str, d: &'static str| l.value(k).unwrap_or(d).to_string();
        let environ = match get("ENVIRON")
            .unwrap_or("dev")
            .to_ascii_lowercase()
            .as_str()
        {
            "dev" | "development" | "local" => Environ::Dev,
            "prd" | "prod" | "production" => Environ::Prd,
            other => return Err(bad("ENVIRON", format!("'{other}' is not dev, prd or prod"))),
        };
        let tz_name = get("TIMEZONE").unwrap_or("UTC");
        let timezone = tz_name.parse::<chrono_tz::Tz>().map_err(|_| {
            bad(
                "TIMEZONE",
                format!(
                    "unknown time zone '{tz_name}' (use an IANA name such as America/Sao_Paulo)"
                ),
            )
        })?;
        let database = database_target(l, &paths)?;
        let kafka = match get("KAFKA_HOST") {
            None => KafkaTarget::Embedded,
            Some(h) => KafkaTarget::External(check_hosts("KAFKA_HOST", h)?),
        };
        let topic = or("TOPIC_PRODUCTS", "produtos-persistidos");
        if topic.len() > 249
            || !topic
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(bad(
                "TOPIC_PRODUCTS",
                format!("'{topic}' is not a valid topic name (letters, digits, . _ -)"),
            ));
        }
        let bind = match get("BIND") {
            Some(b) => bind_address(b).map_err(|why| bad("BIND", why))?,
            None if environ == Environ::Prd => SocketAddr::from(([0, 0, 0, 0], 80)),
            None => SocketAddr::from(([127, 0, 0, 1], 8001)),
        };
        let default_currency = or("DEFAULT_CURRENCY", "BRL");
        crate::domain::Currency::parse(&default_currency)
            .map_err(|e| bad("DEFAULT_CURRENCY", format!("'{default_currency}' {e}")))?;
        let settings = Settings {
            environ,
            timezone,
            username_api: or("USERNAME_API", "vert"),
            password_api: Secret::new(l.get("PASSWORD_API").unwrap_or(DEFAULT_PASSWORD)),
            database,
            kafka,
            topic,
            consumer_group: or("CONSUMER_GROUP", "consumer-group"),
            partitions: number(l, "TOPIC_PARTITIONS", 3, 1, 10_000)?,
            replication: match l.value("TOPIC_REPLICATION") {
                Some(_) => Some(number(l, "TOPIC_REPLICATION", 1, 1, 1_000)?),
                None => None,
            },
            cleanup_policy: cleanup_policy(&or("TOPIC_CLEANUP_POLICY", "delete"))?,
            publish_wait: Duration::from_millis(number(l, "PUBLISH_WAIT_MS", 2000, 0, 600_000)?),
            idempotency_ttl: Duration::from_secs(
                3600 * number(l, "IDEMPOTENCY_TTL_HOURS", 24, 1, 24 * 365)?,
            ),
            replay_on_start: number(l, "REPLAY_ON_START", 1000, 0, 10_000_000)?,
            bind,
            jwt_secret: get("JWT_SECRET").map(Secret::from),
            default_currency,
            kafka_properties: l
                .properties()
                .map(|(k, v, _)| (k.to_string(), Secret::new(v)))
                .collect(),
            tail_last: number(l, "TAIL_LAST", 100, 0, 1_000_000)?,
            tail_buffer: number(l, "TAIL_BUFFER", 10_000, 10, 10_000_000)?,
            login_lock: Duration::from_secs(number(l, "LOGIN_LOCK_SECONDS", 60, 1, 86_400)?),
            audit_retention: Duration::from_secs(
                86_400 * number(l, "AUDIT_RETENTION_DAYS", 365, 1, 36_500)?,
            ),
            trusted_proxies: trusted_proxies(get("TRUSTED_PROXIES").unwrap_or(""))?,
            metrics_token: get("METRICS_TOKEN")
                .filter(|t| !t.is_empty())
                .map(Secret::from),
            paths,
        };
        settings.check_api_password(l.get("PASSWORD_API").is_some())?;
        settings.refuse_unsafe_production()?;
        Ok(settings)
    }

    /// A PASSWORD_API that is set obeys every user's password rules (8-1024 characters, no
    /// control characters); only the unset default `vert` is exempt, and only outside
    /// production. An empty one would make an admin with an empty password.
    fn check_api_password(&self, set: bool) -> Result<(), ConfigError> {
        let password = self.password_api.expose();
        if set && password.is_empty() {
            return Err(bad(
                "PASSWORD_API",
                "is set but empty; set a password of 8 to 1024 characters, or unset it",
            ));
        }
        // The default itself: fine outside production, refused in it with its own message.
        if password == DEFAULT_PASSWORD {
            return Ok(());
        }
        match crate::domain::password_problem(password) {
            Some(problem) => Err(bad("PASSWORD_API", problem)),
            None => Ok(()),
        }
    }

    /// In production (ENVIRON=prd) the conveniences of a first run are refused: the default
    /// password, a short or per-process JWT secret, and the in-memory broker.
    fn refuse_unsafe_production(&self) -> Result<(), ConfigError> {
        if self.environ != Environ::Prd {
            return Ok(());
        }
        if self.password_api.expose() == DEFAULT_PASSWORD {
            return Err(bad(
                "PASSWORD_API",
                "the default password is refused in production (ENVIRON=prd); set another",
            ));
        }
        for (var, value) in [
            ("PASSWORD_API", Some(&self.password_api)),
            ("JWT_SECRET", self.jwt_secret.as_ref()),
            ("METRICS_TOKEN", self.metrics_token.as_ref()),
        ] {
            if value.is_some_and(|v| PUBLISHED_SECRETS.contains(&v.expose())) {
                return Err(bad(
                    var,
                    "is a placeholder printed in dataflow's own files, public to anyone; \
                     refused in production (ENVIRON=prd): generate your own",
                ));
            }
        }
        match &self.jwt_secret {
            Some(s) if s.expose().len() >= MIN_JWT_SECRET => {}
            _ => {
                return Err(bad(
                    "JWT_SECRET",
                    format!(
                        "must be set in production (ENVIRON=prd), at least {MIN_JWT_SECRET} bytes, \
                         the same on every replica"
                    ),
                ));
            }
        }
        if self.kafka == KafkaTarget::Embedded {
            return Err(bad(
                "KAFKA_HOST",
                "must be set in production (ENVIRON=prd): the embedded broker keeps messages \
                 in memory only",
            ));
        }
        Ok(())
    }

    /// librdkafka properties whose values are credentials: shown as `***`.
    pub fn is_secret_property(name: &str) -> bool {
        [
            "password",
            "secret",
            "key.pem",
            "oauthbearer.config",
            "token",
            "jaas",
        ]
        .iter()
        .any(|w| name.contains(w))
    }

    pub fn is_secret(var: &str) -> bool {
        SECRETS.contains(&var)
    }
}

/// HOST:PORT with an IP, or a host name resolved once, here (the first address it has,
/// IPv4 first: `localhost` binds 127.0.0.1).
fn bind_address(b: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = b.parse() {
        return Ok(a);
    }
    let rule = format!("'{b}' is not HOST:PORT (an IP or a host name, and a port)");
    let (host, port) = b.rsplit_once(':').ok_or_else(|| rule.clone())?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(rule);
    }
    use std::net::ToSocketAddrs;
    let all: Vec<SocketAddr> = b
        .to_socket_addrs()
        .map_err(|e| format!("'{b}': the host name does not resolve ({e})"))?
        .collect();
    all.iter()
        .find(|a| a.is_ipv4())
        .or(all.first())
        .copied()
        .ok_or_else(|| format!("'{b}': the host name has no address"))
}

fn number<T>(l: &Layers, var: &'static str, default: T, min: T, max: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = l.value(var) else {
        return Ok(default);
    };
    match raw.parse::<T>() {
        Ok(v) if v >= min && v <= max => Ok(v),
        _ => Err(bad(
            var,
            format!("'{raw}' must be a whole number from {min} to {max}"),
        )),
    }
}

/// TRUSTED_PROXIES: IP addresses, comma-separated.
fn trusted_proxies(raw: &str) -> Result<Vec<std::net::IpAddr>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse().map_err(|_| {
                bad(
                    "TRUSTED_PROXIES",
                    format!(
                        "'{p}' is not an IP address (list proxies by address, comma-separated)"
                    ),
                )
            })
        })
        .collect()
}

/// Kafka's cleanup.policy values; `delete,compact` is read as `compact,delete`.
fn cleanup_policy(raw: &str) -> Result<String, ConfigError> {
    let mut parts: Vec<&str> = raw.split(',').map(str::trim).collect();
    parts.sort_unstable();
    parts.dedup();
    match parts.as_slice() {
        ["delete"] | ["compact"] => Ok(parts[0].to_string()),
        ["compact", "delete"] => Ok("compact,delete".to_string()),
        _ => Err(bad(
            "TOPIC_CLEANUP_POLICY",
            format!("'{raw}' must be delete, compact or compact,delete"),
        )),
    }
}

/// `host:port[,host:port...]` with every port in 1..=65535.
fn check_hosts(var: &'static str, list: &str) -> Result<String, ConfigError> {
    for part in list.split(',').map(str::trim) {
        check_host_port(var, part)?;
    }
    Ok(list.to_string())
}

fn check_host_port(var: &'static str, hp: &str) -> Result<(), ConfigError> {
    let (host, port) = match hp.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, Some(p)),
        _ => (hp, None),
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad(var, format!("'{hp}' has no host name")));
    }
    if let Some(p) = port {
        match p.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => {}
            Ok(n) => {
                return Err(bad(
                    var,
                    format!("port {n} in '{hp}' is out of range 1-65535"),
                ));
            }
            Err(_) => return Err(bad(var, format!("port '{p}' in '{hp}' is not a number"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
