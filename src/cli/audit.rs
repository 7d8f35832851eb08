//! `dataflow audit`'s flags, turned into the composition root's own arguments.

use clap::Args;

#[derive(Debug, Args)]
pub struct AuditFlags {
    /// Only entries since: a duration ago (15m, 2h, 1d) or an RFC 3339 instant
    #[arg(long)]
    since: Option<String>,
    /// Only this actor (a user name, `anonymous`, or `os:NAME` for commands)
    #[arg(long)]
    actor: Option<String>,
    /// Only this action (login, login.failed, login.locked, user.add, product.update, ...)
    #[arg(long)]
    action: Option<String>,
    /// At most this many entries
    #[arg(long)]
    limit: Option<u64>,
    /// JSON Lines, one entry per line
    #[arg(long)]
    json: bool,
}

impl From<AuditFlags> for crate::app::AuditArgs {
    fn from(f: AuditFlags) -> Self {
        crate::app::AuditArgs {
            since: f.since,
            actor: f.actor,
            action: f.action,
            json: f.json,
            limit: f.limit,
        }
    }
}
