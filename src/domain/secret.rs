//! The secrets as types that cannot be printed by accident: the API key, and the forge token
//! that may write the pull-request comment (a different secret with a different audience: it is
//! only ever sent to the configured forge API); and the [`Redactor`] that takes every secret of
//! the process (the key, the forge tokens) out of text a server sent, once that text is decoded.

use std::fmt;

/// A Kapso project API key. `Debug` and `Display` print `***`; the only way to read the key is
/// [`ApiKey::expose`], used only to build the request header, to check the key is usable, and to
/// tell the GitHub runner to mask it (`::add-mask::`).
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

/// What replaces a secret.
pub const REDACTED: &str = "***";
/// Secrets shorter than this are left alone: replacing a short string would corrupt ordinary
/// text, and real API keys and tokens are much longer.
const MIN_SECRET_BYTES: usize = 8;

/// Replaces the process's secrets with `***` in text a server sent. It works on decoded text
/// (a JSON string after its escapes are read, an error message), never on raw bytes: a server
/// may spell a secret with any JSON escape (`\u005f` for `_`), and only the decoded text is what
/// reaches a terminal, a report or a comment. `Debug` shows how many secrets it holds, not them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is replaced whole.
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for `secrets` (blank and short ones are skipped).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(str::trim)
            .filter(|s| s.len() >= MIN_SECRET_BYTES)
            .map(str::to_owned)
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        self.redact_in_place(&mut out);
        out
    }

    pub fn redact_in_place(&self, text: &mut String) {
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                *text = text.replace(secret.as_str(), REDACTED);
            }
        }
    }

    /// Every string of a decoded JSON value, object keys included.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(text) => self.redact_in_place(text),
            Value::Array(items) => items.iter_mut().for_each(|item| self.redact_json(item)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (mut name, mut item) in entries {
                    self.redact_in_place(&mut name);
                    self.redact_json(&mut item);
                    map.insert(name, item);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

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
    fn redacts_decoded_text() {
        let redactor = Redactor::new(["sk_very_secret", "ghs_token_value", "key", "  "]);
        let raw =
            r#"{"message":"header X-API-Key=sk\u005fvery\u005fsecret refused","sk_very_secret":["ghs_token_value"]}"#;
        let mut value: serde_json::Value = serde_json::from_str(raw).expect("JSON");
        redactor.redact_json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"message": "header X-API-Key=*** refused", "***": ["***"]})
        );
        assert_eq!(redactor.redact("monkey"), "monkey", "short secrets are left alone");
        assert_eq!(format!("{redactor:?}"), "Redactor(2 secrets)");
        let nested = Redactor::new(["abcdefgh", "abcdefgh-longer"]);
        assert_eq!(
            nested.redact("abcdefgh-longer abcdefgh"),
            "*** ***",
            "the longest first"
        );
    }

    #[test]
    fn formatting_never_shows_the_key() {
        let key = ApiKey::new("  sk-very-secret\n");
        assert_eq!(key.expose(), "sk-very-secret");
        assert!(!format!("{key} {key:?} {key:#?}").contains("very-secret"));
    }

    #[test]
    fn formatting_never_shows_the_token() {
        let token = ForgeToken::new(" ghs_secretvalue123\n").expect("a token");
        assert_eq!(token.expose(), "ghs_secretvalue123");
        assert!(!format!("{token} {token:?} {token:#?}").contains("secretvalue"));
        assert_eq!(ForgeToken::new("  \n"), None, "blank means not given");
    }
}
