//! `--rerun-failed REPORT.json`: the passes of an earlier report, to carry over instead of
//! running those cases again. Every other case of the selection (failed, errored, rejected,
//! incomplete, cancelled, or not in that report) runs. The report is read by the one reader
//! (statuses re-derived from the trials), and its passes carry over only when it was run at
//! the same commit with the same verdict settings.

use crate::policy::verdict::Status;
use crate::report::read::{Named, ReadError};
use crate::report::CaseReport;
use std::collections::{HashMap, HashSet};

/// Why the earlier report cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RerunError {
    #[error("--rerun-failed: {0}")]
    Read(#[from] ReadError),
    #[error("--rerun-failed {file}: it records no settings digest (written by an earlier kapso-gate), so its passes cannot be trusted under today's settings; run the whole selection")]
    Unbound { file: String },
    #[error("--rerun-failed {file}: it was run with other verdict settings (threshold, trials, aggregate, confidence, inconclusive, per-case config, quarantine, max-drop and baseline, or API host) than this run, so its passes are not passes now; run the whole selection or use the same settings")]
    Settings { file: String },
    #[error("--rerun-failed {file}: it was run at commit {found:?}, this run is at commit {expected:?}; its passes may not hold for this code. Run the whole selection, or pass --rerun-failed-any-commit to carry them over anyway")]
    Commit {
        file: String,
        found: String,
        expected: String,
    },
    #[error("--rerun-failed {file}: {which} commit is unknown, so the passes cannot be bound to this code; set --commit (or KAPSO_COMMIT), or pass --rerun-failed-any-commit")]
    UnknownCommit { file: String, which: &'static str },
}

/// What this run is bound to, which the earlier report must match.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub commit: Option<&'a str>,
    pub settings_digest: &'a str,
    /// `--rerun-failed-any-commit`: skip the commit check (never the settings check).
    pub any_commit: bool,
}

/// The passing cases of an earlier report, by test case ID.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rerun {
    passed: HashMap<String, CaseReport>,
    /// Run IDs of the cases that did not pass: their results are what is being re-run.
    not_passed_runs: HashSet<String>,
}

impl Rerun {
    /// The passes of a report already read (a merged one works too), when it is bound to the
    /// same settings and, unless `any_commit`, the same commit as this run.
    pub fn bind(named: Named, expected: &Expected<'_>) -> Result<Rerun, RerunError> {
        check(&named, expected)?;
        let (passed, not_passed): (Vec<CaseReport>, Vec<CaseReport>) = named
            .report
            .cases
            .into_iter()
            .partition(|case| case.status == Status::Passed);
        let not_passed_runs = not_passed
            .iter()
            .flat_map(|case| {
                case.trials
                    .iter()
                    .filter_map(|t| t.run_id.clone())
                    .chain(case.run_id.clone())
            })
            .collect();
        Ok(Rerun {
            passed: passed
                .into_iter()
                .map(|case| (case.test_case_id.clone(), case))
                .collect(),
            not_passed_runs,
        })
    }

    /// The earlier pass of `case_id`, marked as carried over, when it passed against the same
    /// threshold the case has now. `blocking` and `note` are today's policy.
    pub fn carried(&self, case_id: &str, threshold: f64, blocking: bool, note: Option<String>) -> Option<CaseReport> {
        let case = self.passed.get(case_id).filter(|c| c.threshold == threshold)?;
        Some(CaseReport {
            carried_over: true,
            blocking,
            note,
            ..case.clone()
        })
    }

    /// Whether `run_id` is a run of a case that did not pass in the report: a state file that
    /// recorded it must not re-attach to it, or the failure would be read back, not re-run.
    pub fn reruns(&self, run_id: &str) -> bool {
        self.not_passed_runs.contains(run_id)
    }

    /// How many passes the report holds.
    pub fn passes(&self) -> usize {
        self.passed.len()
    }
}

/// The settings first (they cannot be opted out of), then the commit.
fn check(named: &Named, expected: &Expected<'_>) -> Result<(), RerunError> {
    let file = || named.file.clone();
    let binding = &named.report.binding;
    match binding.settings_digest.as_deref() {
        None => return Err(RerunError::Unbound { file: file() }),
        Some(digest) if digest != expected.settings_digest => return Err(RerunError::Settings { file: file() }),
        Some(_) => {}
    }
    if expected.any_commit {
        return Ok(());
    }
    match (binding.commit.as_deref(), expected.commit) {
        (_, None) => Err(RerunError::UnknownCommit {
            file: file(),
            which: "this run's",
        }),
        (None, Some(_)) => Err(RerunError::UnknownCommit {
            file: file(),
            which: "the report's",
        }),
        (Some(found), Some(now)) if found != now => Err(RerunError::Commit {
            file: file(),
            found: found.to_owned(),
            expected: now.to_owned(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_fixtures::{case, report};

    fn earlier(commit: Option<&str>, digest: Option<&str>) -> Named {
        let mut report = report(vec![case("a", Status::Passed), case("b", Status::Failed)]);
        report.binding.commit = commit.map(str::to_owned);
        report.binding.settings_digest = digest.map(str::to_owned);
        Named {
            file: "earlier.json".into(),
            report,
        }
    }

    const NOW: Expected<'static> = Expected {
        commit: Some("c1"),
        settings_digest: "d1",
        any_commit: false,
    };

    #[test]
    fn carries_only_passes_at_the_same_threshold() {
        let rerun = Rerun::bind(earlier(Some("c1"), Some("d1")), &NOW).expect("bound");
        assert_eq!(rerun.passes(), 1);
        let carried = rerun.carried("a", 0.8, false, Some("flaky".into())).expect("passed");
        assert!(carried.carried_over);
        assert_eq!(carried.run_id.as_deref(), Some("run-a"), "the earlier run ID is kept");
        assert_eq!((carried.blocking, carried.note.as_deref()), (false, Some("flaky")));
        assert!(rerun.carried("b", 0.8, true, None).is_none(), "a failure runs again");
        assert!(
            rerun.carried("a", 0.9, true, None).is_none(),
            "another threshold runs again"
        );
        assert!(rerun.carried("c", 0.8, true, None).is_none(), "a new case runs");
        assert!(rerun.reruns("run-b") && !rerun.reruns("run-a"));
    }

    #[test]
    fn binds_to_the_settings_and_the_commit() {
        let refused = |named, expected: &Expected<'_>| Rerun::bind(named, expected).expect_err("refused");
        assert!(matches!(
            refused(earlier(Some("c1"), Some("d2")), &NOW),
            RerunError::Settings { .. }
        ));
        assert!(matches!(
            refused(earlier(Some("c1"), None), &NOW),
            RerunError::Unbound { .. }
        ));
        assert!(matches!(
            refused(earlier(Some("c0"), Some("d1")), &NOW),
            RerunError::Commit { .. }
        ));
        assert!(matches!(
            refused(earlier(None, Some("d1")), &NOW),
            RerunError::UnknownCommit { .. }
        ));
        let unknown_now = Expected { commit: None, ..NOW };
        assert!(matches!(
            refused(earlier(Some("c1"), Some("d1")), &unknown_now),
            RerunError::UnknownCommit { .. }
        ));
        let any = Expected {
            any_commit: true,
            ..NOW
        };
        assert!(
            Rerun::bind(earlier(Some("c0"), Some("d1")), &any).is_ok(),
            "the opt-out skips the commit"
        );
        assert!(
            matches!(
                refused(earlier(Some("c0"), Some("d2")), &any),
                RerunError::Settings { .. }
            ),
            "but never the settings"
        );
    }
}
