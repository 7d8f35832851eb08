//! Users and roles: who someone is once logged in (a `Principal`), whether a token is still
//! theirs, and the changes an admin makes. The store functions take a `Store` so the `user`
//! command works without starting a broker.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::{FieldError, Role, ValidationErrors};
use crate::store::{Store, UserChange, UserRow};

use super::auth::{self, hash_password, verify_password};
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

/// Users' rows as last read, per name, for `USER_CACHE`.
#[derive(Default)]
pub(super) struct UserCache(Mutex<HashMap<String, (Instant, Option<UserRow>)>>);

impl UserCache {
    fn get(&self, name: &str) -> Option<Option<UserRow>> {
        let map = self.0.lock().ok()?;
        let (at, row) = map.get(name)?;
        (at.elapsed() < USER_CACHE).then(|| row.clone())
    }

    fn put(&self, name: &str, row: Option<UserRow>) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() > 10_000 {
                map.retain(|_, (at, _)| at.elapsed() < USER_CACHE);
            }
            map.insert(name.to_string(), (Instant::now(), row));
        }
    }

    pub(super) fn forget(&self, name: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(name);
        }
    }
}

/// The principal a login made, checked against the user as the database has it now:
/// disabled, a newer token generation or a removed user all revoke it.
pub(super) async fn current(
    store: &Store,
    cache: &UserCache,
    username: &str,
    generation: i64,
) -> Result<Principal, ServiceError> {
    let row = match cache.get(username) {
        Some(row) => row,
        None => {
            let row = store.user_state(username).await?;
            cache.put(username, row.clone());
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

/// Creates USERNAME_API as an admin when missing. PASSWORD_API is the source of truth for
/// its password: a changed one replaces the stored hash (and revokes older tokens).
pub async fn seed_api_user(store: &Store, settings: &super::Settings) -> Result<(), ServiceError> {
    let name = &settings.username_api;
    let password = settings.password_api.expose().to_string();
    match store.user_hash(name).await? {
        None => {
            let hash = hash_password(password).await?;
            if store.create_user(name, &hash, Role::Admin.as_str()).await? {
                tracing::info!(username = %name, "created the API user");
            }
        }
        Some(stored) => {
            if !verify_password(password.clone(), stored).await {
                let hash = hash_password(password).await?;
                store.set_user_hash(name, &hash).await?;
                tracing::info!(username = %name, "PASSWORD_API changed: password replaced");
            }
        }
    }
    Ok(())
}

fn invalid(field: &'static str, message: String) -> ServiceError {
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
    name: &str,
    password: &str,
    role: Role,
) -> Result<UserInfo, ServiceError> {
    check_name(name)?;
    let hash = checked_hash(password).await?;
    if !store.create_user(name, &hash, role.as_str()).await? {
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
pub async fn set_password(store: &Store, name: &str, password: &str) -> Result<(), ServiceError> {
    check_name(name).map_err(|_| ServiceError::UnknownUser(name.to_string()))?;
    let hash = checked_hash(password).await?;
    if !store.set_user_hash(name, &hash).await? {
        return Err(ServiceError::UnknownUser(name.to_string()));
    }
    tracing::info!(username = %name, "password changed; older tokens revoked");
    Ok(())
}

pub async fn set_role(store: &Store, name: &str, role: Role) -> Result<(), ServiceError> {
    check_name(name).map_err(|_| ServiceError::UnknownUser(name.to_string()))?;
    outcome(
        name,
        store.set_user_role(name, role.as_str()).await?,
        "demote",
    )?;
    tracing::info!(username = %name, %role, "role changed");
    Ok(())
}

/// Applies each part of `change` that is set (role, flag, password) and answers the user
/// as it is then. Other processes see it within USER_CACHE.
pub async fn update_user(
    store: &Store,
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
        set_role(store, name, role).await?;
    }
    if let Some(disabled) = change.disabled {
        set_disabled(store, name, disabled).await?;
    }
    if let Some(password) = &change.password {
        set_password(store, name, password).await?;
    }
    user_info(store, name).await
}

/// Disables (revoking every token) or enables a user.
pub async fn set_disabled(store: &Store, name: &str, disabled: bool) -> Result<(), ServiceError> {
    check_name(name).map_err(|_| ServiceError::UnknownUser(name.to_string()))?;
    outcome(
        name,
        store.set_user_disabled(name, disabled).await?,
        "disable",
    )?;
    tracing::info!(username = %name, disabled, "user {}", if disabled { "disabled" } else { "enabled" });
    Ok(())
}

impl Service {
    /// True when the user exists, is enabled and the password matches.
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
        // A name no user can have never reaches the database (NUL would be an error there);
        // it costs the same verification as any unknown user.
        let stored = match crate::domain::username_problem(username) {
            None => self.inner.store.user_login(username).await?,
            Some(_) => None,
        };
        let (hash, row) = match stored {
            Some((hash, row)) => (hash, Some(row)),
            None => (self.inner.dummy_hash.clone(), None),
        };
        let ok = auth::verify_holding(password.to_string(), hash, slot).await;
        match row {
            Some(row) if ok => {
                // What the login just read is the freshest view of this user here.
                self.inner.users.put(username, Some(row.clone()));
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

    /// Runs an admin's change to a user; this process sees it at once, others within
    /// USER_CACHE. The API user's password is PASSWORD_API's and is not changed here.
    pub async fn change_user(
        &self,
        name: &str,
        change: UserUpdate,
    ) -> Result<UserInfo, ServiceError> {
        if change.password.is_some() && name == self.inner.settings.username_api {
            return Err(ServiceError::UserConflict(format!(
                "the password of {name} is PASSWORD_API's: change that setting and restart"
            )));
        }
        let result = update_user(&self.inner.store, name, change).await;
        self.inner.users.forget(name);
        result
    }
}
