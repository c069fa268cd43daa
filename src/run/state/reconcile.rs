//! Re-attaching, as a pure function: what an earlier invocation recorded, set against this
//! invocation's base URL, threshold and selection, gives the runs to re-use, the notes that
//! explain any difference, and the state to record from now on.

use super::{RecordedRun, SelectedCase, State, STATE_VERSION};

/// What re-attaching found.
#[derive(Debug, Default)]
pub struct Reattach {
    /// Runs to re-attach to, by (test case ID, trial).
    pub runs: Vec<RecordedRun>,
    /// Differences between the recorded and the current invocation, explained.
    pub notes: Vec<String>,
}

/// Reconciles `previous` (already checked for its version) with the current invocation.
/// `file` names the state file in the notes.
pub fn reconcile(
    previous: Option<State>,
    base_url: &str,
    threshold: f64,
    selection: Vec<SelectedCase>,
    file: &str,
) -> (State, Reattach) {
    let mut reattach = Reattach::default();
    let mut state = State {
        version: STATE_VERSION,
        base_url: base_url.to_owned(),
        threshold,
        selection,
        runs: Vec::new(),
    };
    let Some(previous) = previous else {
        return (state, reattach);
    };
    if previous.base_url != base_url {
        reattach.notes.push(format!(
            "state file {file} was written for {}, not {base_url}; its runs are ignored",
            previous.base_url
        ));
        return (state, reattach);
    }
    if previous.selection != state.selection {
        reattach
            .notes
            .push(selection_note(&previous.selection, &state.selection));
    }
    if previous.threshold != threshold {
        reattach.notes.push(format!(
            "the threshold changed from {} to {threshold} since the state file was written: re-used runs are judged against {threshold}",
            previous.threshold
        ));
    }
    for run in previous.runs {
        let wanted = state
            .selection
            .iter()
            .any(|c| c.test_case_id == run.test_case_id && run.trial < c.trials as usize);
        let known = reattach
            .runs
            .iter()
            .any(|r| r.test_case_id == run.test_case_id && r.trial == run.trial);
        if wanted && !known {
            reattach.runs.push(run);
        }
    }
    state.runs = reattach.runs.clone();
    (state, reattach)
}

fn selection_note(old: &[SelectedCase], new: &[SelectedCase]) -> String {
    let has = |list: &[SelectedCase], id: &str| list.iter().any(|c| c.test_case_id == id);
    let added = new.iter().filter(|c| !has(old, &c.test_case_id)).count();
    let removed = old.iter().filter(|c| !has(new, &c.test_case_id)).count();
    let retrialled = new
        .iter()
        .filter(|c| {
            old.iter()
                .any(|p| p.test_case_id == c.test_case_id && p.trials != c.trials)
        })
        .count();
    format!(
        "the selection changed since the state file was written ({added} cases added, {removed} removed, {retrialled} with other trials): runs of cases still selected are re-used, the rest are created"
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::selection;
    use super::*;

    fn run(case: &str, trial: usize) -> RecordedRun {
        RecordedRun {
            test_case_id: case.into(),
            trial,
            run_id: format!("run-{case}-{trial}"),
        }
    }

    #[test]
    fn keeps_the_runs_still_wanted_and_explains_changes() {
        let (previous, _) = reconcile(None, "http://x", 0.8, selection(&["a", "b"], 2), "f");
        let previous = State {
            runs: vec![run("a", 0), run("a", 1), run("b", 0), run("a", 0)],
            ..previous
        };
        let (state, found) = reconcile(Some(previous.clone()), "http://x", 0.9, selection(&["a", "c"], 1), "f");
        assert_eq!(
            found.runs,
            vec![run("a", 0)],
            "trial 1 is no longer wanted; duplicates dropped"
        );
        assert_eq!(state.runs, found.runs);
        assert_eq!(found.notes.len(), 2, "{:?}", found.notes);
        assert!(found.notes[0].contains("1 cases added, 1 removed, 1 with other trials"));
        assert!(found.notes[1].contains("threshold changed from 0.8 to 0.9"));
        let (_, elsewhere) = reconcile(Some(previous), "http://y", 0.8, selection(&["a"], 2), "f");
        assert!(elsewhere.runs.is_empty());
        assert!(elsewhere.notes[0].contains("was written for http://x, not http://y"));
    }
}
