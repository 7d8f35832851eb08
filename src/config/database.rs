//! Which database: DATABASE_URL, or the original's DATABASE_* parts, or SQLite in the data
//! directory.

use std::path::PathBuf;

use super::{ConfigError, DatabaseTarget, Layers, Paths, Secret, bad, check_host_port};

pub(super) fn database_target(l: &Layers, paths: &Paths) -> Result<DatabaseTarget, ConfigError> {
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
