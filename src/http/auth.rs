//! Bearer tokens: HS256 JWTs with the original's `username` claim, valid for 60 minutes,
//! plus `gen`, the user's token generation at login: a password change or a disable raises
//! it in the database, which revokes the token on every replica (checked per request, the
//! user's row cached for at most a second). The role is read from the database, not the
//! token, so a role change applies to tokens already issued.
//! The secret comes from JWT_SECRET or a file generated once in the data directory (0600).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::envelope::ApiError;
use crate::domain::Role;
use crate::service::Principal;

pub const TOKEN_MINUTES: i64 = 60;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub username: String,
    /// Tokens from before roles existed have none: generation 0, as every user started.
    #[serde(default)]
    pub r#gen: i64,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Clone)]
pub struct Jwt {
    encoding: Arc<EncodingKey>,
    decoding: Arc<DecodingKey>,
}

impl Jwt {
    pub fn new(secret: &[u8]) -> Jwt {
        Jwt {
            encoding: Arc::new(EncodingKey::from_secret(secret)),
            decoding: Arc::new(DecodingKey::from_secret(secret)),
        }
    }

    pub fn issue(&self, username: &str, generation: i64, now: i64) -> Result<String, ApiError> {
        let claims = Claims {
            username: username.to_string(),
            r#gen: generation,
            iat: now,
            exp: now + TOKEN_MINUTES * 60,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|e| {
            tracing::error!(error = %e, "cannot sign a token");
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
            )
        })
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 5;
        v.set_required_spec_claims(&["exp", "username"]);
        decode::<Claims>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::unauthorized("Token expired"),
                _ => ApiError::unauthorized("Could not validate credentials"),
            })
    }
}

/// JWT_SECRET if set, else the secret kept in `file`, created on first use with mode 0600.
pub fn load_secret(configured: Option<&str>, file: &Path) -> std::io::Result<Vec<u8>> {
    if let Some(s) = configured {
        return Ok(s.as_bytes().to_vec());
    }
    if let Some(existing) = read_private(file)? {
        return Ok(existing);
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let secret: String = (0..4)
        .map(|_| format!("{:016x}", rand::random::<u64>()))
        .collect();
    // Written whole under a temporary name (0600), then linked into place: a reader never
    // sees half a file, and of two processes starting at once the first one's secret wins.
    let tmp = file.with_extension(format!(
        "tmp-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let written = opts.open(&tmp).and_then(|mut f| {
        f.write_all(secret.as_bytes())?;
        f.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, file));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(secret.into_bytes()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_private(file)?.ok_or_else(|| {
                std::io::Error::other("the secret file another process wrote is too short")
            })
        }
        Err(e) => Err(e),
    }
}

/// The secret in `file` if there is one (32 bytes or more), refusing a file that others
/// could read.
fn read_private(file: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let meta = match std::fs::metadata(file) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("its mode is {mode:o}, readable by others; run chmod 600 on it"),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let existing = std::fs::read_to_string(file)?;
    let trimmed = existing.trim();
    Ok((trimmed.len() >= 32).then(|| trimmed.as_bytes().to_vec()))
}

/// The user a valid, unrevoked bearer token names, any role; 401 otherwise.
pub struct AuthUser(#[allow(dead_code)] pub Principal);
/// As `AuthUser`, and the role allows writing products (403 naming it otherwise).
pub struct Editor(pub Principal);
/// As `AuthUser`, and the role is admin.
pub struct Admin(pub Principal);

/// True when the request carries a token we signed that has not expired. Checked without the
/// database (so it answers during an outage); enough to see why a health check fails.
pub fn signed(headers: &axum::http::HeaderMap, jwt: &Jwt) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .is_some_and(|t| jwt.verify(t.trim()).is_ok())
}

async fn principal(parts: &Parts, state: &AppState, needed: Role) -> Result<Principal, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("Not authenticated"))?
        .to_str()
        .map_err(|_| ApiError::unauthorized("Could not validate credentials"))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(|| ApiError::unauthorized("Not authenticated"))?;
    let claims = state.jwt.verify(token.trim())?;
    let who = state
        .service
        .principal(&claims.username, claims.r#gen)
        .await?;
    if !who.role.allows(needed) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            who.role.refusal(needed, "This route"),
        ));
    }
    Ok(who)
}

macro_rules! role_extractor {
    ($name:ident, $role:expr) => {
        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, ApiError> {
                principal(parts, state, $role).await.map($name)
            }
        }
    };
}
role_extractor!(AuthUser, Role::Viewer);
role_extractor!(Editor, Role::Editor);
role_extractor!(Admin, Role::Admin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_is_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/jwt_secret");
        let first = load_secret(None, &file).unwrap();
        assert!(first.len() >= 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(
            load_secret(None, &file).unwrap(),
            first,
            "the same secret on the next start"
        );
        assert_eq!(
            load_secret(Some("configured"), &file).unwrap(),
            b"configured"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jwt_secret");
        load_secret(None, &file).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_secret(None, &file).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }

    #[test]
    fn processes_starting_together_share_one_secret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jwt_secret");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let file = file.clone();
                std::thread::spawn(move || load_secret(None, &file).unwrap())
            })
            .collect();
        let got: Vec<Vec<u8>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(got.iter().all(|s| *s == got[0]), "one secret for all");
        assert_eq!(std::fs::read(&file).unwrap(), got[0]);
    }

    #[test]
    fn tokens_carry_username_and_expire_after_60_minutes() {
        let jwt = Jwt::new(b"0123456789abcdef0123456789abcdef");
        let now = chrono::Utc::now().timestamp();
        let claims = jwt.verify(&jwt.issue("vert", 3, now).unwrap()).unwrap();
        assert_eq!(
            (claims.username.as_str(), claims.exp - claims.iat),
            ("vert", 3600)
        );
        assert_eq!(claims.r#gen, 3);
        let old = jwt.issue("vert", 0, now - 3600 - 10).unwrap();
        assert_eq!(jwt.verify(&old).unwrap_err().message, "Token expired");
    }
}
