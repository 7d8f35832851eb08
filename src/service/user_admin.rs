//! What an admin does to users (add, role, disable, password), each with its audit entry in
//! the change's own transaction, and each refusal recorded too. Take a `Store` so the `user`
//! command works without starting a broker.

use super::ServiceError;
use super::audit::Actor;
use super::auth::hash_password;
use super::users::{UserInfo, UserUpdate};
use crate::domain::{AuditAction, AuditEntry, FieldError, Role, ValidationErrors};
use crate::store::{Store, UserChange, UserRow};

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
