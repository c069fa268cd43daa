//! Kapso IDs: validation of user-supplied IDs and their encoding as one URL path segment.

use std::fmt::Write as _;

/// Why an ID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an ID is empty")]
    Empty,
    #[error("ID {0:?} contains whitespace or a control character")]
    BadCharacter(String),
    #[error("ID {0:?} is a relative path segment, not an ID")]
    DotSegment(String),
    #[error("ID {0:?}... is longer than 512 characters")]
    TooLong(String),
}

/// Checks an ID as given by the user. IDs are opaque strings (Kapso documents UUIDs, examples
/// use other shapes), so anything printable is accepted except what cannot be an ID at all.
pub fn validate(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id.chars().count() > 512 {
        return Err(IdError::TooLong(id.chars().take(40).collect()));
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(IdError::BadCharacter(id.to_owned()));
    }
    // "." and ".." survive percent-encoding as dot segments (URL parsers treat %2E%2E as ".."),
    // so they are refused rather than encoded.
    if id == "." || id == ".." {
        return Err(IdError::DotSegment(id.to_owned()));
    }
    Ok(())
}

/// Percent-encodes `id` so that it is exactly one path segment: every byte outside the RFC 3986
/// unreserved set is encoded, `/`, `?`, `#` and `%` included.
pub fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Splits a list given in one environment variable or flag value on commas, spaces and newlines.
pub fn split_list(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_cannot_be_an_id() {
        assert_eq!(validate(""), Err(IdError::Empty));
        assert!(matches!(validate("a b"), Err(IdError::BadCharacter(_))));
        assert!(matches!(validate("a\u{1b}b"), Err(IdError::BadCharacter(_))));
        assert!(matches!(validate(".."), Err(IdError::DotSegment(_))));
        assert!(matches!(validate(&"x".repeat(513)), Err(IdError::TooLong(_))));
        assert_eq!(validate("6f1c2a9e-0b7d-4c1e-9a55-1d2e3f4a5b6c"), Ok(()));
        assert_eq!(validate("../x"), Ok(()), "encoded, so harmless");
    }

    #[test]
    fn encodes_one_segment() {
        assert_eq!(path_segment("abc-123_~."), "abc-123_~.");
        assert_eq!(path_segment("../x"), "..%2Fx");
        assert_eq!(path_segment("a?b#c%d"), "a%3Fb%23c%25d");
        assert_eq!(path_segment("ñ"), "%C3%B1");
    }

    #[test]
    fn splits_lists() {
        let ids: Vec<&str> = split_list(" a,b\nc  d,,\r\ne ").collect();
        assert_eq!(ids, vec!["a", "b", "c", "d", "e"]);
    }
}
