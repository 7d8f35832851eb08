//! `GET /api/vert/audit`: the audit trail for admins, newest first, paged by key.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::Admin;
use super::envelope::{ApiError, Envelope, FieldProblem, ok};
use crate::domain::AuditRecord;
use crate::service::AuditQuery;

/// Entries per page at most, and by default.
const MAX_LIMIT: i64 = 1000;
const DEFAULT_LIMIT: i64 = 100;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryOut {
    pub id: i64,
    /// RFC 3339, UTC.
    #[schema(example = "2026-12-06T05:10:00.123Z")]
    pub at: String,
    /// The user, `anonymous` for a failed login, or `os:NAME` for a command run on the machine.
    #[schema(example = "maria")]
    pub actor: String,
    #[schema(example = "product.update")]
    pub action: String,
    #[schema(example = "product 12 v3")]
    pub target: String,
    /// ok, refused or failed.
    #[schema(example = "ok")]
    pub outcome: String,
    /// http, tui, cli or service.
    #[schema(example = "http")]
    pub via: String,
    #[schema(example = "203.0.113.7")]
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryOut>,
    /// Pass as `before` for the next (older) page; null when this page is the last.
    pub next_before: Option<i64>,
}

impl From<AuditRecord> for AuditEntryOut {
    fn from(r: AuditRecord) -> Self {
        AuditEntryOut {
            id: r.id,
            at: r.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            actor: r.actor,
            action: r.action,
            target: r.target,
            outcome: r.outcome,
            via: r.via,
            address: r.address,
            user_agent: r.user_agent,
            detail: r.detail,
        }
    }
}

fn problem(field: &str, message: String) -> ApiError {
    ApiError::invalid(vec![FieldProblem {
        field: field.into(),
        message,
    }])
}

/// The query's filters, each checked with its rule.
fn query_of(params: &HashMap<String, String>) -> Result<AuditQuery, ApiError> {
    let number = |k: &str, min: i64, max: i64| -> Result<Option<i64>, ApiError> {
        match params.get(k) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(problem(
                    k,
                    format!("must be a whole number from {min} to {max}"),
                )),
            },
        }
    };
    let since = match params.get("since") {
        None => None,
        Some(s) => Some(
            crate::domain::parse_since(s, chrono::Utc::now()).map_err(|m| problem("since", m))?,
        ),
    };
    if let Some(a) = params.get("action") {
        crate::domain::AuditAction::parse(a).map_err(|m| problem("action", m))?;
    }
    // No actor has a control character in its name (and PostgreSQL refuses a NUL in text).
    if let Some(a) = params.get("actor")
        && (a.chars().any(char::is_control) || a.len() > 300)
    {
        return Err(problem(
            "actor",
            "must be a name without control characters, at most 300 bytes".to_string(),
        ));
    }
    Ok(AuditQuery {
        since,
        actor: params.get("actor").cloned(),
        action: params.get("action").cloned(),
        before: number("before", 1, i64::MAX)?,
        limit: number("limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT),
    })
}

#[utoipa::path(get, path = "/api/vert/audit", security(("bearer" = [])),
    params(
        ("since" = Option<String>, Query, description = "Only entries at or after: a duration ago (15m, 2h, 1d) or an RFC 3339 instant"),
        ("actor" = Option<String>, Query, description = "Only this actor (a user name, `anonymous`, or `os:NAME`)"),
        ("action" = Option<String>, Query, description = "Only this action: login, login.failed, login.locked, user.add, user.role, user.disable, user.enable, user.password, user.unlock, product.update, product.delete, import, export, outbox.reroute"),
        ("before" = Option<i64>, Query, minimum = 1, description = "Only entries older than this id: the previous page's `next_before`"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Entries per page (100 by default)"),
    ),
    responses(
        (status = 200, body = Envelope<AuditPage>, description = "Entries, newest first"),
        (status = 401, body = Envelope<String>, description = "Missing, invalid, expired or revoked token"),
        (status = 403, body = Envelope<String>, description = "Needs the admin role"),
        (status = 422, body = Envelope<Vec<FieldProblem>>, description = "A filter breaks its rule (the entry names it)"),
        (status = 503, body = Envelope<String>, description = "Database unavailable"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let q = query_of(&params)?;
    let records = state.service.audit_entries(&q).await?;
    let next_before = (records.len() as i64 == q.limit)
        .then(|| records.last().map(|r| r.id))
        .flatten();
    let page = AuditPage {
        entries: records.into_iter().map(AuditEntryOut::from).collect(),
        next_before,
    };
    Ok(ok("Audit trail", Some(page)))
}
