//! Who may do what. One ordered scale: each role may do everything the one below it may.

use std::fmt;

/// The field name password rules are reported under.
pub const PASSWORD: &str = "password";
/// Shortest password a person may choose (the seeded API user's comes from PASSWORD_API).
pub const PASSWORD_MIN: usize = 8;
/// Longest: argon2 hashes whatever it is given, so a huge one would only cost CPU.
pub const PASSWORD_MAX: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Lists, details, the live tail, exports.
    Viewer,
    /// Also registers, edits, deletes, imports, and reads the consumer route (it commits).
    Editor,
    /// Also manages users.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| format!("must be one of viewer, editor, admin (got {text:?})"))
    }

    /// True when this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }

    /// The refusal a person reads: what is needed and what they are.
    pub fn refusal(self, needed: Role, what: &str) -> String {
        format!(
            "{what} needs the {needed} role; you are {} {self}",
            if self == Role::Viewer { "a" } else { "an" }
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why `password` cannot be chosen, if it cannot. Counted in characters.
pub fn password_problem(password: &str) -> Option<String> {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        return Some(format!(
            "must be at least {PASSWORD_MIN} characters (got {len})"
        ));
    }
    if len > PASSWORD_MAX {
        return Some(format!("must be at most {PASSWORD_MAX} characters"));
    }
    if password.chars().any(|c| c.is_control()) {
        return Some("must not contain control characters".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parsed() {
        assert!(Role::Admin.allows(Role::Editor));
        assert!(Role::Editor.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Editor));
        assert!(!Role::Editor.allows(Role::Admin));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(
            Role::parse("root")
                .unwrap_err()
                .contains("viewer, editor, admin")
        );
        assert_eq!(
            Role::Viewer.refusal(Role::Editor, "registering"),
            "registering needs the editor role; you are a viewer"
        );
    }

    #[test]
    fn passwords_have_a_minimum_length() {
        assert!(password_problem("short").unwrap().contains("at least 8"));
        assert_eq!(password_problem("long enough"), None);
        assert_eq!(password_problem("ãéíõúçàü"), None, "counted in characters");
        assert!(
            password_problem("abc\u{0}defgh")
                .unwrap()
                .contains("control")
        );
        assert!(password_problem(&"x".repeat(1025)).is_some());
    }
}
