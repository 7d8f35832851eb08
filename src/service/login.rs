//! Logging in: the lock-out (counted in the database, so it holds for the whole service, not
//! per replica), the password check, and the audit entries of both.

use std::time::Duration;

use super::audit::{Actor, write};
use super::users::{Principal, current, principal_of};
use super::{Service, ServiceError, auth};
use crate::domain::{AuditAction, AuditEntry, Origin};
use crate::store::{Store, ThrottleLimit};

/// Characters of a username that make its lock-out key.
const KEY_CHARS: usize = 64;

/// The lock-out: this many failures for one username, or one client address, lock it for
/// `first_lock`, doubling with each lock-out up to `max_lock`.
#[derive(Debug, Clone, Copy)]
pub struct LoginRules {
    pub per_user: u32,
    pub per_address: u32,
    pub first_lock: Duration,
    pub max_lock: Duration,
}

impl Default for LoginRules {
    fn default() -> Self {
        LoginRules {
            per_user: 5,
            per_address: 20,
            first_lock: Duration::from_secs(60),
            max_lock: Duration::from_secs(15 * 60),
        }
    }
}

impl LoginRules {
    /// The rules with the configured first lock (LOGIN_LOCK_SECONDS).
    pub fn from_settings(settings: &crate::config::Settings) -> LoginRules {
        let d = LoginRules::default();
        LoginRules {
            first_lock: settings.login_lock,
            max_lock: d.max_lock.max(settings.login_lock),
            ..d
        }
    }

    fn limit(&self, failures: u32) -> ThrottleLimit {
        ThrottleLimit {
            failures: i64::from(failures),
            first_lock_ms: self.first_lock.as_millis() as i64,
            max_lock_ms: self.max_lock.as_millis() as i64,
        }
    }
}

/// The lock-out key of a username (bounded) and of a client address.
pub fn user_key(username: &str) -> String {
    let name: String = username.chars().take(KEY_CHARS).collect();
    format!("user:{name}")
}

fn address_key(origin: &Origin) -> Option<String> {
    origin.address.as_ref().map(|a| format!("addr:{a}"))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Seconds until a lock ends (at least one: a key full of checks in flight frees within one).
fn wait_secs(until_ms: i64) -> u64 {
    let left = until_ms - now_ms();
    (left.max(0) as u64).div_ceil(1000).max(1)
}

/// Lifts a lock-out (and forgets its failures): of a user, or of a client address. True
/// when there was one. Audited.
pub async fn unlock(store: &Store, by: &Actor, key: &UnlockKey) -> Result<bool, ServiceError> {
    let (key, target) = match key {
        UnlockKey::User(name) => (user_key(name), name.clone()),
        UnlockKey::Address(ip) => (format!("addr:{ip}"), format!("address {ip}")),
    };
    let held = store.throttle_clear(&key).await?;
    let entry = by.entry(AuditAction::UserUnlock, target);
    let entry = if held {
        entry
    } else {
        entry.detail("no lock-out was held")
    };
    write(store, &entry).await;
    Ok(held)
}

/// What `unlock` lifts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnlockKey {
    User(String),
    Address(std::net::IpAddr),
}

impl Service {
    /// Checks a login under the lock-out rules and records it in the audit trail. Ok(None):
    /// wrong password; Err(Locked): too many failures (nothing checked); Err(Forbidden): the
    /// right password of a disabled user. Runs to its end even if the caller goes away, so
    /// a failure slot is never left taken.
    pub async fn log_in(
        &self,
        username: &str,
        password: &str,
        origin: &Origin,
        rules: &LoginRules,
    ) -> Result<Option<Principal>, ServiceError> {
        let (svc, username, password) = (self.clone(), username.to_string(), password.to_string());
        let (origin, rules) = (origin.clone(), *rules);
        tokio::spawn(async move {
            svc.checked_login(&username, &password, &origin, &rules)
                .await
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("login check ended: {e}")))?
    }

    async fn checked_login(
        &self,
        username: &str,
        password: &str,
        origin: &Origin,
        rules: &LoginRules,
    ) -> Result<Option<Principal>, ServiceError> {
        let store = &self.inner.store;
        let user_key = user_key(username);
        let user_limit = rules.limit(rules.per_user);
        let addr_limit = rules.limit(rules.per_address);
        // A trusted proxy's own address is everyone behind it: never locked as one client.
        let proxy = origin
            .address
            .as_deref()
            .and_then(|a| a.parse::<std::net::IpAddr>().ok())
            .is_some_and(|ip| self.inner.settings.trusted_proxies.contains(&ip));
        let addr_key = address_key(origin).filter(|_| !proxy);
        let address = addr_key.as_deref().map(|k| (k, &addr_limit));
        // The slots are taken while the user's row is read (one round trip saved), and
        // always before the password is checked.
        let reserved = std::sync::atomic::AtomicBool::new(false);
        let gate = async {
            let taken = store
                .throttle_reserve((&user_key, &user_limit), address, now_ms())
                .await?;
            if !(taken.user && taken.address) {
                // One key refused: the other's slot goes back unchecked.
                if taken.user {
                    let _ = store.throttle_release(&user_key).await;
                }
                if let (true, Some(k)) = (taken.address, &addr_key) {
                    let _ = store.throttle_release(k).await;
                }
                return Err(ServiceError::Locked(wait_secs(taken.wait_until)));
            }
            reserved.store(true, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        };
        let checked = self.authenticate_after(username, password, gate).await;
        if !reserved.load(std::sync::atomic::Ordering::Relaxed) {
            return checked; // nothing taken: refused, busy, or the database did not answer
        }
        // The right password (of an enabled user, or of a disabled one, refused): the user's
        // count starts afresh and both slots go back, with the audit entry, in one statement.
        // The answer does not wait for it (a round trip): it runs in the background, and
        // shutdown waits for it.
        let right_password = |done: AuditEntry| {
            let (store, user_key, addr_key) = (store.clone(), user_key.clone(), addr_key.clone());
            self.inner.background.spawn(async move {
                let user = (user_key.as_str(), &user_limit);
                if let Err(e) = store.throttle_succeed(user, addr_key.as_deref(), &done).await {
                    tracing::error!(error = %e, actor = %done.actor, "cannot record the login (lock-out count and audit entry)");
                }
            });
        };
        let login = AuditEntry::new(username, AuditAction::Login, username, origin);
        match checked {
            Ok(Some(who)) => {
                right_password(login);
                Ok(Some(who))
            }
            Ok(None) => {
                // A name no user has may be a password typed in the wrong field: not kept.
                let known = crate::domain::username_problem(username).is_none()
                    && matches!(store.user_state(username).await, Ok(Some(_)));
                let target = if known { username } else { "(unknown user)" };
                let entry = |action| AuditEntry::new("anonymous", action, target, origin);
                // The failures are counted first: the audit writes must not widen the time
                // a slot stays in flight.
                let mut keys = vec![(user_key.clone(), user_limit)];
                keys.extend(addr_key.clone().map(|k| (k, addr_limit)));
                let mut locks = Vec::new();
                for (key, limit) in keys {
                    if let Ok(Some(until)) = store.throttle_fail(&key, &limit, now_ms()).await {
                        let what = if key == user_key {
                            format!("user:{target}")
                        } else {
                            key
                        };
                        locks.push(format!("{what} locked for {} s", wait_secs(until)));
                    }
                }
                write(store, &entry(AuditAction::LoginFailed)).await;
                for lock in locks {
                    write(store, &entry(AuditAction::LoginLocked).detail(lock)).await;
                }
                Ok(None)
            }
            Err(e @ ServiceError::Forbidden(_)) => {
                right_password(login.outcome("refused").detail("the user is disabled"));
                Err(e)
            }
            // Not checked (busy, database down): the slots are given back, not counted.
            Err(e) => {
                for key in std::iter::once(&user_key).chain(addr_key.as_ref()) {
                    let _ = store.throttle_release(key).await;
                }
                Err(e)
            }
        }
    }

    /// True when the user exists, is enabled and the password matches (no lock-out, no
    /// audit: for tests and tools that hold the database already).
    pub async fn login(&self, username: &str, password: &str) -> Result<bool, ServiceError> {
        match self.authenticate(username, password).await {
            Ok(p) => Ok(p.is_some()),
            Err(ServiceError::Forbidden(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The principal when the user exists and the password matches (Forbidden when that
    /// user is disabled). Unknown users cost one argon2 verification too, so timing tells
    /// nothing about which usernames exist.
    /// At most VERIFY_SLOTS verifications run at once (each takes ~19 MiB and a core for
    /// ~25 ms); past that the caller hears Busy at once instead of queueing.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Principal>, ServiceError> {
        self.authenticate_after(username, password, std::future::ready(Ok(())))
            .await
    }

    /// `authenticate`, checking the password only once `gate` (run while the user's row is
    /// read) has said yes.
    async fn authenticate_after(
        &self,
        username: &str,
        password: &str,
        gate: impl std::future::Future<Output = Result<(), ServiceError>>,
    ) -> Result<Option<Principal>, ServiceError> {
        let slot = self
            .inner
            .verify_slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| {
                ServiceError::Busy(
                    "too many logins are being checked; try again in a second".into(),
                )
            })?;
        let epoch = self.inner.users.epoch(username);
        // A name no user can have never reaches the database (NUL would be an error there);
        // it costs the same verification as any unknown user.
        let read = async {
            match crate::domain::username_problem(username) {
                None => self.inner.store.user_login(username).await,
                Some(_) => Ok(None),
            }
        };
        let (allowed, stored) = tokio::join!(gate, read);
        allowed?;
        let (hash, row) = match stored? {
            Some((hash, row)) => (hash, Some(row)),
            None => (self.inner.dummy_hash.clone(), None),
        };
        let ok = auth::verify_holding(password.to_string(), hash, slot).await;
        match row {
            Some(row) if ok => {
                // What the login just read is the freshest view of this user here, unless a
                // change here overtook it.
                self.inner.users.put(username, Some(row.clone()), epoch);
                principal_of(&row).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The principal a token names, if that login still holds (checked against the
    /// database at most once per USER_CACHE per user).
    pub async fn principal(
        &self,
        username: &str,
        generation: i64,
    ) -> Result<Principal, ServiceError> {
        current(&self.inner.store, &self.inner.users, username, generation).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_and_waits_are_whole_seconds() {
        assert_eq!(
            user_key(&"x".repeat(10_000)).len(),
            "user:".len() + KEY_CHARS
        );
        assert_eq!(wait_secs(0), 1);
        let w = wait_secs(now_ms() + 59_500);
        assert!((59..=60).contains(&w), "{w}");
    }
}
