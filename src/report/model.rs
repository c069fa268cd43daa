//! The one report model every renderer reads. Serialisable: the JSON report is this model,
//! versioned by [`SCHEMA_VERSION`]; field names are a public interface.

use crate::client::StatsSnapshot;
use crate::exit::Exit;
use crate::verdict::{fmt_score, Aggregate, Status};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Bumped on any incompatible change to the JSON report.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole result of one gate invocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: String,
    pub version: String,
    /// `passed`, `failed`, `usage`, `rejected`, `incomplete`, `interrupted` or `terminated`.
    pub verdict: Exit,
    pub exit_code: u8,
    /// A gate-level problem (suite not found, usage error), when there was one.
    pub message: Option<String>,
    /// The global threshold; cases may override it.
    pub threshold: f64,
    pub aggregate: Aggregate,
    pub trials: u32,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub base_url: String,
    pub counts: Counts,
    pub requests: StatsSnapshot,
    pub warnings: Vec<String>,
    /// Every selected case, in selection order.
    pub cases: Vec<CaseReport>,
}

/// Case counts by status. `non_blocking` counts quarantined cases (also counted by status).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub errored: usize,
    pub rejected: usize,
    pub incomplete: usize,
    pub cancelled: usize,
    pub non_blocking: usize,
}

impl Counts {
    pub fn from_cases(cases: &[CaseReport]) -> Counts {
        let mut counts = Counts {
            total: cases.len(),
            ..Counts::default()
        };
        for case in cases {
            let slot = match case.status {
                Status::Passed => &mut counts.passed,
                Status::Failed => &mut counts.failed,
                Status::Errored => &mut counts.errored,
                Status::Rejected => &mut counts.rejected,
                Status::Incomplete => &mut counts.incomplete,
                Status::Cancelled => &mut counts.cancelled,
            };
            *slot += 1;
            if !case.blocking {
                counts.non_blocking += 1;
            }
        }
        counts
    }
}

/// One selected test case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseReport {
    pub test_case_id: String,
    pub name: Option<String>,
    pub suite_id: Option<String>,
    pub suite_name: Option<String>,
    pub status: Status,
    /// False for quarantined cases: reported, never failing the gate.
    pub blocking: bool,
    /// The config file's `note` for this case (for example why it is quarantined).
    pub note: Option<String>,
    /// The case's score: the aggregate of its trials' scores.
    pub score: Option<f64>,
    pub threshold: f64,
    /// Why the case did not pass, in one line.
    pub reason: Option<String>,
    /// The judge's feedback (of the trial that explains the status).
    pub feedback: Option<String>,
    /// Kapso's error message, when the run crashed.
    pub error: Option<String>,
    pub run_id: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// The simulated conversation as Kapso sent it.
    pub conversation: Option<Value>,
    /// Highest minus lowest trial score, when more than one trial scored.
    pub score_spread: Option<f64>,
    /// Score of this case in the baseline report, and the change against it.
    pub baseline_score: Option<f64>,
    pub delta: Option<f64>,
    pub trials: Vec<TrialReport>,
}

impl CaseReport {
    /// Each trial's score (or status), when the case ran more than one trial.
    pub fn trial_scores(&self) -> Option<String> {
        (self.trials.len() > 1).then(|| {
            self.trials
                .iter()
                .map(|t| t.score.map(fmt_score).unwrap_or_else(|| t.status.name().to_owned()))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// One line with what the score alone does not say: the trials and their spread, and the
    /// change against the baseline. Every human-facing renderer shows it.
    pub fn score_details(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(scores) = self.trial_scores() {
            parts.push(format!("trials {scores}"));
        }
        if let Some(spread) = self.score_spread {
            parts.push(format!("spread {}", fmt_score(spread)));
        }
        if let (Some(base), Some(delta)) = (self.baseline_score, self.delta) {
            parts.push(format!("baseline {}, change {}", fmt_score(base), fmt_delta(delta)));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// `Name (test case ID)`, or the ID alone when the case has no name of its own. `part`
    /// shapes each piece for its surface (sanitising, truncation).
    pub fn label_with(&self, part: impl Fn(&str) -> String) -> String {
        let name = part(self.display_name());
        if self.display_name() == self.test_case_id {
            name
        } else {
            format!("{name} ({})", part(&self.test_case_id))
        }
    }

    /// The table's details: [`CaseReport::score_details`] and the config note, which `note`
    /// shapes for its surface. Empty when there is nothing to add.
    pub fn details_with(&self, note: impl Fn(&str) -> String) -> String {
        let mut parts: Vec<String> = self.score_details().into_iter().collect();
        if let Some(text) = &self.note {
            parts.push(format!("note: {}", note(text)));
        }
        parts.join("; ")
    }

    /// What to call the case in human-facing output.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(&self.test_case_id)
    }
}

/// One run of a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialReport {
    pub trial: usize,
    pub run_id: Option<String>,
    pub status: Status,
    pub score: Option<f64>,
    pub reason: Option<String>,
    pub feedback: Option<String>,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub conversation: Option<Value>,
}

impl TrialReport {
    /// A trial with no run result: only its status, and why.
    pub fn without_result(trial: usize, status: Status, run_id: Option<String>, reason: Option<String>) -> TrialReport {
        TrialReport {
            trial,
            run_id,
            status,
            score: None,
            reason,
            feedback: None,
            error: None,
            started_at: None,
            ended_at: None,
            duration_ms: None,
            conversation: None,
        }
    }
}

impl Report {
    /// Cases ordered for people: non-passing first (most serious first), then selection order.
    pub fn cases_by_importance(&self) -> Vec<&CaseReport> {
        let mut cases: Vec<&CaseReport> = self.cases.iter().collect();
        cases.sort_by_key(|c| (c.status.severity_rank(), !c.blocking));
        cases
    }
}

/// A signed score change: `+0.05`, `-0.1`, `0`.
pub fn fmt_delta(delta: f64) -> String {
    let text = fmt_score(delta.abs());
    if text == "0" {
        text
    } else if delta < 0.0 {
        format!("-{text}")
    } else {
        format!("+{text}")
    }
}
