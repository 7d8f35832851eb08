//! The raw variables of each layer, merged in order, remembering where each value came from.

use std::collections::BTreeMap;
use std::fmt;

use super::{ConfigError, Paths, VARIABLES, bad};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    ConfigFile,
    DotEnv,
    Environment,
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Default => "default",
            Source::ConfigFile => "config file",
            Source::DotEnv => ".env",
            Source::Environment => "environment",
            Source::Flag => "flag",
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct Layers {
    values: BTreeMap<String, (String, Source)>,
    /// librdkafka properties by their dotted name (`security.protocol`).
    kafka: BTreeMap<String, (String, Source)>,
}

/// The environment's way to name a librdkafka property: `KAFKA_PROPERTY_` then the name with
/// dots as underscores, in any case.
pub const PROPERTY_PREFIX: &str = "KAFKA_PROPERTY_";

/// `SSL_CA_LOCATION` -> `ssl.ca.location`.
pub fn property_name(env_suffix: &str) -> String {
    env_suffix.to_ascii_lowercase().replace('_', ".")
}

fn split_properties(pairs: Vec<(String, String)>) -> (Pairs, Pairs) {
    let mut vars = Vec::new();
    let mut props = Vec::new();
    for (k, v) in pairs {
        match k.to_ascii_uppercase().strip_prefix(PROPERTY_PREFIX) {
            Some(rest) if !rest.is_empty() => props.push((property_name(rest), v)),
            _ => vars.push((k, v)),
        }
    }
    (vars, props)
}

/// A `.env` that does not parse, named by its path and line (it is read from the working
/// directory, whatever DATAFLOW_CONFIG_DIR says).
fn dotenv_problem(e: dotenvy::Error) -> ConfigError {
    let path = std::env::current_dir()
        .map(|d| d.join(".env"))
        .unwrap_or_else(|_| ".env".into());
    let at = match &e {
        dotenvy::Error::LineParse(content, _) => std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| {
                let first = content.lines().next().unwrap_or_default().trim();
                text.lines().position(|l| l.trim() == first)
            })
            .map(|i| format!(" line {}", i + 1))
            .unwrap_or_default(),
        _ => String::new(),
    };
    bad(".env", format!("{}{at}: {e}", path.display()))
}

impl Layers {
    /// Reads the config file, `.env` in the working directory and the process environment.
    pub fn gather(paths: &Paths, flags: &BTreeMap<String, String>) -> Result<Layers, ConfigError> {
        let mut l = Layers::default();
        if paths.config_file.exists() {
            let text = std::fs::read_to_string(&paths.config_file).map_err(|e| {
                bad(
                    "DATAFLOW_CONFIG_DIR",
                    format!("cannot read {}: {e}", paths.config_file.display()),
                )
            })?;
            let (vars, props) = parse_toml(&text).map_err(|e| {
                bad(
                    "DATAFLOW_CONFIG_DIR",
                    format!("{}: {e}", paths.config_file.display()),
                )
            })?;
            l.merge(Source::ConfigFile, vars);
            l.merge_properties(Source::ConfigFile, props);
        }
        if let Ok(iter) = dotenvy::from_path_iter(".env") {
            let mut dot = Vec::new();
            for item in iter {
                let (k, v) = item.map_err(dotenv_problem)?;
                dot.push((k, v));
            }
            let (vars, props) = split_properties(dot);
            l.merge(Source::DotEnv, vars);
            l.merge_properties(Source::DotEnv, props);
        }
        let known = VARIABLES.iter().map(|(k, _, _)| k.to_string());
        let env: Vec<_> = known
            .filter_map(|k| std::env::var(&k).ok().map(|v| (k, v)))
            .collect();
        l.merge(Source::Environment, env);
        let (_, props) = split_properties(std::env::vars().collect());
        l.merge_properties(Source::Environment, props);
        l.merge(
            Source::Flag,
            flags.iter().map(|(k, v)| (k.clone(), v.clone())),
        );
        Ok(l)
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Layers {
        let mut l = Layers::default();
        let (vars, props) = split_properties(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        l.merge(Source::Environment, vars);
        l.merge_properties(Source::Environment, props);
        l
    }

    pub fn merge_properties(&mut self, source: Source, pairs: Vec<(String, String)>) {
        for (k, v) in pairs {
            self.kafka.insert(k.to_ascii_lowercase(), (v, source));
        }
    }

    /// The librdkafka properties, by name, with their values and where each came from.
    pub fn properties(&self) -> impl Iterator<Item = (&str, &str, Source)> {
        self.kafka
            .iter()
            .map(|(k, (v, s))| (k.as_str(), v.as_str(), *s))
    }

    pub fn merge(&mut self, source: Source, pairs: impl IntoIterator<Item = (String, String)>) {
        for (k, v) in pairs {
            self.values.insert(k.to_ascii_uppercase(), (v, source));
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str())
    }

    /// The value trimmed, or None when unset or blank (a blank variable means "use the default").
    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).map(str::trim).filter(|v| !v.is_empty())
    }

    pub fn source(&self, key: &str) -> Source {
        self.values.get(key).map_or(Source::Default, |(_, s)| *s)
    }
}

type Pairs = Vec<(String, String)>;

/// The config file holds the same names as the variables, in any case (`kafka_host = "..."`),
/// and librdkafka properties in a `[kafka]` table (`"security.protocol" = "ssl"`).
fn parse_toml(text: &str) -> Result<(Pairs, Pairs), String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    let scalar = |k: &str, v: toml::Value| match v {
        toml::Value::String(s) => Ok(s),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        _ => Err(format!("{k}: expected a string, number or boolean")),
    };
    let mut vars = Vec::new();
    let mut props = Vec::new();
    for (k, v) in table {
        match v {
            toml::Value::Table(t) if k.eq_ignore_ascii_case("kafka") => {
                for (name, value) in t {
                    let value = scalar(&format!("kafka.{name}"), value)?;
                    props.push((name, value));
                }
            }
            v => {
                let value = scalar(&k, v)?;
                vars.push((k, value));
            }
        }
    }
    Ok((vars, props))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_properties_from_the_config_file_and_the_environment() {
        let (vars, props) = parse_toml(
            "kafka_host = \"k:9092\"\n[kafka]\n\"security.protocol\" = \"sasl_ssl\"\n\"linger.ms\" = 5\n",
        )
        .unwrap();
        assert_eq!(vars, vec![("kafka_host".to_string(), "k:9092".to_string())]);
        assert_eq!(props.len(), 2);
        let l = Layers::from_pairs([
            ("KAFKA_PROPERTY_SSL_CA_LOCATION", "/ca.pem"),
            ("TIMEZONE", "UTC"),
        ]);
        let got: Vec<_> = l.properties().collect();
        assert_eq!(
            got,
            vec![("ssl.ca.location", "/ca.pem", Source::Environment)]
        );
        assert_eq!(l.get("TIMEZONE"), Some("UTC"));
    }
}
