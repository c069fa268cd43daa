//! A baseline: the per-case scores of an earlier JSON report (for example the main branch's
//! last green run), to compare this run's scores with, and which commit and time it records.
//! Read through the one report reader ([`crate::report::read`]).

use crate::policy::regression_gate::BaselineCase;
use crate::policy::verdict::Status;
use crate::report::read::{self, Named, ReadError};
use crate::report::BaselineRecord;
use std::collections::HashMap;
use std::path::Path;

/// Why a baseline cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--baseline: {0}")]
pub struct BaselineError(#[from] pub ReadError);

/// Scores by test case ID, and what the baseline is bound to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Baseline {
    scores: HashMap<String, f64>,
    /// Every case of the baseline report: what the regression gate compares.
    cases: HashMap<String, Entry>,
    commit: Option<String>,
    recorded_at: String,
}

/// One case of the baseline report.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub status: Status,
    /// Its trials' scores, in trial order (trials without a score left out).
    pub trial_scores: Vec<f64>,
    pub definition_digest: Option<String>,
}

impl Entry {
    /// The entry as the regression rules read it.
    pub fn case(&self) -> BaselineCase<'_> {
        BaselineCase {
            scores: &self.trial_scores,
            definition_digest: self.definition_digest.as_deref(),
        }
    }
}

impl Baseline {
    /// Reads a JSON report written by `--json`.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        Ok(Baseline::from_report(read::read(path)?))
    }

    /// The baseline of a report already read (its statuses checked).
    pub fn from_report(named: Named) -> Baseline {
        let report = named.report;
        let scores = report
            .cases
            .iter()
            .filter_map(|case| Some((case.test_case_id.clone(), case.score?)))
            .collect();
        let cases = report
            .cases
            .iter()
            .map(|case| {
                let entry = Entry {
                    status: case.status,
                    trial_scores: case.trials.iter().filter_map(|t| t.score).collect(),
                    definition_digest: case.definition_digest.clone(),
                };
                (case.test_case_id.clone(), entry)
            })
            .collect();
        Baseline {
            scores,
            cases,
            commit: report.binding.commit,
            recorded_at: report.finished_at.to_string(),
        }
    }

    /// The baseline score of a case, when it had one.
    pub fn score(&self, case_id: &str) -> Option<f64> {
        self.scores.get(case_id).copied()
    }

    /// The baseline's record of a case, when the report has the case.
    pub fn entry(&self, case_id: &str) -> Option<&Entry> {
        self.cases.get(case_id)
    }

    /// Every score, sorted by case ID: what the settings digest binds when `--max-drop` makes
    /// the baseline decide verdicts.
    pub fn sorted_scores(&self) -> Vec<(&str, f64)> {
        let mut scores: Vec<(&str, f64)> = self.scores.iter().map(|(id, s)| (id.as_str(), *s)).collect();
        scores.sort_by(|a, b| a.0.cmp(b.0));
        scores
    }

    /// What the report records of this baseline (its age is filled in when the report is built).
    pub fn record(&self) -> BaselineRecord {
        BaselineRecord {
            commit: self.commit.clone(),
            recorded_at: self.recorded_at.clone(),
            age_ms: None,
            max_age_ms: None,
        }
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::verdict::Status;
    use crate::report::json;
    use crate::report::test_fixtures::{case, report};

    #[test]
    fn reads_scores_commit_and_time_of_a_report() {
        let mut earlier = report(vec![case("a", Status::Passed), case("b", Status::Errored)]);
        earlier.binding.commit = Some("abc123".into());
        let named = read::parse("base.json", &json::render(&earlier)).expect("valid");
        let baseline = Baseline::from_report(named);
        assert_eq!(baseline.score("a"), Some(0.9));
        assert_eq!(baseline.score("b"), None);
        assert_eq!(baseline.len(), 1);
        let record = baseline.record();
        assert_eq!(record.commit.as_deref(), Some("abc123"));
        assert_eq!(record.recorded_at, "2026-01-01T10:00:20.000Z");
    }
}
