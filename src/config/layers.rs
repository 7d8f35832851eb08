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
            l.merge(
                Source::ConfigFile,
                parse_toml(&text).map_err(|e| {
                    bad(
                        "DATAFLOW_CONFIG_DIR",
                        format!("{}: {e}", paths.config_file.display()),
                    )
                })?,
            );
        }
        if let Ok(iter) = dotenvy::from_path_iter(".env") {
            let mut dot = Vec::new();
            for item in iter {
                let (k, v) = item.map_err(|e| bad("DATAFLOW_CONFIG_DIR", format!(".env: {e}")))?;
                dot.push((k, v));
            }
            l.merge(Source::DotEnv, dot);
        }
        let known = VARIABLES.iter().map(|(k, _, _)| k.to_string());
        let env: Vec<_> = known
            .filter_map(|k| std::env::var(&k).ok().map(|v| (k, v)))
            .collect();
        l.merge(Source::Environment, env);
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
        l.merge(
            Source::Environment,
            pairs.into_iter().map(|(k, v)| (k.into(), v.into())),
        );
        l
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

/// The config file holds the same names as the variables, in any case: `kafka_host = "..."`.
fn parse_toml(text: &str) -> Result<Vec<(String, String)>, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    table
        .into_iter()
        .map(|(k, v)| match v {
            toml::Value::String(s) => Ok((k, s)),
            toml::Value::Integer(i) => Ok((k, i.to_string())),
            toml::Value::Float(f) => Ok((k, f.to_string())),
            toml::Value::Boolean(b) => Ok((k, b.to_string())),
            _ => Err(format!("{k}: expected a string, number or boolean")),
        })
        .collect()
}
