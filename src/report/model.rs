//! The one report model every renderer reads. Serialisable: the JSON report is this model,
//! versioned by [`SCHEMA_VERSION`]; field names are a public interface.

use super::text::{self, fmt_delta, fmt_score};
use crate::domain::exit::Exit;
use crate::domain::time::Timestamp;
use crate::policy::regression_gate::Outcome;
use crate::policy::verdict::{Aggregate, Status};
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
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub duration_ms: u64,
    pub base_url: String,
    /// The shard this report covers (`--shard`); null for a whole selection, merged ones
    /// included. Absent from reports of earlier versions.
    #[serde(default)]
    pub shard: Option<ShardRecord>,
    /// The sample this report covers (`--sample`); null when every selected case ran. Absent
    /// from reports of earlier versions.
    #[serde(default)]
    pub sample: Option<SampleRecord>,
    /// What produced this report: the commit, the selection, the verdict settings, the
    /// baseline. Additive: absent from reports of earlier versions.
    #[serde(flatten)]
    pub binding: Binding,
    pub counts: Counts,
    pub requests: RequestCounts,
    /// Test runs this invocation created (re-attached runs not included). Absent from reports
    /// of earlier versions.
    #[serde(default)]
    pub runs_created: u64,
    pub warnings: Vec<String>,
    /// The run against its baseline (`--baseline`): counts, the suite, the flips; null without
    /// a baseline. Absent from reports of earlier versions.
    #[serde(default)]
    pub regression_summary: Option<RegressionSummary>,
    /// Every selected case, in selection order.
    pub cases: Vec<CaseReport>,
}

/// What a report is bound to, so that a reader (`--merge`, `--rerun-failed`, `--baseline`) can
/// tell a report of this commit, selection and settings from a stale or foreign one. Every field
/// is null when unknown (a usage error knows none of them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// The commit under test (`--commit`, `KAPSO_COMMIT`, or the CI's variable).
    #[serde(default)]
    pub commit: Option<String>,
    /// The whole resolved selection, even in a shard's report.
    #[serde(default)]
    pub selection: Option<SelectionRecord>,
    /// SHA-256 of every setting that changes a verdict (see `settings::digest`).
    #[serde(default)]
    pub settings_digest: Option<String>,
    /// The verdict settings a reader needs to re-derive each case's status.
    #[serde(default)]
    pub policy: Option<PolicyRecord>,
    /// The baseline report this run was compared with.
    #[serde(default)]
    pub baseline: Option<BaselineRecord>,
}

/// The whole resolved selection: its digest ([`crate::input::shard::selection_digest`]) and its cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectionRecord {
    pub digest: String,
    pub cases: Vec<String>,
}

/// The run-wide verdict settings beyond `threshold`, `aggregate` and each case's threshold and
/// trials spec: what re-deriving a status from the trials needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub confidence: f64,
    /// `estimate` or `fail`.
    pub inconclusive: String,
    pub max_drop: Option<f64>,
}

/// Which baseline a run was compared with: its commit and when it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineRecord {
    /// The baseline report's commit; null when it recorded none.
    pub commit: Option<String>,
    /// The baseline report's `finished_at`.
    pub recorded_at: String,
    /// How long before this run started the baseline was recorded; null when unknown or when
    /// the baseline is from the future.
    pub age_ms: Option<u64>,
    /// The age past which every report warns (`--baseline-max-age`). Absent from earlier
    /// reports.
    #[serde(default)]
    pub max_age_ms: Option<u64>,
}

/// Which part of the selection a shard's report covers, and what that selection was, so that
/// `--merge` can check the reports belong together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// 1 to `total`.
    pub index: u32,
    pub total: u32,
    /// Cases in the whole resolved selection (every shard); null when it was never resolved.
    pub selected: Option<usize>,
    /// [`crate::input::shard::selection_digest`] of the whole resolved selection; null likewise.
    pub selection_digest: Option<String>,
}

impl ShardRecord {
    /// `K/N`, as people and the CLI write it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.index, self.total)
    }
}

/// Which cases `--sample` ran: `size` of the `of` selected cases; the rest are listed, and are
/// not failures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleRecord {
    pub size: usize,
    pub of: usize,
    /// The selected cases the sample left out, in selection order.
    pub left_out: Vec<String>,
}

impl SampleRecord {
    /// `sample of 5 of the 40 selected cases`, for every human-facing renderer.
    pub fn label(&self) -> String {
        format!("sample of {} of the {} selected cases", self.size, self.of)
    }
}

/// What the gate sent to Kapso.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCounts {
    /// Requests sent, retries included.
    pub sent: u64,
    /// Requests that repeated an earlier failed one.
    pub retried: u64,
    /// 429 responses received.
    pub rate_limited: u64,
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

/// A confidence interval for a case's mean score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IntervalRecord {
    pub lower: f64,
    pub upper: f64,
    /// Its confidence, e.g. 0.95.
    pub confidence: f64,
    /// `sequential` (anytime-valid, for MIN..MAX trials) or `fixed` (for a fixed number).
    pub kind: IntervalKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalKind {
    Sequential,
    Fixed,
}

/// The one end of a MIN..MAX case's interval that its reports quote: the end the bets aimed
/// at, a one-sided bound at the confidence (the lower end for a pass or a mean at or above the
/// threshold, the upper end otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoundRecord {
    /// `lower`: the mean is at least `value`; `upper`: the mean is at most `value`.
    pub side: BoundSide,
    pub value: f64,
    /// Its confidence, e.g. 0.95: the chance that the true mean is on the wrong side of
    /// `value` is at most `1 - confidence`.
    pub confidence: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundSide {
    Lower,
    Upper,
}

/// Whether a MIN..MAX case's verdict was certain at the confidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Certainty {
    Certain,
    Inconclusive,
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
    /// The case's trials spec, `N` or `MIN..MAX`. Absent from reports of earlier versions.
    #[serde(default)]
    pub trials_spec: Option<String>,
    /// Why the case did not pass, in one line.
    pub reason: Option<String>,
    /// The judge's feedback (of the trial that explains the status).
    pub feedback: Option<String>,
    /// Kapso's error message, when the run crashed.
    pub error: Option<String>,
    pub run_id: Option<String>,
    /// True when the case passed in the report given to `--rerun-failed` and was not run
    /// again: everything else here (run IDs included) is that report's.
    #[serde(default)]
    pub carried_over: bool,
    /// The confidence interval of the mean score (two or more scored trials, or MIN..MAX
    /// trials); null otherwise. Absent from reports of earlier versions.
    #[serde(default)]
    pub interval: Option<IntervalRecord>,
    /// For MIN..MAX trials: `certain` when the interval left the threshold before MAX trials,
    /// `inconclusive` when MAX was reached first; null otherwise. Absent from earlier reports.
    #[serde(default)]
    pub decision: Option<Certainty>,
    /// For MIN..MAX trials: the end of the interval the verdict rests on. Absent from earlier
    /// reports.
    #[serde(default)]
    pub bound: Option<BoundRecord>,
    /// True when the case failed because it was still inconclusive at MAX and
    /// `--inconclusive fail` was given. Absent from earlier reports.
    #[serde(default)]
    pub failed_inconclusive: bool,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub duration_ms: Option<u64>,
    /// The simulated conversation as Kapso sent it.
    pub conversation: Option<Value>,
    /// Highest minus lowest trial score, when more than one trial scored.
    pub score_spread: Option<f64>,
    /// Score of this case in the baseline report, and the change against it.
    pub baseline_score: Option<f64>,
    pub delta: Option<f64>,
    /// SHA-256 of the case's definition (name, script, rubric) as its runs embedded it; null
    /// when no run embedded it. Absent from earlier reports.
    #[serde(default)]
    pub definition_digest: Option<String>,
    /// The case against its baseline (`--baseline`); null without one. Absent from earlier
    /// reports.
    #[serde(default)]
    pub regression: Option<RegressionRecord>,
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
        if let Some(sentence) = self.certainty_sentence() {
            parts.push(sentence);
        } else if let Some(interval) = &self.interval {
            // A fixed number of trials: a two-sided interval, both ends meant.
            parts.push(format!(
                "{} % interval [{}, {}]",
                fmt_score(interval.confidence * 100.0),
                fmt_score(interval.lower),
                fmt_score(interval.upper)
            ));
        }
        if let (Some(base), Some(delta)) = (self.baseline_score, self.delta) {
            parts.push(format!("baseline {}, change {}", fmt_score(base), fmt_delta(delta)));
        }
        if let Some(regression) = &self.regression {
            parts.push(regression.phrase());
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// For MIN..MAX trials, what the verdict rests on in words a reader acts on (see
    /// [`text::certainty_sentence`]); `None` for other cases.
    pub fn certainty_sentence(&self) -> Option<String> {
        let decision = self.decision?;
        let bound = self.bound?;
        let mean = self.score?;
        Some(text::certainty_sentence(&text::CertaintyFacts {
            certain: decision == Certainty::Certain,
            mean,
            threshold: self.threshold,
            trials: self.trials.iter().filter(|t| t.score.is_some()).count(),
            bound: (bound.side, bound.value),
            confidence: bound.confidence,
            failed_inconclusive: self.failed_inconclusive,
        }))
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
        if self.carried_over {
            parts.push("carried over (passed in the --rerun-failed report)".to_owned());
        }
        if let Some(text) = &self.note {
            parts.push(format!("note: {}", note(text)));
        }
        parts.join("; ")
    }

    /// What to call the case in human-facing output.
    pub fn display_name(&self) -> &str {
        text::display_name(self.name.as_deref(), &self.test_case_id)
    }

    /// Kapso's error, when the reason does not already say it.
    pub fn error_beyond_reason(&self) -> Option<&str> {
        text::error_beyond_reason(self.error.as_deref(), self.reason.as_deref())
    }
}

/// One case against its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionRecord {
    /// `held`, `regressed`, `inconclusive`, `not_comparable` or `no_baseline`.
    pub decision: Outcome,
    /// True when the anytime-valid confidence sequence decided (two or more scores on each
    /// side); false when the raw drop of the means decided (one score on a side) or nothing
    /// was compared.
    pub statistical: bool,
    /// True when the decision can fail the case (`--max-drop` given); false when it is shown
    /// only (margin 0).
    pub gated: bool,
    /// The margin δ (`--max-drop`, 0 when not given).
    pub margin: f64,
    pub confidence: f64,
    pub baseline_mean: Option<f64>,
    /// Today's mean over the scored trials.
    pub mean: Option<f64>,
    /// `mean - baseline_mean`: negative is a drop.
    pub difference: Option<f64>,
    /// Bounds on the true difference, each one-sided at `confidence`; null without a
    /// statistical claim.
    pub interval: Option<DifferenceInterval>,
    /// The case's status in the baseline report; null when the baseline does not have the case.
    pub baseline_status: Option<Status>,
    /// The baseline's trial scores: what a reader needs to re-derive the decision.
    pub baseline_scores: Vec<f64>,
    /// The baseline's fingerprint of the case's definition.
    pub baseline_definition_digest: Option<String>,
}

/// Bounds on a difference of means.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DifferenceInterval {
    pub lower: f64,
    pub upper: f64,
    pub confidence: f64,
}

/// The whole run against its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionSummary {
    pub margin: f64,
    pub confidence: f64,
    pub gated: bool,
    pub held: usize,
    pub regressed: usize,
    pub inconclusive: usize,
    pub not_comparable: usize,
    pub no_baseline: usize,
    /// Cases that failed in the baseline and pass now.
    pub fixed: usize,
    /// The blocking cases both reports share with a statistical claim; null without one.
    pub suite: Option<SuiteRecord>,
    /// Cases that passed in the baseline and fail now, and the other way round.
    pub flips: Vec<FlipRecord>,
}

/// The suite's mean difference over the shared cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteRecord {
    /// `held`, `regressed` or `inconclusive`.
    pub decision: Outcome,
    /// How many cases the mean is over.
    pub cases: usize,
    pub mean_difference: f64,
    pub interval: Option<DifferenceInterval>,
}

/// A case whose verdict changed against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlipRecord {
    pub test_case_id: String,
    pub name: Option<String>,
    /// `regressed` (passed in the baseline, fails now) or `fixed`.
    pub direction: FlipDirection,
    pub baseline_status: Status,
    pub status: Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlipDirection {
    Regressed,
    Fixed,
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
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
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

/// GitHub shows at most this many error annotations per step (and as many warnings).
pub const MAX_ANNOTATIONS: usize = 10;

impl Report {
    /// Cases ordered for people: non-passing first (most serious first), then selection order.
    pub fn cases_by_importance(&self) -> Vec<&CaseReport> {
        let mut cases: Vec<&CaseReport> = self.cases.iter().collect();
        cases.sort_by_key(|c| (c.status.severity_rank(), !c.blocking));
        cases
    }

    /// The cases that did not pass, most serious first, selection order within a status.
    pub fn non_passing(&self) -> Vec<&CaseReport> {
        let mut cases: Vec<&CaseReport> = self.cases.iter().filter(|c| c.status != Status::Passed).collect();
        cases.sort_by_key(|c| c.status.severity_rank());
        cases
    }

    /// The gate-level problem worth telling on its own (usage error, suite not found, ...).
    pub fn gate_message(&self) -> Option<&str> {
        self.message
            .as_deref()
            .filter(|_| self.verdict.code() != 0)
            .filter(|m| !m.trim().is_empty())
    }

    /// The non-passing cases that get a GitHub annotation, most important first, and how many
    /// more there are. Blocking cases get errors, non-blocking ones warnings; each kind is
    /// capped at [`MAX_ANNOTATIONS`], and a gate-level message takes one of the error slots.
    /// The step summary says how many were left out, so the rule lives with the model.
    pub fn annotated_cases(&self) -> (Vec<&CaseReport>, usize) {
        let (mut errors, mut warnings): (Vec<&CaseReport>, Vec<&CaseReport>) =
            self.non_passing().into_iter().partition(|c| c.blocking);
        let error_slots = MAX_ANNOTATIONS - usize::from(self.gate_message().is_some());
        let omitted = errors.len().saturating_sub(error_slots) + warnings.len().saturating_sub(MAX_ANNOTATIONS);
        errors.truncate(error_slots);
        warnings.truncate(MAX_ANNOTATIONS);
        errors.extend(warnings);
        (errors, omitted)
    }

    /// One line on what part of the selection this report covers, when it is a shard's:
    /// `shard 2/3: 20 of the 61 selected cases`. Every human-facing renderer shows it.
    pub fn shard_summary(&self) -> Option<String> {
        let shard = self.shard.as_ref()?;
        let of = match shard.selected {
            Some(selected) => format!("{} of the {selected} selected cases", self.cases.len()),
            None => format!("{} cases", self.cases.len()),
        };
        Some(format!("shard {}: {of}", shard.label()))
    }

    /// `42 runs`: the test runs this invocation created, as every summary says it.
    pub fn runs_label(&self) -> String {
        match self.runs_created {
            1 => "1 run".to_owned(),
            n => format!("{n} runs"),
        }
    }

    /// One line on the baseline this run was compared with: its commit and age. `part` shapes
    /// the commit (untrusted text) for its surface. Every human-facing renderer shows it.
    pub fn baseline_summary_with(&self, part: impl Fn(&str) -> String) -> Option<String> {
        let baseline = self.binding.baseline.as_ref()?;
        let commit = baseline.commit.as_deref().map_or_else(|| "unknown".to_owned(), &part);
        let age = baseline.age_ms.map_or_else(
            || "age unknown".to_owned(),
            |ms| format!("{} old", text::fmt_age(std::time::Duration::from_millis(ms))),
        );
        Some(format!(
            "baseline: commit {commit}, recorded {} ({age})",
            part(&baseline.recorded_at)
        ))
    }

    /// Run IDs still executing on Kapso (there is no cancel endpoint), for the user to look up.
    pub fn still_running(&self) -> Vec<&str> {
        self.cases
            .iter()
            .filter(|c| matches!(c.status, Status::Incomplete | Status::Cancelled))
            .flat_map(|c| c.trials.iter())
            .filter(|t| matches!(t.status, Status::Incomplete | Status::Cancelled))
            .filter_map(|t| t.run_id.as_deref())
            .collect()
    }
}

/// The result of `--dry-run`: what a real run would do, and whether each case can run.
#[derive(Debug, Clone)]
pub struct DryRunReport {
    pub cases: Vec<DryRunCase>,
    /// Requests the dry run itself sent.
    pub requests_sent: u64,
    /// Suite and agent lookups a real run needs.
    pub lookups: usize,
    /// Runs a real run creates at the least (each case's MIN trials).
    pub runs: usize,
    /// Runs a real run creates at the most (each case's MAX trials).
    pub max_runs: usize,
    /// Runs a real run is expected to create (see [`crate::run::spend`] for the assumption).
    pub expected_runs: f64,
    /// The run cap (`--max-runs`, a shard's share), when there is one.
    pub run_cap: Option<usize>,
    /// The sample the dry run covers, when `--sample` left cases out.
    pub sample: Option<SampleRecord>,
    /// Requests per `rate_window`; 0 = no client-side limit.
    pub rate_limit: u32,
    pub rate_window: std::time::Duration,
    /// The least time a real run's requests take under the rate budget.
    pub min_time: std::time::Duration,
    pub exit: Exit,
    pub message: Option<String>,
}

impl DryRunReport {
    /// Requests a real run needs at the least: lookups, one creation and one poll per run.
    pub fn min_requests(&self) -> usize {
        self.lookups + 2 * self.runs
    }
}

/// One case of a dry run.
#[derive(Debug, Clone)]
pub struct DryRunCase {
    pub test_case_id: String,
    pub name: Option<String>,
    pub trials: crate::policy::confidence::Trials,
    pub threshold: f64,
    /// For MIN..MAX trials: the least trials that can make a pass, and a fail, certain.
    pub least_trials: Option<crate::policy::confidence::LeastTrials>,
    pub blocking: bool,
    /// `Err` when the case cannot be run: not found, key refused, or could not be checked.
    pub check: Result<(), (crate::domain::outcome::FailureKind, String)>,
}
