//! The API key as a type that cannot be printed by accident.

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

    /// Replaces every occurrence of the key in text a server sent (an error body that echoes
    /// the request, say) with `***`, before anything can print or store it. Keys shorter than
    /// 8 bytes are left alone: replacing a short string would corrupt ordinary text, and real
    /// project keys are much longer.
    pub fn redact(&self, body: Vec<u8>) -> Vec<u8> {
        let key = self.0.as_bytes();
        if key.len() < 8 || body.len() < key.len() {
            return body;
        }
        let mut out = Vec::with_capacity(body.len());
        let mut i = 0;
        while i < body.len() {
            if body[i..].starts_with(key) {
                out.extend_from_slice(b"***");
                i += key.len();
            } else {
                out.push(body[i]);
                i += 1;
            }
        }
        out
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
    fn redacts_echoed_keys() {
        let key = ApiKey::new("sk-very-secret");
        let body = br#"{"message":"header X-API-Key=sk-very-secret refused; sk-very-secret"}"#.to_vec();
        assert_eq!(
            key.redact(body),
            br#"{"message":"header X-API-Key=*** refused; ***"}"#.to_vec()
        );
        assert_eq!(
            ApiKey::new("key").redact(b"monkey".to_vec()),
            b"monkey".to_vec(),
            "short keys are left alone"
        );
    }

    #[test]
    fn formatting_never_shows_the_key() {
        let key = ApiKey::new("  sk-very-secret\n");
        assert_eq!(key.expose(), "sk-very-secret");
        assert!(!format!("{key} {key:?} {key:#?}").contains("very-secret"));
    }
}
