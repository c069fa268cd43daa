//! The state file (`--state-file`): every created run ID, recorded the moment it is known, so a
//! re-run of a crashed or cancelled CI job re-attaches to the same runs instead of creating
//! (and paying for) new ones. Written atomically: a temporary file, then a rename. This file
//! does the I/O; `reconcile` decides what an earlier invocation's runs mean for this one.

mod reconcile;

use crate::fs::file_write::replace_atomically;
pub use reconcile::{reconcile, Reattach};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Bumped on any incompatible change to the state file.
pub const STATE_VERSION: u32 = 1;

/// The file's contents. Never holds the API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub base_url: String,
    pub threshold: f64,
    /// The selection the runs were created for: test case ID and trials.
    pub selection: Vec<SelectedCase>,
    pub runs: Vec<RecordedRun>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectedCase {
    pub test_case_id: String,
    pub trials: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRun {
    pub test_case_id: String,
    pub trial: usize,
    pub run_id: String,
}

/// Why the state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("state file {path} is not readable ({reason}); delete it to start fresh runs")]
    Corrupt { path: String, reason: String },
    #[error(
        "state file {path} has version {found}, this kapso-gate writes {STATE_VERSION}; delete it to start fresh runs"
    )]
    Version { path: String, found: u32 },
    #[error("cannot write state file {path}: {reason}")]
    Write { path: String, reason: String },
}

/// An open state file: what an earlier invocation recorded, and what this one adds.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    state: State,
}

impl StateFile {
    /// Opens `path` for an invocation with `selection`. A missing file starts empty; an
    /// unreadable one is an error (the user must decide, since a fresh start creates new runs).
    pub fn open(
        path: &Path,
        base_url: &str,
        threshold: f64,
        selection: Vec<SelectedCase>,
    ) -> Result<(StateFile, Reattach), StateError> {
        let previous = read(path)?;
        let (state, reattach) = reconcile(previous, base_url, threshold, selection, &path.display().to_string());
        let file = StateFile {
            path: path.to_owned(),
            state,
        };
        file.write()?;
        Ok((file, reattach))
    }

    /// Records a new run and rewrites the file.
    pub fn record(&mut self, test_case_id: &str, trial: usize, run_id: &str) -> Result<(), StateError> {
        self.state
            .runs
            .retain(|r| !(r.test_case_id == test_case_id && r.trial == trial));
        self.state.runs.push(RecordedRun {
            test_case_id: test_case_id.to_owned(),
            trial,
            run_id: run_id.to_owned(),
        });
        self.write()
    }

    fn write(&self) -> Result<(), StateError> {
        let write_error = |reason: String| StateError::Write {
            path: self.path.display().to_string(),
            reason,
        };
        let text = serde_json::to_string_pretty(&self.state).map_err(|e| write_error(e.to_string()))?;
        replace_atomically(&self.path, text.as_bytes()).map_err(|e| write_error(e.to_string()))
    }
}

/// The recorded state, `None` when there is no file yet.
fn read(path: &Path) -> Result<Option<State>, StateError> {
    let shown = || path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StateError::Read {
                path: shown(),
                reason: e.to_string(),
            })
        }
    };
    let state = serde_json::from_str::<State>(&text).map_err(|e| StateError::Corrupt {
        path: shown(),
        reason: e.to_string(),
    })?;
    if state.version != STATE_VERSION {
        return Err(StateError::Version {
            path: shown(),
            found: state.version,
        });
    }
    Ok(Some(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A selection of `ids`, each with `trials`.
    pub(super) fn selection(ids: &[&str], trials: u32) -> Vec<SelectedCase> {
        ids.iter()
            .map(|id| SelectedCase {
                test_case_id: (*id).to_owned(),
                trials,
            })
            .collect()
    }

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("kapso-gate-state-{name}-{}.json", std::process::id()))
    }

    #[test]
    fn records_and_reattaches() {
        let path = temp_path("reattach");
        let _ = std::fs::remove_file(&path);
        let (mut file, reattach) = StateFile::open(&path, "http://x", 0.8, selection(&["a", "b"], 1)).expect("opens");
        assert!(reattach.runs.is_empty());
        file.record("a", 0, "run-a").expect("writes");
        let (_, reattach) = StateFile::open(&path, "http://x", 0.8, selection(&["a", "b"], 1)).expect("opens");
        assert_eq!(
            reattach.runs,
            vec![RecordedRun {
                test_case_id: "a".into(),
                trial: 0,
                run_id: "run-a".into()
            }]
        );
        assert!(reattach.notes.is_empty());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn explains_changes() {
        let path = temp_path("changes");
        let _ = std::fs::remove_file(&path);
        let (mut file, _) = StateFile::open(&path, "http://x", 0.8, selection(&["a", "b"], 1)).expect("opens");
        file.record("b", 0, "run-b").expect("writes");
        let (_, reattach) = StateFile::open(&path, "http://x", 0.9, selection(&["b", "c"], 1)).expect("opens");
        assert_eq!(reattach.runs.len(), 1);
        assert!(
            reattach.notes.iter().any(|n| n.contains("1 cases added, 1 removed")),
            "{:?}",
            reattach.notes
        );
        assert!(
            reattach.notes.iter().any(|n| n.contains("threshold changed")),
            "{:?}",
            reattach.notes
        );
        let (_, other_host) = StateFile::open(&path, "http://y", 0.9, selection(&["b"], 1)).expect("opens");
        assert!(other_host.runs.is_empty());
        std::fs::write(&path, "{broken").expect("writes");
        assert!(StateFile::open(&path, "http://x", 0.8, selection(&["b"], 1)).is_err());
        let _ = std::fs::remove_file(&path);
    }
}
