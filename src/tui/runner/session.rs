//! The session's checks: is the login still good, and how a refused change reads.

use crate::service::{Principal, Service, ServiceError};
use crate::tui::app::Action;
use crate::tui::form::ChangeError;

/// Whether the logged-in user's login still holds and their role is the same: a password
/// change or a disable (here or on another process) ends the session, a role change applies.
/// A database that does not answer ends nothing.
pub(super) async fn check_session(
    svc: &Service,
    session: &std::sync::Mutex<Option<Principal>>,
) -> Option<Action> {
    let who = session.lock().ok().and_then(|u| u.clone())?;
    let now = svc.principal(&who.username, who.generation).await;
    let Ok(mut u) = session.lock() else {
        return None;
    };
    // The session may have ended, or another begun, while the database answered: the news
    // is only for the login it was about.
    if u.as_ref() != Some(&who) {
        return None;
    }
    match now {
        Ok(now) if now.role != who.role => {
            *u = Some(now.clone());
            Some(Action::RoleChanged(now.role))
        }
        Ok(_) => None,
        Err(ServiceError::Revoked(why)) => {
            *u = None;
            Some(Action::SessionEnded(format!("Logged out: {why}")))
        }
        Err(_) => None,
    }
}

pub(super) fn change_error(e: ServiceError) -> ChangeError {
    match e {
        ServiceError::Stale { current, .. } => ChangeError::Stale { current },
        ServiceError::NotFound(_) => ChangeError::NotFound,
        other => ChangeError::Other(other.to_string()),
    }
}
