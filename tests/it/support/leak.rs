//! The one check that a secret (the API key, or a key Kapso refused) shows nowhere: in the
//! gate's output, in one text, or in any file a run left in a directory.

use super::Finished;
use std::path::{Path, PathBuf};

/// Whether GitHub's `::add-mask::<secret>` command may show the secret. In GitHub Actions it is
/// the one line that must: the runner can only hide a value it was told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddMask {
    /// A line that is exactly `::add-mask::<secret>` is the only place the secret may show (the
    /// gate masks each of its secrets, the API key and the comment token, on a line of its own).
    Allowed,
    /// The secret shows on no line at all.
    Forbidden,
}

/// `secret` appears nowhere in `text` (named `what` in the failure), except as `add_mask` allows.
pub fn assert_no_secret(text: &str, secret: &str, what: &str, add_mask: AddMask) {
    for line in text.lines() {
        if add_mask == AddMask::Allowed && line == format!("::add-mask::{secret}") {
            continue;
        }
        assert!(!line.contains(secret), "the secret leaked into {what}: {line:.300}");
    }
}

/// `secret` appears in neither stdout nor stderr of `out`.
pub fn assert_no_secret_in_output(out: &Finished, secret: &str, add_mask: AddMask) {
    assert_no_secret(&out.stdout, secret, "stdout", add_mask);
    assert_no_secret(&out.stderr, secret, "stderr", add_mask);
}

/// Some file was written under `dir` and none of them holds `secret` anywhere (no add-mask
/// exception: files are never read as workflow commands). `label` names the case on failure.
pub fn assert_no_secret_in_files(dir: &Path, secret: &str, label: &str) {
    let files = files_under(dir);
    assert!(!files.is_empty(), "{label}: no file was written");
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).expect("reads")).into_owned();
        assert_no_secret(
            &text,
            secret,
            &format!("{label}: {}", file.display()),
            AddMask::Forbidden,
        );
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
