//! The audit trail's use cases: who acts (a logged-in user, or the operator's OS account for
//! commands run on the machine), writing entries that have no transaction of their own,
//! reading them back, and retention.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Service, ServiceError};
use crate::domain::{AuditAction, AuditEntry, AuditRecord, Origin};
use crate::store::{AuditQuery, Store};

/// How often old audit entries and idle lock-out keys are cleared.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Whoever an audited action is done by, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub origin: Origin,
}

impl Actor {
    pub fn new(name: &str, origin: Origin) -> Actor {
        Actor {
            name: name.to_string(),
            origin,
        }
    }

    /// The operator running a command on this machine: their OS account, `os:NAME`.
    pub fn operator() -> Actor {
        Actor::new(&format!("os:{}", os_user()), Origin::cli())
    }

    /// This process acting on its own (start-up creating the API user).
    pub fn process() -> Actor {
        Actor::new(&format!("os:{}", os_user()), Origin::default())
    }

    pub fn entry(&self, action: AuditAction, target: impl Into<String>) -> AuditEntry {
        AuditEntry::new(&self.name, action, target, &self.origin)
    }

    /// Records a refused change (the change's own transaction records it only when it is
    /// made). Errors that say nothing about the request (database down) are not recorded.
    pub(super) async fn refused<T>(
        &self,
        store: &Store,
        entry: &AuditEntry,
        result: &Result<T, ServiceError>,
    ) {
        let why = match result {
            Ok(_) => return,
            Err(
                e @ (ServiceError::Invalid(_)
                | ServiceError::UnknownUser(_)
                | ServiceError::UserConflict(_)),
            ) => e.to_string(),
            Err(_) => return,
        };
        write(store, &entry.clone().outcome("refused").detail(why)).await;
    }
}

/// The OS account this process runs as: $USER, else $LOGNAME, else the numeric uid.
pub fn os_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(u) = std::env::var(var)
            && !u.is_empty()
        {
            return u.chars().filter(|c| !c.is_control()).take(64).collect();
        }
    }
    #[cfg(unix)]
    {
        // No name in the environment (a service unit, say): the uid, from /proc.
        if let Ok(status) = std::fs::read_to_string("/proc/self/status")
            && let Some(uid) = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next())
        {
            return format!("uid {uid}");
        }
    }
    "unknown".to_string()
}

/// Writes an entry that has no transaction of its own (logins, imports, exports, reroutes),
/// right after the action. A failure to write is logged, not raised: the action happened.
pub async fn write(store: &Store, entry: &AuditEntry) {
    if let Err(e) = store.audit(entry).await {
        tracing::error!(error = %e, action = entry.action.as_str(), actor = %entry.actor,
            target = %entry.target, "cannot write the audit entry");
    }
}

/// Audit entries, newest first.
pub async fn entries(store: &Store, q: &AuditQuery) -> Result<Vec<AuditRecord>, ServiceError> {
    if let Some(a) = &q.action {
        AuditAction::parse(a).map_err(|m| super::user_admin::invalid("action", m))?;
    }
    Ok(store.audit_entries(q).await?)
}

/// Deletes what retention no longer keeps: audit entries older than AUDIT_RETENTION_DAYS and
/// idle lock-out keys.
pub async fn prune(
    store: &Store,
    retention: Duration,
    now: DateTime<Utc>,
) -> Result<u64, ServiceError> {
    let before = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(365));
    let n = store.audit_prune(before).await?;
    store.throttle_prune(now.timestamp_millis()).await?;
    Ok(n)
}

impl Service {
    /// Writes an audit entry on its own (for the front ends' actions: exports, imports).
    pub async fn audit(&self, entry: &AuditEntry) {
        write(&self.inner.store, entry).await
    }

    pub async fn audit_entries(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, ServiceError> {
        entries(&self.inner.store, q).await
    }

    /// `audit_entries` for a logged-in user: admins only.
    pub async fn audit_entries_as(
        &self,
        who: &super::Principal,
        q: &AuditQuery,
    ) -> Result<Vec<AuditRecord>, ServiceError> {
        who.require(crate::domain::Role::Admin, "Reading the audit trail")?;
        entries(&self.inner.store, q).await
    }

    /// Prunes at start and every PRUNE_EVERY while the service runs; every minute, gives rows
    /// a dump restored meanwhile positions followers can reach (`settle_restored_positions`).
    pub(super) fn spawn_pruning(store: Store, retention: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PRUNE_EVERY);
            let mut positions = tokio::time::interval(Duration::from_secs(60));
            loop {
                tokio::select! {
                    _ = every.tick() => match prune(&store, retention, Utc::now()).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(entries = n, "audit entries past retention deleted"),
                        Err(e) => tracing::warn!(error = %e, "cannot prune the audit trail"),
                    },
                    _ = positions.tick() => {
                        if let Err(e) = store.settle_restored_positions().await {
                            tracing::warn!(error = %e, "cannot settle restored rows' positions");
                        }
                    }
                }
            }
        })
    }
}
