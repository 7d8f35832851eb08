//! Users and roles: who someone is once logged in (a `Principal`), whether a token is still
//! theirs, and the changes an admin makes. The store functions take a `Store` so the `user`
//! command works without starting a broker.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::{AuditAction, AuditEntry, FieldError, Role, ValidationErrors};
use crate::store::{Store, UserChange, UserRow};

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

    fn info(&self) -> UserInfo {
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
            map.retain(|_, s| {
                s.row
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
        if !created && !is_default && !verify_password(password, stored).await {
            tracing::info!(username = %name, "PASSWORD_API differs from the stored password, which is kept (change it with `dataflow user passwd`)");
        }
        is_default
    };
    Ok(ApiUser {
        created,
        default_password,
    })
}

pub(super) fn invalid(field: &'static str, message: String) -> ServiceError {
    ServiceError::Invalid(ValidationErrors(vec![FieldError { field, message }]))
}

fn check_name(name: &str) -> Result<(), ServiceError> {
    match crate::domain::username_problem(name) {
        Some(m) => Err(invalid(crate::domain::USERNAME, m)),
        None => Ok(()),
    }
}

async fn checked_hash(password: &str) -> Result<String, ServiceError> {
    if let Some(m) = crate::domain::password_problem(password) {
        return Err(invalid(crate::domain::PASSWORD, m));
    }
    hash_password(password.to_string()).await
}

fn outcome(name: &str, change: UserChange, what: &str) -> Result<(), ServiceError> {
    match change {
        UserChange::Done => Ok(()),
        UserChange::NoSuchUser => Err(ServiceError::UnknownUser(name.to_string())),
        UserChange::LastAdmin => Err(ServiceError::UserConflict(format!(
            "cannot {what} {name}: it is the last enabled admin"
        ))),
    }
}

pub async fn add_user(
    store: &Store,
    by: &Actor,
    name: &str,
    password: &str,
    role: Role,
) -> Result<UserInfo, ServiceError> {
    let audit = by
        .entry(AuditAction::UserAdd, name)
        .detail(format!("role {role}"));
    let result = add(store, name, password, role, &audit).await;
    by.refused(store, &audit, &result).await;
    result
}

async fn add(
    store: &Store,
    name: &str,
    password: &str,
    role: Role,
    audit: &AuditEntry,
) -> Result<UserInfo, ServiceError> {
    check_name(name)?;
    let hash = checked_hash(password).await?;
    if !store.create_user(name, &hash, role.as_str(), audit).await? {
        return Err(ServiceError::UserConflict(format!(
            "user {name} already exists"
        )));
    }
    tracing::info!(username = %name, %role, "user added");
    Ok(UserInfo {
        username: name.to_string(),
        role,
        disabled: false,
    })
}

pub async fn list_users(store: &Store) -> Result<Vec<UserInfo>, ServiceError> {
    Ok(store
        .list_users()
        .await?
        .iter()
        .map(UserRow::info)
        .collect())
}

pub async fn user_info(store: &Store, name: &str) -> Result<UserInfo, ServiceError> {
    check_name(name).map_err(|_| ServiceError::UnknownUser(name.to_string()))?;
    match store.user_state(name).await? {
        Some(r) => Ok(r.info()),
        None => Err(ServiceError::UnknownUser(name.to_string())),
    }
}

/// Replaces the password; every token of the user stops working.
pub async fn set_password(
    store: &Store,
    by: &Actor,
    name: &str,
    password: &str,
) -> Result<(), ServiceError> {
    let audit = by.entry(AuditAction::UserPassword, name);
    let result = async {
        check_name(name).map_err(|_| ServiceError::UnknownUser(name.to_string()))?;
        let hash = checked_hash(password).await?;
        if !store.set_user_hash(name, &hash, &audit).await? {
            return Err(ServiceError::UnknownUser(name.to_string()));
        }
        tracing::info!(username = %name, "password changed; older tokens revoked");
        Ok(())
    }
    .await;
    by.refused(store, &audit, &result).await;
    result
}

pub async fn set_role(
    store: &Store,
    by: &Actor,
    name: &str,
    role: Role,
) -> Result<(), ServiceError> {
    let audit = by
        .entry(AuditAction::UserRole, name)
        .detail(format!("role {role}"));
    let result = async {
        check_name(name).map_err(|_| ServiceError::UnknownUser(name.to_string()))?;
        outcome(
            name,
            store.set_user_role(name, role.as_str(), &audit).await?,
            "demote",
        )?;
        tracing::info!(username = %name, %role, "role changed");
        Ok(())
    }
    .await;
    by.refused(store, &audit, &result).await;
    result
}

/// Applies each part of `change` that is set (role, flag, password) and answers the user
/// as it is then. Other processes see it within USER_CACHE.
pub async fn update_user(
    store: &Store,
    by: &Actor,
    name: &str,
    change: UserUpdate,
) -> Result<UserInfo, ServiceError> {
    // Rules before any write, and the password written last: a refused role or flag change
    // (the last admin) leaves the password as it was.
    if let Some(m) = change
        .password
        .as_deref()
        .and_then(crate::domain::password_problem)
    {
        return Err(invalid(crate::domain::PASSWORD, m));
    }
    user_info(store, name).await?;
    if let Some(role) = change.role {
        set_role(store, by, name, role).await?;
    }
    if let Some(disabled) = change.disabled {
        set_disabled(store, by, name, disabled).await?;
    }
    if let Some(password) = &change.password {
        set_password(store, by, name, password).await?;
    }
    user_info(store, name).await
}

/// Disables (revoking every token) or enables a user.
pub async fn set_disabled(
    store: &Store,
    by: &Actor,
    name: &str,
    disabled: bool,
) -> Result<(), ServiceError> {
    let action = if disabled {
        AuditAction::UserDisable
    } else {
        AuditAction::UserEnable
    };
    let audit = by.entry(action, name);
    let result = async {
        check_name(name).map_err(|_| ServiceError::UnknownUser(name.to_string()))?;
        outcome(
            name,
            store.set_user_disabled(name, disabled, &audit).await?,
            "disable",
        )?;
        tracing::info!(username = %name, disabled, "user {}", if disabled { "disabled" } else { "enabled" });
        Ok(())
    }
    .await;
    by.refused(store, &audit, &result).await;
    result
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
        let result = update_user(&self.inner.store, by, name, change).await;
        self.inner.users.forget(name);
        result
    }
}
