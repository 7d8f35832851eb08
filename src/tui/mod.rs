//! The terminal UI (issue 3).

use std::process::ExitCode;

use crate::config::Settings;

pub async fn run(_settings: Settings) -> ExitCode {
    eprintln!("dataflow: the terminal UI is not built yet; use `dataflow serve`");
    ExitCode::from(2)
}
