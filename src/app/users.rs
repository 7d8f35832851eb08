//! `dataflow user ...`: user management straight in the database (no broker, no server), for
//! the operator who sets a team up. Passwords are read without echo and never printed.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use crate::config::Settings;
use crate::domain::Role;
use crate::service::{Actor, ServiceError, UnlockKey, UserUpdate};
use crate::store::Store;

/// What `dataflow user` was asked to do (the argument parser builds it).
#[derive(Debug, Clone)]
pub enum UserAction {
    Add {
        name: String,
        role: String,
        password_stdin: bool,
    },
    List,
    Passwd {
        name: String,
        password_stdin: bool,
    },
    Role {
        name: String,
        role: String,
    },
    Disable {
        name: String,
    },
    Enable {
        name: String,
    },
    /// Lift a lock-out: of the user, or of a client address.
    Unlock {
        name: Option<String>,
        address: Option<std::net::IpAddr>,
    },
}

pub fn run_user(settings: Settings, action: UserAction) -> ExitCode {
    let _guard = super::init_logging(&settings.paths.log_dir, false);
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
        let store = match Store::connect(&settings.database).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("dataflow: {e}");
                return ExitCode::from(1);
            }
        };
        let ready = match store.migrate().await {
            Ok(()) => crate::service::seed_api_user(&store, &settings)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let code = match ready {
            Ok(()) => match act(&settings, &store, action).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => report(&e),
            },
            Err(e) => {
                eprintln!("dataflow: {e}");
                ExitCode::from(1)
            }
        };
        store.close().await;
        code
    })
}

async fn act(_settings: &Settings, store: &Store, action: UserAction) -> Result<(), ServiceError> {
    let by = Actor::operator();
    let role_of = |r: &str| Role::parse(r).map_err(|m| usage(&format!("role {m}")));
    match action {
        UserAction::Add {
            name,
            role,
            password_stdin,
        } => {
            let role = role_of(&role)?;
            let password = read_password(password_stdin, true)?;
            crate::service::add_user(store, &by, &name, &password, role).await?;
            println!("added {name} ({role})");
        }
        UserAction::List => {
            let users = crate::service::list_users(store).await?;
            println!("{:<32} {:<7} state", "user", "role");
            for u in users {
                let state = if u.disabled { "disabled" } else { "enabled" };
                println!("{:<32} {:<7} {state}", u.username, u.role.as_str());
            }
        }
        UserAction::Passwd {
            name,
            password_stdin,
        } => {
            crate::service::user_info(store, &name).await?;
            let password = read_password(password_stdin, true)?;
            let change = UserUpdate {
                password: Some(password),
                ..Default::default()
            };
            crate::service::update_user(store, &by, &name, change).await?;
            println!("password of {name} changed; their tokens no longer work");
        }
        UserAction::Role { name, role } => {
            let role = role_of(&role)?;
            let change = UserUpdate {
                role: Some(role),
                ..Default::default()
            };
            crate::service::update_user(store, &by, &name, change).await?;
            println!("{name} is now {role}");
        }
        UserAction::Disable { name } => {
            let change = UserUpdate {
                disabled: Some(true),
                ..Default::default()
            };
            crate::service::update_user(store, &by, &name, change).await?;
            println!("{name} is disabled; their tokens no longer work");
        }
        UserAction::Enable { name } => {
            let change = UserUpdate {
                disabled: Some(false),
                ..Default::default()
            };
            crate::service::update_user(store, &by, &name, change).await?;
            println!("{name} is enabled");
        }
        UserAction::Unlock { name, address } => {
            let key = match (name, address) {
                (Some(name), None) => UnlockKey::User(name),
                (None, Some(ip)) => UnlockKey::Address(ip),
                _ => return Err(usage("name a user or give --address IP, not both")),
            };
            let held = crate::service::unlock(store, &by, &key).await?;
            let what = match &key {
                UnlockKey::User(n) => n.clone(),
                UnlockKey::Address(ip) => ip.to_string(),
            };
            if held {
                println!("{what} may log in again; its failures are forgotten");
            } else {
                println!("{what} was not locked out");
            }
        }
    }
    Ok(())
}

fn usage(message: &str) -> ServiceError {
    ServiceError::Refused(message.to_string())
}

/// The password, from a prompt without echo (asked twice) or the first line of stdin.
fn read_password(from_stdin: bool, confirm: bool) -> Result<String, ServiceError> {
    let io = |e: std::io::Error| usage(&format!("cannot read the password: {e}"));
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(io)?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage(
            "no terminal to ask the password at: pass --password-stdin and pipe it in",
        ));
    }
    let first = rpassword::prompt_password("Password: ").map_err(io)?;
    if confirm {
        let again = rpassword::prompt_password("Again: ").map_err(io)?;
        if again != first {
            return Err(usage("the two passwords differ; nothing changed"));
        }
    }
    Ok(first)
}

/// One line on stderr naming what was wrong; exit 2 for bad input, 1 otherwise.
fn report(e: &ServiceError) -> ExitCode {
    match e {
        ServiceError::Invalid(errs) => {
            for f in &errs.0 {
                eprintln!("dataflow: {}: {}", f.field, f.message);
            }
            ExitCode::from(2)
        }
        ServiceError::Refused(m) => {
            eprintln!("dataflow: {m}");
            ExitCode::from(2)
        }
        other => {
            eprintln!("dataflow: {other}");
            ExitCode::from(1)
        }
    }
}
