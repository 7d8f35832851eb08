//! Password hashing with argon2id. Hashing is CPU-heavy, so it runs off the async runtime.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};

use super::ServiceError;

pub async fn hash_password(password: String) -> Result<String, ServiceError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::Internal(format!("cannot hash a password: {e}")))
    })
    .await
    .map_err(|e| ServiceError::Internal(e.to_string()))?
}

/// True when `password` matches `hash`; a malformed hash simply does not match.
pub async fn verify_password(password: String, hash: String) -> bool {
    verify_holding(password, hash, ()).await
}

/// Verifies while holding `slot` (a semaphore permit): it is released when the verification
/// ends, even if the caller stopped waiting for it.
pub async fn verify_holding<S: Send + 'static>(password: String, hash: String, slot: S) -> bool {
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}
