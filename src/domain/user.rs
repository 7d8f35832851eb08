//! Rules for the text that names a user, checked before it reaches the database (PostgreSQL
//! refuses NUL in text: a login with one answered 500).

/// The field name the rules are reported under.
pub const USERNAME: &str = "username";
pub const USERNAME_MAX: usize = 200;

/// Why `name` cannot be a username, if it cannot.
pub fn username_problem(name: &str) -> Option<String> {
    if name.chars().any(char::is_control) {
        return Some("must not contain control characters (tabs, line breaks, NUL...)".into());
    }
    let len = name.chars().count();
    if len == 0 || len > USERNAME_MAX {
        return Some(format!("must be 1-{USERNAME_MAX} characters (got {len})"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::username_problem;

    #[test]
    fn usernames_refuse_control_characters_and_bad_lengths() {
        assert_eq!(username_problem("vert"), None);
        assert_eq!(username_problem("João da Silva"), None);
        assert!(username_problem("a\u{0}b").unwrap().contains("control"));
        assert!(username_problem("a\nb").unwrap().contains("control"));
        assert!(username_problem("").unwrap().contains("1-200"));
        assert!(
            username_problem(&"x".repeat(201))
                .unwrap()
                .contains("got 201")
        );
    }
}
