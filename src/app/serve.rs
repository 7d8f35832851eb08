//! `dataflow serve`: the service behind the HTTP API, until SIGTERM or Ctrl+C.

use std::process::ExitCode;

use crate::config::{Secret, Settings};
use crate::http::{AppState, Jwt, ThrottleRules, load_secret, serve};
use crate::service::Service;

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested");
}

/// `dataflow serve`: start the service, listen, and shut down cleanly on SIGTERM or Ctrl+C.
pub async fn run(settings: Settings) -> ExitCode {
    let secret = match load_secret(
        settings.jwt_secret.as_ref().map(Secret::expose),
        &settings.paths.jwt_secret_file,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "dataflow: JWT_SECRET: not set and {} cannot be used: {e}",
                settings.paths.jwt_secret_file.display()
            );
            return ExitCode::from(2);
        }
    };
    let bind = settings.bind;
    let listener = match tokio::net::TcpListener::bind(bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("dataflow: BIND: cannot listen on {bind}: {e}");
            return ExitCode::from(2);
        }
    };
    let service = match Service::start(settings).await {
        Ok(s) => s,
        Err(e) => return super::start_failed(&e),
    };
    let kafka = service.kafka();
    let kind = if kafka.embedded { " (embedded)" } else { "" };
    // The port the system chose when asked for port 0.
    let bind = listener.local_addr().unwrap_or(bind);
    println!(
        "dataflow listening on http://{bind} kafka {}{kind}",
        kafka.bootstrap
    );
    let rules = ThrottleRules::from_settings(service.settings());
    let state = AppState::new(service.clone(), Jwt::new(&secret), rules);
    let result = serve(listener, state, shutdown_signal()).await;
    service.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dataflow: server error: {e}");
            ExitCode::from(1)
        }
    }
}
