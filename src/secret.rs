//! The API key as a type that cannot be printed by accident.

use std::fmt;

/// A Kapso project API key. `Debug` and `Display` print `***`; the only way to read the key is
/// [`ApiKey::expose`], used in exactly one place: building the request header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key read from the environment. Surrounding whitespace (a trailing newline from a
    /// secrets file) is trimmed.
    pub fn new(raw: &str) -> Self {
        ApiKey(raw.trim().to_owned())
    }

    /// The key itself. Callers must not log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_key() {
        let key = ApiKey::new("  sk-very-secret\n");
        assert_eq!(key.expose(), "sk-very-secret");
        assert!(!format!("{key} {key:?} {key:#?}").contains("very-secret"));
    }
}
