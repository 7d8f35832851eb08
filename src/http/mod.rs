//! The headless HTTP API (issue 4).

use std::process::ExitCode;

use crate::config::Settings;

pub async fn serve_main(settings: Settings) -> ExitCode {
    let service = match crate::app::start_service(settings).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    println!(
        "dataflow serving on http://{} kafka {}",
        service.settings().bind,
        service.kafka().bootstrap
    );
    let _ = tokio::signal::ctrl_c().await;
    crate::app::stop_service(&service).await;
    ExitCode::SUCCESS
}
