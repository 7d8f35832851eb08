//! Users and roles: who someone is once logged in (a `Principal`), whether a token is still
//! theirs, and the API user created at start-up. Changes an admin makes: `user_admin.rs`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::{AuditAction, Role};
use crate::store::{Store, UserRow};

use super::audit::Actor;
use super::auth::{hash_password, verify_password};
use super::{Service, ServiceError};

/// How long a user's role, flag and token generation are trusted without asking the
/// database: a change made on another replica takes effect within this.
pub const USER_CACHE: Duration = Duration::from_secs(1);

/// Someone logged in: the name written as created_by/updated_by, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub username: String,
    pub role: Role,
    /// The user's token generation when they logged in; a higher one revokes this login.
    pub generation: i64,
}

impl Principal {
    /// Ok when the role allows `needed`; else the refusal naming both roles.
    pub fn require(&self, needed: Role, what: &str) -> Result<(), ServiceError> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(self.role.refusal(needed, what)))
        }
    }
}

/// What an admin changes about a user; each part is optional.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub password: Option<String>,
    pub role: Option<crate::domain::Role>,
    pub disabled: Option<bool>,
}

/// A user as listed (never the hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub username: String,
    pub role: Role,
    pub disabled: bool,
}

impl UserRow {
    fn role(&self) -> Role {
        // The column's CHECK allows only the three names; anything else is the least.
        Role::parse(&self.role).unwrap_or(Role::Viewer)
    }

    pub(super) fn info(&self) -> UserInfo {
        UserInfo {
            username: self.username.clone(),
            role: self.role(),
            disabled: self.disabled,
        }
    }
}

/// Users' rows as last read, per name, for `USER_CACHE`. A read that started before a change
/// made here (its epoch is older) never lands, and a cached generation never goes back: a
/// revoked token stays refused, a newer one is never refused for an older cache.
#[derive(Default)]
pub(super) struct UserCache(Mutex<HashMap<String, Slot>>);

#[derive(Default)]
pub(super) struct Slot {
    row: Option<(Instant, Option<UserRow>)>,
    epoch: u64,
}

impl UserCache {
    fn get(&self, name: &str) -> Option<Option<UserRow>> {
        let map = self.0.lock().ok()?;
        let (at, row) = map.get(name)?.row.as_ref()?;
        (at.elapsed() < USER_CACHE).then(|| row.clone())
    }

    /// Taken before reading the database; `put` with it.
    pub(super) fn epoch(&self, name: &str) -> u64 {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(name).map(|s| s.epoch))
            .unwrap_or(0)
    }

    pub(super) fn put(&self, name: &str, row: Option<UserRow>, epoch: u64) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() > 10_000 {
            // A user changed here keeps its slot: its epoch must never fall back to 0, or a
            // read begun before the change could land after it.
            map.retain(|_, s| {
                s.epoch > 0
                    || s.row
                        .as_ref()
                        .is_some_and(|(at, _)| at.elapsed() < USER_CACHE)
            });
        }
        let slot = map.entry(name.to_string()).or_default();
        if slot.epoch != epoch {
            return; // a change here overtook this read
        }
        let cached_gen = slot
            .row
            .as_ref()
            .and_then(|(_, r)| r.as_ref())
            .map(|r| r.token_generation);
        let new_gen = row.as_ref().map(|r| r.token_generation);
        if let (Some(old), Some(new)) = (cached_gen, new_gen)
            && new < old
        {
            return; // an older read than the one cached
        }
        slot.row = Some((Instant::now(), row));
    }

    /// After a change made here: drops the cached row and turns away reads begun before it.
    pub(super) fn forget(&self, name: &str) {
        if let Ok(mut map) = self.0.lock() {
            let slot = map.entry(name.to_string()).or_default();
            slot.epoch += 1;
            slot.row = None;
        }
    }
}

/// The principal a login made, checked against the user as the database has it now:
/// disabled, a newer token generation or a removed user all revoke it. A token newer than
/// the cached row means the cache is behind: the database is asked.
pub(super) async fn current(
    store: &Store,
    cache: &UserCache,
    username: &str,
    generation: i64,
) -> Result<Principal, ServiceError> {
    let cached = cache.get(username).filter(|row| {
        row.as_ref()
            .is_none_or(|r| r.token_generation >= generation)
    });
    let row = match cached {
        Some(row) => row,
        None => {
            let epoch = cache.epoch(username);
            let row = store.user_state(username).await?;
            cache.put(username, row.clone(), epoch);
            row
        }
    };
    match row {
        Some(r) if !r.disabled && r.token_generation == generation => Ok(Principal {
            username: r.username.clone(),
            role: r.role(),
            generation,
        }),
        Some(r) if r.disabled => Err(ServiceError::Revoked(format!(
            "user {} is disabled",
            r.username
        ))),
        Some(_) => Err(ServiceError::Revoked(
            "this login was revoked (password changed or user disabled); log in again".into(),
        )),
        None => Err(ServiceError::Revoked(format!("no user {username}"))),
    }
}

/// The principal of a user who just proved their password.
pub(super) fn principal_of(row: &UserRow) -> Result<Principal, ServiceError> {
    if row.disabled {
        return Err(ServiceError::Forbidden(format!(
            "user {} is disabled; ask an admin",
            row.username
        )));
    }
    Ok(Principal {
        username: row.username.clone(),
        role: row.role(),
        generation: row.token_generation,
    })
}

/// What start-up found of the API user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiUser {
    /// It was missing and PASSWORD_API created it.
    pub created: bool,
    /// Its stored password is the public default `vert`.
    pub default_password: bool,
    /// In production only (checked there, an argon2 check each): its stored password is one
    /// printed in dataflow's own files (the compose file's former placeholder, say).
    pub published_password: bool,
}

/// Creates USERNAME_API as an admin with PASSWORD_API when it is missing, and never touches
/// an existing one: its password is changed only when asked (`user passwd`, PATCH), so a
/// process started with other settings cannot weaken it or revoke its tokens.
pub async fn seed_api_user(
    store: &Store,
    settings: &super::Settings,
) -> Result<ApiUser, ServiceError> {
    let name = &settings.username_api;
    let password = settings.password_api.expose().to_string();
    let (created, stored) = match store.user_hash(name).await? {
        None => {
            let hash = hash_password(password.clone()).await?;
            let audit = Actor::process()
                .entry(AuditAction::UserAdd, name)
                .detail("role admin, from PASSWORD_API at start-up");
            let created = store
                .create_user(name, &hash, Role::Admin.as_str(), &audit)
                .await?;
            if created {
                tracing::info!(username = %name, "created the API user");
            }
            (created, hash)
        }
        Some(stored) => (false, stored),
    };
    let default_password = if password == crate::config::DEFAULT_PASSWORD {
        created || verify_password(password.clone(), stored.clone()).await
    } else {
        let is_default =
            verify_password(crate::config::DEFAULT_PASSWORD.into(), stored.clone()).await;
        if !created && !is_default && !verify_password(password, stored.clone()).await {
            tracing::warn!(username = %name, "PASSWORD_API differs from the stored password, which is kept (change it with `dataflow user passwd`)");
        }
        is_default
    };
    let mut published_password = false;
    if settings.environ == crate::config::Environ::Prd {
        for secret in crate::config::PUBLISHED_SECRETS {
            if verify_password(secret.to_string(), stored.clone()).await {
                published_password = true;
                break;
            }
        }
    }
    Ok(ApiUser {
        created,
        default_password,
        published_password,
    })
}

impl Service {
    /// Runs an admin's change to a user; this process sees it at once, others within
    /// USER_CACHE.
    pub async fn change_user(
        &self,
        by: &Actor,
        name: &str,
        change: UserUpdate,
    ) -> Result<UserInfo, ServiceError> {
        let result = super::user_admin::update_user(&self.inner.store, by, name, change).await;
        self.inner.users.forget(name);
        result
    }
}
