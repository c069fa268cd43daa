//! The one digest the gate records in its reports: SHA-256 as lowercase hex. A leaf, so that the
//! selection's fingerprint (`shard`) and the verdict settings' fingerprint (`settings`) are the
//! same kind of value and a reader can compare them as plain strings.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// SHA-256 of `bytes`, 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in hash {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The fingerprint of a test case's definition: what the judge measured. SHA-256 of the name,
/// script and rubric as JSON (`[name, script, rubric]`, a missing one as `null`), so no
/// choice of texts can make two different definitions encode the same bytes.
pub fn definition_digest(name: Option<&str>, script: Option<&str>, rubric: Option<&str>) -> String {
    let encoded = serde_json::to_vec(&[name, script, rubric]).unwrap_or_default();
    sha256_hex(&encoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_definition_digest_tells_every_field_apart() {
        let base = definition_digest(Some("a"), Some("b"), Some("c"));
        assert_eq!(base, definition_digest(Some("a"), Some("b"), Some("c")));
        assert_ne!(base, definition_digest(Some("a"), Some("b"), Some("c2")));
        assert_ne!(base, definition_digest(Some("a"), Some("bc"), Some("")));
        assert_ne!(
            definition_digest(None, Some("b"), Some("c")),
            definition_digest(Some(""), Some("b"), Some("c"))
        );
    }

    #[test]
    fn the_published_test_vectors() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
