//! `dataflow audit`: the audit trail straight from the database, newest first, as a table or
//! JSON Lines. Reading it is not itself audited.

use std::io::Write;
use std::process::ExitCode;

use crate::config::Settings;
use crate::domain::AuditRecord;
use crate::service::{AuditQuery, ServiceError};

/// Entries per database round trip.
const PAGE: i64 = 1000;

#[derive(Debug, Clone, Default)]
pub struct AuditArgs {
    pub since: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub json: bool,
    pub limit: Option<u64>,
}

pub fn run_audit(settings: Settings, args: AuditArgs) -> ExitCode {
    let _guard = super::init_logging(&settings.paths.log_dir, false);
    let since = match args
        .since
        .as_deref()
        .map(|s| crate::domain::parse_since(s, chrono::Utc::now()))
    {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(m)) => {
            eprintln!("dataflow: --since: {m}");
            return ExitCode::from(2);
        }
    };
    if let Some(Err(m)) = args
        .action
        .as_deref()
        .map(crate::domain::AuditAction::parse)
    {
        eprintln!("dataflow: --action: {m}");
        return ExitCode::from(2);
    }
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let store = match crate::service::open_store(&settings).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("dataflow: {e}");
                return ExitCode::from(1);
            }
        };
        let mut q = AuditQuery {
            since,
            actor: args.actor.clone(),
            action: args.action.clone(),
            before: None,
            limit: PAGE,
        };
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        if !args.json {
            let _ = writeln!(
                out,
                "{:<29} {:<16} {:<15} {:<24} {:<8} {:<5} {:<15} detail",
                "at", "actor", "action", "target", "outcome", "via", "address"
            );
        }
        let mut left = args.limit.unwrap_or(u64::MAX);
        let code = loop {
            q.limit = left.min(PAGE as u64) as i64;
            let page = match crate::service::audit_entries(&store, &q).await {
                Ok(p) => p,
                Err(e) => break report(&e),
            };
            for r in &page {
                let line = if args.json {
                    json_line(r)
                } else {
                    table_line(r, settings.timezone)
                };
                if writeln!(out, "{line}").is_err() {
                    return ExitCode::SUCCESS; // the reader went away (| head)
                }
            }
            left -= page.len() as u64;
            match page.last() {
                Some(last) if page.len() as i64 == q.limit && left > 0 => q.before = Some(last.id),
                _ => break ExitCode::SUCCESS,
            }
        };
        let _ = out.flush();
        store.close().await;
        code
    })
}

fn report(e: &ServiceError) -> ExitCode {
    eprintln!("dataflow: {e}");
    ExitCode::from(1)
}

fn json_line(r: &AuditRecord) -> String {
    serde_json::json!({
        "id": r.id,
        "at": r.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "actor": r.actor,
        "action": r.action,
        "target": r.target,
        "outcome": r.outcome,
        "via": r.via,
        "address": r.address,
        "user_agent": r.user_agent,
        "detail": r.detail,
    })
    .to_string()
}

fn table_line(r: &AuditRecord, tz: chrono_tz::Tz) -> String {
    let at = r.at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S%.3f %:z");
    format!(
        "{at:<29} {:<16} {:<15} {:<24} {:<8} {:<5} {:<15} {}",
        r.actor,
        r.action,
        r.target,
        r.outcome,
        r.via,
        r.address.as_deref().unwrap_or("-"),
        r.detail.as_deref().unwrap_or("")
    )
}
