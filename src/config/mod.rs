//! Effective settings, merged from layers: defaults < config file < `.env` < environment < flags.
//! Every value is parsed here, so a bad one stops start-up with a line naming the variable.

mod layers;
mod paths;
mod secret;
mod variables;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    pub paths: Paths,
}

/// The original's default API password; refused in production.
pub const DEFAULT_PASSWORD: &str = "vert";
/// Shortest JWT_SECRET accepted in production (HS256 wants at least its 32-byte output).
pub const MIN_JWT_SECRET: usize = 32;

const SECRETS: &[&str] = &["PASSWORD_API", "DATABASE_PASSWORD", "JWT_SECRET"];

impl Settings {
    /// Reads every layer from the real environment, then applies `flags` on top.
    pub fn load(flags: &BTreeMap<String, String>) -> Result<(Settings, Layers), ConfigError> {
        let data_override = flags
            .get("DATAFLOW_DATA_DIR")
            .cloned()
            .or_else(|| std::env::var("DATAFLOW_DATA_DIR").ok());
        let paths = Paths::discover(data_override.map(PathBuf::from))?;
        let layers = Layers::gather(&paths, flags)?;
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
            Some(b) => b
                .parse()
                .map_err(|_| bad("BIND", format!("'{b}' is not HOST:PORT with a numeric IP")))?,
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
            paths,
        };
        settings.refuse_unsafe_production()?;
        Ok(settings)
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

    /// True while the API user's password is the well-known default (never in production).
    pub fn default_password_in_effect(&self) -> bool {
        self.environ != Environ::Prd && self.password_api.expose() == DEFAULT_PASSWORD
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

fn database_target(l: &Layers, paths: &Paths) -> Result<DatabaseTarget, ConfigError> {
    let get = |k: &str| l.value(k);
    if let Some(raw) = get("DATABASE_URL") {
        let url = url::Url::parse(raw).map_err(|e| {
            bad(
                "DATABASE_URL",
                format!("cannot parse '{}' as a URL: {e}", redact_url(raw)),
            )
        })?;
        return match url.scheme() {
            "postgres" | "postgresql" => {
                if url.port() == Some(0) {
                    return Err(bad("DATABASE_URL", "port 0 is out of range 1-65535"));
                }
                Ok(DatabaseTarget::Postgres(Secret::new(raw)))
            }
            "sqlite" => {
                let path = raw
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                let path = path.split('?').next().unwrap_or(path);
                if path.is_empty() {
                    return Err(bad("DATABASE_URL", "sqlite: URL has no file path"));
                }
                Ok(DatabaseTarget::Sqlite(PathBuf::from(path)))
            }
            other => Err(bad(
                "DATABASE_URL",
                format!("scheme '{other}' is not postgres or sqlite"),
            )),
        };
    }
    let parts = [
        "DATABASE",
        "DATABASE_HOST",
        "DATABASE_USER",
        "DATABASE_PASSWORD",
    ];
    if parts.iter().all(|p| get(p).is_none()) {
        return Ok(DatabaseTarget::Sqlite(paths.sqlite_file.clone()));
    }
    let host = get("DATABASE_HOST").unwrap_or("localhost:5432");
    check_host_port("DATABASE_HOST", host)?;
    let mut url = url::Url::parse("postgres://localhost/")
        .map_err(|e| bad("DATABASE_HOST", e.to_string()))?;
    let (h, port) = match host.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()),
        None => (host, None),
    };
    url.set_host(Some(h))
        .map_err(|e| bad("DATABASE_HOST", format!("'{host}': {e}")))?;
    let _ = url.set_port(port);
    let _ = url.set_username(get("DATABASE_USER").unwrap_or("vert"));
    let _ = url.set_password(Some(get("DATABASE_PASSWORD").unwrap_or("vert")));
    url.set_path(get("DATABASE").unwrap_or("vert_db"));
    Ok(DatabaseTarget::Postgres(Secret::new(url.to_string())))
}

/// The URL with its password replaced, safe to print or log.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparseable>".to_string(),
    }
}

#[cfg(test)]
mod tests;
