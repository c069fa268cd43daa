//! The state file (`--state-file`): every created run ID, recorded the moment it is known, so a
//! re-run of a crashed or cancelled CI job re-attaches to the same runs instead of creating
//! (and paying for) new ones. Written atomically: a temporary file, then a rename.

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

/// An open state file: what an earlier invocation recorded, and what this one adds.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    state: State,
}

/// What re-attaching found.
#[derive(Debug, Default)]
pub struct Reattach {
    /// Runs to re-attach to, by (test case ID, trial).
    pub runs: Vec<RecordedRun>,
    /// Differences between the recorded and the current invocation, explained.
    pub notes: Vec<String>,
}

impl StateFile {
    /// Opens `path` for an invocation with `selection`. A missing file starts empty; an
    /// unreadable one is an error (the user must decide, since a fresh start creates new runs).
    pub fn open(
        path: &Path,
        base_url: &str,
        threshold: f64,
        selection: Vec<SelectedCase>,
    ) -> Result<(StateFile, Reattach), String> {
        let fresh = State {
            version: STATE_VERSION,
            base_url: base_url.to_owned(),
            threshold,
            selection: selection.clone(),
            runs: Vec::new(),
        };
        let previous = match std::fs::read_to_string(path) {
            Ok(text) => Some(serde_json::from_str::<State>(&text).map_err(|e| {
                format!(
                    "state file {} is not readable ({e}); delete it to start fresh runs",
                    path.display()
                )
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("cannot read state file {}: {e}", path.display())),
        };
        let mut reattach = Reattach::default();
        let mut state = fresh;
        if let Some(previous) = previous {
            if previous.version != STATE_VERSION {
                return Err(format!(
                    "state file {} has version {}, this kapso-gate writes {STATE_VERSION}; delete it to start fresh runs",
                    path.display(),
                    previous.version
                ));
            }
            if previous.base_url != base_url {
                reattach.notes.push(format!(
                    "state file {} was written for {}, not {base_url}; its runs are ignored",
                    path.display(),
                    previous.base_url
                ));
            } else {
                if previous.selection != selection {
                    let old: Vec<&str> = previous.selection.iter().map(|c| c.test_case_id.as_str()).collect();
                    let new: Vec<&str> = selection.iter().map(|c| c.test_case_id.as_str()).collect();
                    let added = new.iter().filter(|id| !old.contains(id)).count();
                    let removed = old.iter().filter(|id| !new.contains(id)).count();
                    let retrialled = selection
                        .iter()
                        .filter(|c| {
                            previous
                                .selection
                                .iter()
                                .any(|p| p.test_case_id == c.test_case_id && p.trials != c.trials)
                        })
                        .count();
                    reattach.notes.push(format!(
                        "the selection changed since the state file was written ({added} cases added, {removed} removed, {retrialled} with other trials): runs of cases still selected are re-used, the rest are created"
                    ));
                }
                if previous.threshold != threshold {
                    reattach.notes.push(format!(
                        "the threshold changed from {} to {} since the state file was written: re-used runs are judged against {}",
                        previous.threshold, threshold, threshold
                    ));
                }
                for run in previous.runs {
                    let wanted = selection
                        .iter()
                        .any(|c| c.test_case_id == run.test_case_id && run.trial < c.trials as usize);
                    if wanted
                        && !reattach
                            .runs
                            .iter()
                            .any(|r| r.test_case_id == run.test_case_id && r.trial == run.trial)
                    {
                        reattach.runs.push(run);
                    }
                }
                state.runs = reattach.runs.clone();
            }
        }
        let file = StateFile {
            path: path.to_owned(),
            state,
        };
        file.write()?;
        Ok((file, reattach))
    }

    /// Records a new run and rewrites the file.
    pub fn record(&mut self, test_case_id: &str, trial: usize, run_id: &str) -> Result<(), String> {
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

    fn write(&self) -> Result<(), String> {
        let text = serde_json::to_string_pretty(&self.state).map_err(|e| e.to_string())?;
        write_atomically(&self.path, text.as_bytes())
            .map_err(|e| format!("cannot write state file {}: {e}", self.path.display()))
    }
}

/// Writes `bytes` to a hidden temporary file beside `path`, then renames it over `path`, so a
/// reader (or a crash) never sees half a file. Creates missing parent directories.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let result = std::fs::write(&temp, bytes).and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(ids: &[&str], trials: u32) -> Vec<SelectedCase> {
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
