//! `dataflow user ...`: user management straight in the database (no broker, no server), for
//! the operator who sets a team up. Passwords are read without echo and never printed.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use crate::cli::UserAction;
use crate::config::Settings;
use crate::domain::Role;
use crate::service::{ServiceError, UserUpdate};
use crate::store::Store;

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

async fn act(settings: &Settings, store: &Store, action: UserAction) -> Result<(), ServiceError> {
    let role_of = |r: &str| Role::parse(r).map_err(|m| usage(&format!("role {m}")));
    match action {
        UserAction::Add {
            name,
            role,
            password_stdin,
        } => {
            let role = role_of(&role)?;
            let password = read_password(password_stdin, true)?;
            crate::service::add_user(store, &name, &password, role).await?;
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
            if name == settings.username_api {
                return Err(usage(&format!(
                    "the password of {name} is PASSWORD_API's: change that setting and restart"
                )));
            }
            crate::service::user_info(store, &name).await?;
            let password = read_password(password_stdin, true)?;
            let change = UserUpdate {
                password: Some(password),
                ..Default::default()
            };
            crate::service::update_user(store, &name, change).await?;
            println!("password of {name} changed; their tokens no longer work");
        }
        UserAction::Role { name, role } => {
            let role = role_of(&role)?;
            let change = UserUpdate {
                role: Some(role),
                ..Default::default()
            };
            crate::service::update_user(store, &name, change).await?;
            println!("{name} is now {role}");
        }
        UserAction::Disable { name } => {
            let change = UserUpdate {
                disabled: Some(true),
                ..Default::default()
            };
            crate::service::update_user(store, &name, change).await?;
            println!("{name} is disabled; their tokens no longer work");
        }
        UserAction::Enable { name } => {
            let change = UserUpdate {
                disabled: Some(false),
                ..Default::default()
            };
            crate::service::update_user(store, &name, change).await?;
            println!("{name} is enabled");
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
