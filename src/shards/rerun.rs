//! `--rerun-failed REPORT.json`: the passes of an earlier report, to carry over instead of
//! running those cases again. Every other case of the selection (failed, errored, rejected,
//! incomplete, cancelled, or not in that report) runs.

use crate::baseline::ReportFormatError;
use crate::report::{CaseReport, Report, SCHEMA_VERSION};
use crate::verdict::Status;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Why the earlier report cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RerunError {
    #[error("cannot read --rerun-failed report {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("--rerun-failed report {path}: {reason}")]
    Invalid { path: String, reason: ReportFormatError },
}

/// The passing cases of an earlier report, by test case ID.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rerun {
    passed: HashMap<String, CaseReport>,
    /// Run IDs of the cases that did not pass: their results are what is being re-run.
    not_passed_runs: HashSet<String>,
}

impl Rerun {
    /// Reads a JSON report written by `--json` (a merged one works too).
    pub fn load(path: &Path) -> Result<Rerun, RerunError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| RerunError::Read {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Rerun::parse(&text).map_err(|reason| RerunError::Invalid { path: shown, reason })
    }

    /// Parses a JSON report of this schema version.
    pub fn parse(text: &str) -> Result<Rerun, ReportFormatError> {
        let value: Value = serde_json::from_str(text).map_err(|e| ReportFormatError::NotJson(e.to_string()))?;
        let version = value.get("schema_version").and_then(Value::as_u64);
        if version != Some(u64::from(SCHEMA_VERSION)) {
            return Err(ReportFormatError::Version {
                found: version.map_or_else(|| "none".to_owned(), |v| v.to_string()),
            });
        }
        let report: Report = serde_json::from_value(value).map_err(|e| ReportFormatError::NotJson(e.to_string()))?;
        let (passed, not_passed): (Vec<CaseReport>, Vec<CaseReport>) =
            report.cases.into_iter().partition(|case| case.status == Status::Passed);
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
    /// threshold the case has now (a changed threshold would make the old verdict meaningless,
    /// so such a case runs again). `blocking` and `note` are today's policy.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::json;
    use crate::report::test_fixtures::{case, report};

    #[test]
    fn carries_only_passes_at_the_same_threshold() {
        let earlier = report(vec![case("a", Status::Passed), case("b", Status::Failed)]);
        let rerun = Rerun::parse(&json::render(&earlier)).expect("a report");
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
    fn refuses_what_is_not_a_report() {
        assert!(matches!(Rerun::parse("{"), Err(ReportFormatError::NotJson(_))));
        assert!(matches!(
            Rerun::parse("{\"schema_version\": 2, \"cases\": []}"),
            Err(ReportFormatError::Version { .. })
        ));
    }
}
