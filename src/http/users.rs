//! Admin routes: list, add and change users. Every answer names the field and the rule.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::AppState;
use super::auth::Admin;
use super::caller::Caller;
use super::envelope::{ApiError, Envelope, FieldProblem, ok};
use super::json::JsonBody;
use crate::domain::Role;
use crate::service::{Actor, UserInfo, UserUpdate};

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    #[schema(example = "maria")]
    pub username: String,
    /// viewer, editor or admin.
    #[schema(example = "editor", pattern = "^(viewer|editor|admin)$")]
    pub role: String,
    pub disabled: bool,
}

impl From<UserInfo> for UserOut {
    fn from(u: UserInfo) -> UserOut {
        UserOut {
            username: u.username,
            role: u.role.as_str().into(),
            disabled: u.disabled,
        }
    }
}

/// `POST /api/vert/users`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[schema(example = json!({"username": "maria", "password": "a long secret", "role": "editor"}))]
#[allow(dead_code)] // documents the shape; the handler reads fields one by one
pub struct NewUserRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub username: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    #[schema(pattern = "^(viewer|editor|admin)$")]
    pub role: String,
}

/// `PATCH /api/vert/users/{username}`: any of the three.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[schema(example = json!({"role": "viewer"}))]
#[allow(dead_code)]
pub struct UserChangeRequest {
    /// Revokes the user's tokens.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: Option<String>,
    #[schema(pattern = "^(viewer|editor|admin)$")]
    pub role: Option<String>,
    /// true revokes the user's tokens and refuses their logins.
    pub disabled: Option<bool>,
}

fn problem(field: &str, message: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.into(),
        message: message.into(),
    }
}

fn object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object()
        .ok_or_else(|| ApiError::invalid(vec![problem("body", "must be a JSON object")]))
}

fn text<'a>(
    o: &'a Map<String, Value>,
    k: &str,
    need: bool,
) -> Result<Option<&'a str>, FieldProblem> {
    match o.get(k) {
        Some(Value::String(s)) => Ok(Some(s)),
        None | Some(Value::Null) if !need => Ok(None),
        None => Err(problem(k, "is required")),
        Some(_) => Err(problem(k, "must be a string")),
    }
}

/// A present text that breaks its rule becomes the field's problem.
fn ruled<'a>(
    v: Result<Option<&'a str>, FieldProblem>,
    field: &str,
    rule: fn(&str) -> Option<String>,
) -> Result<Option<&'a str>, FieldProblem> {
    match v?.map(|t| (t, rule(t))) {
        Some((_, Some(m))) => Err(problem(field, m)),
        Some((t, None)) => Ok(Some(t)),
        None => Ok(None),
    }
}

fn role(o: &Map<String, Value>, need: bool) -> Result<Option<Role>, FieldProblem> {
    match text(o, "role", need)? {
        Some(r) => Role::parse(r).map(Some).map_err(|m| problem("role", m)),
        None => Ok(None),
    }
}

/// The 422 naming every failing field of a request.
fn refused(problems: impl IntoIterator<Item = Option<FieldProblem>>) -> ApiError {
    ApiError::invalid(problems.into_iter().flatten().collect())
}

#[utoipa::path(get, path = "/api/vert/users", security(("bearer" = [])),
    responses(
        (status = 200, body = Envelope<Vec<UserOut>>, description = "Every user, by name"),
        (status = 401, body = Envelope<String>, description = "Missing, invalid, expired or revoked token"),
        (status = 403, body = Envelope<String>, description = "Needs the admin role"),
        (status = 503, body = Envelope<String>, description = "Database unavailable"),
    ))]
pub async fn list(State(state): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    let users = crate::service::list_users(state.service.store()).await?;
    let out: Vec<UserOut> = users.into_iter().map(UserOut::from).collect();
    Ok(ok("Users", Some(out)))
}

#[utoipa::path(post, path = "/api/vert/users", request_body = NewUserRequest, security(("bearer" = [])),
    responses(
        (status = 201, body = Envelope<UserOut>, description = "User added"),
        (status = 400, body = Envelope<String>, description = "Malformed JSON"),
        (status = 401, body = Envelope<String>, description = "Missing, invalid, expired or revoked token"),
        (status = 403, body = Envelope<String>, description = "Needs the admin role"),
        (status = 409, body = Envelope<String>, description = "A user of that name exists"),
        (status = 413, body = Envelope<String>, description = "Body too large"),
        (status = 415, body = Envelope<String>, description = "Content-Type is not application/json"),
        (status = 422, body = Envelope<Vec<FieldProblem>>, description = "One entry per failing field: username 1-200 characters without control characters, password 8-1024 characters, role viewer|editor|admin"),
        (status = 503, body = Envelope<String>, description = "Database unavailable"),
    ))]
pub async fn add(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Caller(caller): Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let o = object(&body)?;
    // Every failing field at once, each with its rule.
    let name = ruled(
        text(o, "username", true),
        "username",
        crate::domain::username_problem,
    );
    let password = ruled(
        text(o, "password", true),
        "password",
        crate::domain::password_problem,
    );
    let role = role(o, true);
    let (name, password, role) = match (name, password, role) {
        (Ok(Some(n)), Ok(Some(p)), Ok(Some(r))) => (n, p, r),
        // `text(.., true)` never gives Ok(None), so at least one of them is an error here.
        (n, p, r) => return Err(refused([n.err(), p.err(), r.err()])),
    };
    let by = Actor::new(&admin.username, caller);
    let user = crate::service::add_user(state.service.store(), &by, name, password, role).await?;
    tracing::info!(admin = %admin.username, username = %user.username, role = %user.role, "user added over HTTP");
    Ok(created(UserOut::from(user)))
}

fn created(user: UserOut) -> Response {
    let body = Envelope {
        code: "201".into(),
        status: "Created".into(),
        message: "User added".into(),
        result: Some(user),
    };
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

#[utoipa::path(get, path = "/api/vert/users/{username}", security(("bearer" = [])),
    params(("username" = String, Path, description = "The user's name")),
    responses(
        (status = 200, body = Envelope<UserOut>, description = "The user"),
        (status = 401, body = Envelope<String>, description = "Missing, invalid, expired or revoked token"),
        (status = 403, body = Envelope<String>, description = "Needs the admin role"),
        (status = 404, body = Envelope<String>, description = "No such user"),
        (status = 503, body = Envelope<String>, description = "Database unavailable"),
    ))]
pub async fn one(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let user = crate::service::user_info(state.service.store(), &name).await?;
    Ok(ok("User", Some(UserOut::from(user))))
}

#[utoipa::path(patch, path = "/api/vert/users/{username}", request_body = UserChangeRequest, security(("bearer" = [])),
    params(("username" = String, Path, description = "The user's name")),
    responses(
        (status = 200, body = Envelope<UserOut>, description = "The user as changed; a new password or a disable revokes the user's tokens on every replica"),
        (status = 400, body = Envelope<String>, description = "Malformed JSON"),
        (status = 401, body = Envelope<String>, description = "Missing, invalid, expired or revoked token"),
        (status = 403, body = Envelope<String>, description = "Needs the admin role"),
        (status = 404, body = Envelope<String>, description = "No such user"),
        (status = 409, body = Envelope<String>, description = "It would leave no enabled admin"),
        (status = 413, body = Envelope<String>, description = "Body too large"),
        (status = 415, body = Envelope<String>, description = "Content-Type is not application/json"),
        (status = 422, body = Envelope<Vec<FieldProblem>>, description = "One entry per failing field"),
        (status = 503, body = Envelope<String>, description = "Database unavailable"),
    ))]
pub async fn change(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Caller(caller): Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let o = object(&body)?;
    let disabled = match o.get("disabled") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(problem("disabled", "must be true or false")),
    };
    let (password, role) = (text(o, "password", false), role(o, false));
    let change = match (password, role, disabled) {
        (Ok(password), Ok(role), Ok(disabled)) => UserUpdate {
            password: password.map(str::to_string),
            role,
            disabled,
        },
        (p, r, d) => return Err(refused([p.err(), r.err(), d.err()])),
    };
    let by = Actor::new(&admin.username, caller);
    let user = state.service.change_user(&by, &name, change).await?;
    tracing::info!(admin = %admin.username, username = %user.username, "user changed over HTTP");
    Ok(ok("User changed", Some(UserOut::from(user))))
}
