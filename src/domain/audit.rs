//! The audit trail's record: who did what to which target, with what outcome, and from where.
//! Built by the service, written by the store; never holds a password, token or secret.

use chrono::{DateTime, Utc};

/// Characters of a user agent kept (clients send kilobytes at times).
const USER_AGENT_CHARS: usize = 200;

/// Which front end an action came through, and for HTTP the caller's address and user agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// `http`, `tui`, `cli`, or `service` for callers of the library itself.
    pub via: &'static str,
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

impl Origin {
    pub fn http(address: std::net::IpAddr, user_agent: Option<&str>) -> Origin {
        Origin {
            via: "http",
            address: Some(address.to_string()),
            user_agent: user_agent.map(printable),
        }
    }

    pub fn tui() -> Origin {
        Origin {
            via: "tui",
            ..Origin::default()
        }
    }

    pub fn cli() -> Origin {
        Origin {
            via: "cli",
            ..Origin::default()
        }
    }

    /// The front end's name; `service` when a caller named none.
    pub fn via(&self) -> &'static str {
        if self.via.is_empty() {
            "service"
        } else {
            self.via
        }
    }
}

/// Printable characters only, bounded: what a client sends is not trusted to be either.
fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(USER_AGENT_CHARS)
        .collect()
}

/// What is audited. The names are what `--action` and `?action=` filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    Login,
    LoginFailed,
    LoginLocked,
    UserAdd,
    UserRole,
    UserDisable,
    UserEnable,
    UserPassword,
    UserUnlock,
    ProductUpdate,
    ProductDelete,
    Import,
    Export,
    OutboxReroute,
    OutboxRetire,
    OutboxReplay,
}

impl AuditAction {
    pub const ALL: [AuditAction; 16] = [
        AuditAction::Login,
        AuditAction::LoginFailed,
        AuditAction::LoginLocked,
        AuditAction::UserAdd,
        AuditAction::UserRole,
        AuditAction::UserDisable,
        AuditAction::UserEnable,
        AuditAction::UserPassword,
        AuditAction::UserUnlock,
        AuditAction::ProductUpdate,
        AuditAction::ProductDelete,
        AuditAction::Import,
        AuditAction::Export,
        AuditAction::OutboxReroute,
        AuditAction::OutboxRetire,
        AuditAction::OutboxReplay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login.failed",
            AuditAction::LoginLocked => "login.locked",
            AuditAction::UserAdd => "user.add",
            AuditAction::UserRole => "user.role",
            AuditAction::UserDisable => "user.disable",
            AuditAction::UserEnable => "user.enable",
            AuditAction::UserPassword => "user.password",
            AuditAction::UserUnlock => "user.unlock",
            AuditAction::ProductUpdate => "product.update",
            AuditAction::ProductDelete => "product.delete",
            AuditAction::Import => "import",
            AuditAction::Export => "export",
            AuditAction::OutboxReroute => "outbox.reroute",
            AuditAction::OutboxRetire => "outbox.retire",
            AuditAction::OutboxReplay => "outbox.replay",
        }
    }

    /// The action of a name, or a message listing the names.
    pub fn parse(s: &str) -> Result<AuditAction, String> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
                format!("'{s}' is not one of {}", names.join(", "))
            })
    }
}

/// One entry to write. `target` names what was acted on (a product `#12 v3`, a user, a
/// file); `detail` adds counts or the reason of a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor: String,
    pub action: AuditAction,
    pub target: String,
    /// `ok`, `refused` or `failed`.
    pub outcome: &'static str,
    pub origin: Origin,
    pub detail: Option<String>,
}

impl AuditEntry {
    pub fn new(
        actor: &str,
        action: AuditAction,
        target: impl Into<String>,
        origin: &Origin,
    ) -> Self {
        AuditEntry {
            actor: actor.to_string(),
            action,
            target: target.into(),
            outcome: "ok",
            origin: origin.clone(),
            detail: None,
        }
    }

    pub fn outcome(mut self, outcome: &'static str) -> Self {
        self.outcome = outcome;
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// An entry as read back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub via: String,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_user_agents_are_bounded() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Ok(a));
        }
        assert!(
            AuditAction::parse("nope")
                .unwrap_err()
                .contains("login.failed")
        );
        let o = Origin::http(
            [10, 0, 0, 1].into(),
            Some(&format!("a\u{7}b{}", "x".repeat(500))),
        );
        let ua = o.user_agent.unwrap();
        assert!(ua.starts_with("abx") && ua.chars().count() == USER_AGENT_CHARS);
        assert_eq!(Origin::default().via(), "service");
    }
}
