//! The gate's domain results, independent of Kapso's wire format and of the report: a finished
//! run as the verdict rules read it, why a trial has no run result, and how each trial ended.
//! A leaf: the client maps its wire types into these, the scheduler produces them, the verdict
//! rules judge them, and the report builder turns them into the report model.

use crate::domain::time::Timestamp;
use serde_json::Value;
use std::time::SystemTime;

/// A run that Kapso says is finished (completed, or crashed with an error).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FinishedRun {
    pub id: String,
    pub score: Option<f64>,
    /// Set when `score` was present but not a number (kept to explain the verdict).
    pub score_raw: Option<String>,
    pub feedback: Option<String>,
    /// Kapso's error message, when the run crashed.
    pub error: Option<String>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub conversation: Option<Value>,
    /// The name of the test case, as the run embeds it.
    pub case_name: Option<String>,
    /// The fingerprint of the case's definition as the run embeds it (name, script, rubric;
    /// see [`crate::domain::digest::definition_digest`]); `None` when the run embeds no case.
    pub definition_digest: Option<String>,
}

/// Why a request about a case yielded no run result. The verdict rules map each kind to a
/// status and an exit; the dry run shows it as a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// Kapso refused the API key or the account (401, 402): nothing more is sent.
    KeyRefused,
    /// The test case, suite or agent does not exist (404).
    NotFound,
    /// Kapso refused the request for good (another 4xx, a redirect).
    Rejected,
    /// No answer could be had: network errors, 5xx or 429 after retries, the deadline.
    Unavailable,
    /// The gate was stopped by a signal first.
    Cancelled,
}

/// Why the gate was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGINT on Unix (Ctrl-C, a cancelled GitHub job); Ctrl-C on Windows.
    Sigint,
    /// SIGTERM on Unix; Ctrl-Break or a console close on Windows.
    Sigterm,
}

impl Interrupt {
    pub const fn name(self) -> &'static str {
        match self {
            Interrupt::Sigint => "SIGINT",
            Interrupt::Sigterm => "SIGTERM",
        }
    }
}

/// How one trial ended, before any threshold is applied.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialResult {
    /// The run finished (completed or crashed): the verdict rules judge it.
    Finished(Box<FinishedRun>),
    /// No run result, and why.
    NoResult { kind: FailureKind, reason: String },
}

/// One trial's outcome, with the times the report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialOutcome {
    pub run_id: Option<String>,
    pub result: TrialResult,
    /// When the gate got the run ID (or re-attached).
    pub created_at: Option<SystemTime>,
    /// When the gate saw the run finished.
    pub seen_finished_at: Option<SystemTime>,
}

impl TrialOutcome {
    /// An outcome without a run result.
    pub fn no_result(run_id: Option<String>, kind: FailureKind, reason: String) -> TrialOutcome {
        TrialOutcome {
            run_id,
            result: TrialResult::NoResult { kind, reason },
            created_at: None,
            seen_finished_at: None,
        }
    }
}
