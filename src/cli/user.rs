//! `dataflow user ...`: the arguments, turned into the composition root's own command so
//! that `app` never depends on the argument parser.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Add a user; the password is asked for at the terminal (not echoed)
    Add {
        name: String,
        /// viewer (read), editor (also write products), admin (also users)
        #[arg(long, value_parser = ["viewer", "editor", "admin"])]
        role: String,
        /// Read the password from the first line of standard input instead (for scripts)
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users, their roles and whether they are disabled
    List,
    /// Set a user's password; their tokens stop working on every process
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Give a user another role (applies to their tokens at once)
    Role {
        name: String,
        #[arg(value_parser = ["viewer", "editor", "admin"])]
        role: String,
    },
    /// Refuse a user's logins and revoke their tokens
    Disable { name: String },
    /// Let a disabled user log in again
    Enable { name: String },
    /// Lift a login lock-out (too many wrong passwords) of a user, or of a client address
    Unlock {
        #[arg(required_unless_present = "address", conflicts_with = "address")]
        name: Option<String>,
        /// The client address to unlock instead of a user
        #[arg(long)]
        address: Option<std::net::IpAddr>,
    },
}

impl From<UserAction> for crate::app::UserAction {
    fn from(a: UserAction) -> Self {
        use crate::app::UserAction as A;
        match a {
            UserAction::Add {
                name,
                role,
                password_stdin,
            } => A::Add {
                name,
                role,
                password_stdin,
            },
            UserAction::List => A::List,
            UserAction::Passwd {
                name,
                password_stdin,
            } => A::Passwd {
                name,
                password_stdin,
            },
            UserAction::Role { name, role } => A::Role { name, role },
            UserAction::Disable { name } => A::Disable { name },
            UserAction::Enable { name } => A::Enable { name },
            UserAction::Unlock { name, address } => A::Unlock { name, address },
        }
    }
}
