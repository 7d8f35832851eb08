//! Where files live: data (SQLite, JWT secret, logs) and config, per the platform's conventions.

use std::path::PathBuf;

use super::{ConfigError, bad};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub data_dir: PathBuf,
    pub config_file: PathBuf,
    pub log_dir: PathBuf,
    pub sqlite_file: PathBuf,
    pub jwt_secret_file: PathBuf,
}

impl Paths {
    pub fn discover(data_override: Option<PathBuf>) -> Result<Paths, ConfigError> {
        let dirs = directories::ProjectDirs::from("", "", "dataflow");
        let config_dir = std::env::var_os("DATAFLOW_CONFIG_DIR")
            .map(PathBuf::from)
            .or_else(|| dirs.as_ref().map(|d| d.config_dir().to_path_buf()));
        let data_dir = data_override.or_else(|| dirs.as_ref().map(|d| d.data_dir().to_path_buf()));
        let (Some(config_dir), Some(data_dir)) = (config_dir, data_dir) else {
            return Err(bad(
                "DATAFLOW_DATA_DIR",
                "no home directory found; set it to a writable folder",
            ));
        };
        Ok(Paths::under(data_dir, config_dir))
    }

    /// Creates the data directory readable by its owner only (0700): it holds the database,
    /// the token secret and the logs. An existing one is tightened to 0700.
    pub fn ensure_data_dir(&self) -> std::io::Result<()> {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            b.mode(0o700);
            b.create(&self.data_dir)?;
            std::fs::set_permissions(&self.data_dir, std::fs::Permissions::from_mode(0o700))
        }
        #[cfg(not(unix))]
        b.create(&self.data_dir)
    }

    pub fn under(data_dir: PathBuf, config_dir: PathBuf) -> Paths {
        Paths {
            config_file: config_dir.join("config.toml"),
            log_dir: data_dir.join("logs"),
            sqlite_file: data_dir.join("dataflow.sqlite3"),
            jwt_secret_file: data_dir.join("jwt_secret"),
            data_dir,
        }
    }
}
