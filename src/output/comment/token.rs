//! The token that may write the comment, as a type that cannot be printed by accident (the same
//! approach as [`crate::domain::secret::ApiKey`], kept separate because it is a different secret with a
//! different audience: it may only ever be sent to the configured forge API).

use std::fmt;

/// A GitHub (or GitLab) API token. `Debug` and `Display` print `***`; [`ForgeToken::expose`] is
/// used in one place per backend: building the `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct ForgeToken(String);

impl ForgeToken {
    /// Wraps a token; surrounding whitespace is trimmed. `None` when nothing is left, so an
    /// action input left empty counts as "not given".
    pub fn new(raw: &str) -> Option<Self> {
        let trimmed = raw.trim();
        (!trimmed.is_empty()).then(|| ForgeToken(trimmed.to_owned()))
    }

    /// The token itself. Callers must not log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ForgeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ForgeToken(***)")
    }
}

impl fmt::Display for ForgeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_token() {
        let token = ForgeToken::new(" ghs_secretvalue123\n").expect("a token");
        assert_eq!(token.expose(), "ghs_secretvalue123");
        assert!(!format!("{token} {token:?} {token:#?}").contains("secretvalue"));
        assert_eq!(ForgeToken::new("  \n"), None, "blank means not given");
    }
}
