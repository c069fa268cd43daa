//! The verdict rules, in one place every other part asks: what a finished run means, how the
//! trials of a case combine, and which exit code a set of cases earns.

use crate::domain::exit::Exit;
use crate::domain::outcome::{FailureKind, FinishedRun, Interrupt, TrialOutcome, TrialResult};
use crate::domain::score::fmt_score;
use crate::policy::confidence::{fixed_interval, Decision, Inconclusive, Interval, Sequential, Trials};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What happened to one case (or one trial of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Finished, no error, numeric score at or above the threshold.
    Passed,
    /// Finished with a numeric score below the threshold.
    Failed,
    /// Finished with a Kapso error, or without a numeric score.
    Errored,
    /// Kapso refused a request for it in a way a retry cannot fix.
    Rejected,
    /// No verdict for a transient reason: deadline, network errors, 429/5xx after retries.
    Incomplete,
    /// The gate was interrupted before the case was decided.
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Passed,
        Status::Failed,
        Status::Errored,
        Status::Rejected,
        Status::Incomplete,
        Status::Cancelled,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Errored => "errored",
            Status::Rejected => "rejected",
            Status::Incomplete => "incomplete",
            Status::Cancelled => "cancelled",
        }
    }

    /// Lower sorts first in reports: the most important problems lead.
    pub const fn severity_rank(self) -> u8 {
        match self {
            Status::Failed => 0,
            Status::Errored => 1,
            Status::Rejected => 2,
            Status::Incomplete => 3,
            Status::Cancelled => 4,
            Status::Passed => 5,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Scores, thresholds and score changes are compared as decimals with this many places, so a
/// mean of 0.9, 0.6 and 0.9 is exactly 0.8 (binary floating point makes it 0.7999999999999999).
/// Kapso sends two decimals; nine leave room for any scale and any mean of many trials.
const DECIMALS: usize = 9;

/// 10^DECIMALS: one in decimal units.
const ONE: i128 = 1_000_000_000;

/// The largest magnitude of a score, threshold, baseline or drop the gate compares. Kapso's
/// scales are 0 to 1 and 0 to 10; anything beyond this bound is not a judge's score. Within it
/// a value has at most 10^15 decimal units: a decimal of nine places and at most 15 significant
/// digits, which survives the trip through the f64 the report carries (an aggregate judged
/// again, against a baseline, is the same decimal), and sums, doubling and differences stay far
/// inside `i128`.
pub const SCORE_LIMIT: f64 = 1e6;

/// `value` in units of 10^-DECIMALS, rounded to the nearest with halves away from zero,
/// computed exactly from the binary value (no floating-point multiplication, so no double
/// rounding); `None` when the value is not finite or its magnitude exceeds [`SCORE_LIMIT`].
fn units(value: f64) -> Option<i128> {
    if !value.is_finite() || value.abs() > SCORE_LIMIT {
        return None;
    }
    // value = mantissa * 2^exponent, exactly (IEEE 754 binary64 fields).
    let bits = value.to_bits();
    let biased = i32::from(u16::try_from((bits >> 52) & 0x7ff).ok()?);
    let fraction = bits & ((1u64 << 52) - 1);
    let (mantissa, exponent) = match biased {
        0 => (fraction, -1074),
        _ => (fraction | (1u64 << 52), biased - 1075),
    };
    // Below 2^53 * 2^30: no overflow.
    let scaled = i128::from(mantissa).checked_mul(ONE)?;
    let magnitude = match u32::try_from(-exponent) {
        // Unreachable within SCORE_LIMIT (a normal value has a mantissa of at least 2^52).
        Err(_) => scaled.checked_mul(1i128.checked_shl(u32::try_from(exponent).ok()?)?)?,
        // Below 2^84: a shift of more than 85 leaves less than half a unit.
        Ok(shift) if shift > 100 => 0,
        Ok(0) => scaled,
        Ok(shift) => {
            let whole = scaled >> shift;
            let rest = scaled - (whole << shift);
            whole + i128::from(rest >= 1i128 << (shift - 1))
        }
    };
    Some(if value.is_sign_negative() {
        -magnitude
    } else {
        magnitude
    })
}

/// The `f64` nearest to `units` decimal units: the decimal is written out and parsed, which is
/// correctly rounded (a division in floating point would round twice).
fn from_units(units: i128) -> Option<f64> {
    let sign = if units < 0 { "-" } else { "" };
    let magnitude = units.checked_abs()?;
    format!("{sign}{}.{:0DECIMALS$}", magnitude / ONE, magnitude % ONE)
        .parse()
        .ok()
}

/// `numerator / denominator` rounded to the nearest unit (halves away from zero); `None` on
/// overflow or a denominator that is not positive.
fn divide_rounded(numerator: i128, denominator: i128) -> Option<i128> {
    if denominator <= 0 {
        return None;
    }
    let twice = numerator.checked_mul(2)?;
    let sign = if twice < 0 { -1 } else { 1 };
    twice
        .checked_add(sign * denominator)?
        .checked_div(denominator.checked_mul(2)?)
}

/// Whether the gate can compare `value` as a score, threshold, baseline or drop: finite and at
/// most [`SCORE_LIMIT`] in magnitude. Every other value fails closed.
pub fn comparable(value: f64) -> bool {
    units(value).is_some()
}

/// Whether `score` meets `threshold` (inclusive), compared as decimals. The one comparison
/// every rule and every renderer uses, so that a score shown as passing is a score judged as
/// passing. A value out of range never meets anything.
pub fn meets(score: f64, threshold: f64) -> bool {
    matches!((units(score), units(threshold)), (Some(s), Some(t)) if s >= t)
}

/// Whether a score fell from `base` to `score` by more than `max_drop`, compared as decimals,
/// so a drop of exactly `max_drop` passes; `None` when a value is out of range.
pub fn dropped_more_than(base: f64, score: f64, max_drop: f64) -> Option<bool> {
    let drop = units(base)?.checked_sub(units(score)?)?;
    Some(drop > units(max_drop)?)
}

/// How an out-of-range value is shown: as sent when known, else in scientific notation (a
/// plain rendering of 1e308 is 309 digits long).
fn out_of_range(value: f64, raw: Option<&str>) -> String {
    raw.map_or_else(|| format!("{value:e}"), str::to_owned)
}

/// A finished run judged against a threshold: its status and, when it did not pass, why.
pub fn judge_run(run: &FinishedRun, threshold: f64) -> (Status, Option<String>) {
    if let Some(error) = &run.error {
        return (Status::Errored, Some(format!("Kapso reported an error: {error}")));
    }
    match (run.score, &run.score_raw) {
        (Some(score), raw) if !comparable(score) => (
            Status::Errored,
            Some(format!(
                "score out of range: {} (scores are compared from -{SCORE_LIMIT:e} to {SCORE_LIMIT:e})",
                out_of_range(score, raw.as_deref())
            )),
        ),
        (Some(score), _) if meets(score, threshold) => (Status::Passed, None),
        (Some(score), _) => (
            Status::Failed,
            Some(format!(
                "score {} is below the threshold {}",
                fmt_score(score),
                fmt_score(threshold)
            )),
        ),
        (None, Some(raw)) => (
            Status::Errored,
            Some(format!("finished with a score that is not a number: {raw}")),
        ),
        (None, None) => (Status::Errored, Some("finished without a score".to_owned())),
    }
}

/// A trial's status and score, as the case rules read them.
pub fn trial_verdict(outcome: &TrialOutcome, threshold: f64) -> TrialVerdict {
    match &outcome.result {
        TrialResult::Finished(run) => TrialVerdict {
            status: judge_run(run, threshold).0,
            score: run.score.filter(|s| comparable(*s)),
        },
        TrialResult::NoResult { kind, .. } => TrialVerdict {
            status: failure_status(*kind),
            score: None,
        },
    }
}

/// The status of a trial that has no run result.
pub const fn failure_status(kind: FailureKind) -> Status {
    match kind {
        FailureKind::KeyRefused | FailureKind::NotFound | FailureKind::Rejected => Status::Rejected,
        FailureKind::Unavailable => Status::Incomplete,
        FailureKind::Cancelled => Status::Cancelled,
    }
}

/// The exit of a gate that stopped on a failure of `kind` before running anything (a suite or
/// agent lookup). Cancellation is decided by the signal, see [`interrupt_exit`].
pub const fn failure_exit(kind: FailureKind) -> Exit {
    match kind {
        FailureKind::KeyRefused | FailureKind::NotFound | FailureKind::Rejected => Exit::Rejected,
        FailureKind::Unavailable | FailureKind::Cancelled => Exit::Incomplete,
    }
}

/// The status every known case gets when the gate stops with `exit` before running it, so that
/// no selected case goes missing from the reports.
pub const fn unrun_status(exit: Exit) -> Status {
    match exit {
        Exit::Rejected => Status::Rejected,
        Exit::Interrupted | Exit::Terminated => Status::Cancelled,
        _ => Status::Incomplete,
    }
}

/// The exit once the reports are written: a gate that passed but could not write a requested
/// report exits incomplete, so a later step does not trip over a missing file without a reason.
pub const fn with_missing_reports(exit: Exit, missing: bool) -> Exit {
    match exit {
        Exit::Passed if missing => Exit::Incomplete,
        other => other,
    }
}

/// The exit a signal earns.
pub const fn interrupt_exit(interrupt: Interrupt) -> Exit {
    match interrupt {
        Interrupt::Sigint => Exit::Interrupted,
        Interrupt::Sigterm => Exit::Terminated,
    }
}

/// How the trials of one case combine into its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    #[default]
    Mean,
    Median,
    Min,
}

impl Aggregate {
    /// The aggregate of `scores`, computed in decimal units (see [`meets`]) so it lands on
    /// the decimal a person would compute; `None` without scores or when one is out of range.
    pub fn apply(self, scores: &[f64]) -> Option<f64> {
        let mut sorted: Vec<i128> = scores.iter().map(|s| units(*s)).collect::<Option<_>>()?;
        sorted.sort_unstable();
        let n = sorted.len();
        let units = match self {
            Aggregate::Mean => {
                let sum = sorted.iter().try_fold(0i128, |sum, s| sum.checked_add(*s))?;
                divide_rounded(sum, i128::try_from(n).ok()?)?
            }
            Aggregate::Min => *sorted.first()?,
            Aggregate::Median if n % 2 == 0 => {
                let (low, high) = (sorted.get((n / 2).checked_sub(1)?)?, sorted.get(n / 2)?);
                divide_rounded(low.checked_add(*high)?, 2)?
            }
            Aggregate::Median => *sorted.get(n / 2)?,
        };
        from_units(units)
    }

    /// Every aggregate, in the order `--help` lists them.
    pub const ALL: [Aggregate; 3] = [Aggregate::Mean, Aggregate::Median, Aggregate::Min];

    pub const fn name(self) -> &'static str {
        match self {
            Aggregate::Mean => "mean",
            Aggregate::Median => "median",
            Aggregate::Min => "min",
        }
    }
}

/// One trial's judged result, as the case rule needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrialVerdict {
    pub status: Status,
    pub score: Option<f64>,
}

/// A case's verdict from its trials.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseVerdict {
    pub status: Status,
    /// The aggregate of the trials' scores.
    pub score: Option<f64>,
    /// Highest minus lowest trial score, when more than one trial scored.
    pub spread: Option<f64>,
    /// The trial that explains the status: the first with the case's status, else the lowest
    /// score, else the first.
    pub representative: Option<usize>,
    /// Why a case of several trials failed, when the aggregate (not one trial) decided it.
    pub aggregate_reason: Option<String>,
    /// The confidence interval of the mean score, when the case has one (two or more scored
    /// trials, or MIN..MAX trials).
    pub interval: Option<Interval>,
    /// For MIN..MAX trials: the sequential decision (`Undecided` when the case reached MAX
    /// still uncertain). The report layer puts it in words.
    pub decision: Option<Decision>,
}

/// How certain a case's verdict must be: its trials spec, the confidence, and what an
/// inconclusive case counts as.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Certainty {
    pub trials: Trials,
    pub confidence: f64,
    pub inconclusive: Inconclusive,
}

/// The sequential decision over `scores` (in trial order), or `None` when a score lies outside
/// [0, 1] (a different scale: the scale warning says so, and the mean decides as before).
fn sequential(scores: &[f64], certainty: &Certainty, threshold: f64) -> Option<Sequential> {
    let mut sequence = Sequential::new(certainty.confidence, threshold)?;
    for score in scores {
        sequence.push(*score).ok()?;
    }
    Some(sequence)
}

/// Whether a case should get another trial: MIN not reached yet, or MIN..MAX trials still
/// uncertain and fewer than MAX created. `created` counts every run created for the case,
/// finished or not; `finished` holds the verdicts of its finished trials in trial order. A
/// trial without a score ends the trials: the case cannot pass any more.
pub fn wants_more_trials(certainty: &Certainty, created: u32, finished: &[TrialVerdict], threshold: f64) -> bool {
    if finished
        .iter()
        .any(|t| t.score.is_none() || t.status == Status::Errored)
    {
        return false;
    }
    let scores: Vec<f64> = finished.iter().filter_map(|t| t.score).collect();
    let decision = match certainty.trials {
        Trials::Fixed(_) => Decision::Undecided,
        Trials::Sequential { .. } => {
            sequential(&scores, certainty, threshold).map_or(Decision::Undecided, |s| s.decision())
        }
    };
    certainty.trials.wants_more(created, decision)
}

/// [`judge_case`], then the certainty rules: for MIN..MAX trials the sequential decision
/// decides (an inconclusive case by its mean, or failing with `--inconclusive fail`); for a
/// fixed number of two or more trials the interval is reported beside the mean.
pub fn judge_case_with(
    trials: &[TrialVerdict],
    aggregate: Aggregate,
    threshold: f64,
    certainty: &Certainty,
) -> CaseVerdict {
    let mut verdict = judge_case(trials, aggregate, threshold);
    let judged = matches!(verdict.status, Status::Passed | Status::Failed);
    let scores: Vec<f64> = trials.iter().filter_map(|t| t.score).collect();
    if !judged || scores.is_empty() {
        return verdict;
    }
    match certainty.trials {
        Trials::Fixed(_) => verdict.interval = fixed_interval(&scores, certainty.confidence),
        Trials::Sequential { .. } => {
            let Some(sequence) = sequential(&scores, certainty, threshold) else {
                return verdict;
            };
            verdict.interval = Some(sequence.interval());
            verdict.decision = Some(sequence.decision());
            // The reason is the report's certainty sentence (`report::text`).
            verdict.aggregate_reason = None;
            verdict.status = match (sequence.decision(), certainty.inconclusive) {
                (Decision::Pass, _) => Status::Passed,
                (Decision::Fail, _) | (Decision::Undecided, Inconclusive::Fail) => Status::Failed,
                // Judged by its mean, as with a fixed number of trials.
                (Decision::Undecided, Inconclusive::Estimate) => verdict.status,
            };
        }
    }
    verdict
}

/// Combines the trials of a case. A trial without a verdict (rejected, incomplete, cancelled)
/// leaves the case without one, the most serious such status winning; an errored trial fails
/// the case whatever the others scored; otherwise the aggregate score decides.
pub fn judge_case(trials: &[TrialVerdict], aggregate: Aggregate, threshold: f64) -> CaseVerdict {
    let scores: Vec<f64> = trials.iter().filter_map(|t| t.score).collect();
    let score = aggregate.apply(&scores);
    let unjudged = [Status::Errored, Status::Rejected, Status::Cancelled, Status::Incomplete]
        .into_iter()
        .find(|status| trials.iter().any(|t| t.status == *status));
    let all_scored = trials.len() == scores.len();
    let status = match (unjudged, score) {
        (Some(status), _) => status,
        (None, Some(s)) if all_scored && meets(s, threshold) => Status::Passed,
        (None, Some(_)) if all_scored => Status::Failed,
        _ => Status::Errored,
    };
    let spread = (scores.len() > 1).then(|| spread(&scores)).flatten();
    let representative = trials
        .iter()
        .position(|t| t.status == status)
        .or_else(|| {
            trials
                .iter()
                .enumerate()
                .filter_map(|(i, t)| t.score.map(|s| (s, i)))
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, i)| i)
        })
        .or((!trials.is_empty()).then_some(0));
    let aggregate_reason = match (status, score) {
        (Status::Failed, Some(s)) if trials.len() > 1 => Some(format!(
            "{} score {} of {} trials is below the threshold {}",
            aggregate.name(),
            fmt_score(s),
            trials.len(),
            fmt_score(threshold)
        )),
        _ => None,
    };
    CaseVerdict {
        status,
        score,
        spread,
        representative,
        aggregate_reason,
        interval: None,
        decision: None,
    }
}

/// Highest minus lowest score, in decimal units; `None` when a score is out of range.
fn spread(scores: &[f64]) -> Option<f64> {
    let units: Vec<i128> = scores.iter().map(|s| units(*s)).collect::<Option<_>>()?;
    let (max, min) = (units.iter().max()?, units.iter().min()?);
    from_units(max.checked_sub(*min)?)
}

/// A case's score against its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineCheck {
    pub status: Status,
    /// This score minus the baseline's, when both exist.
    pub delta: Option<f64>,
    /// Why a passing case now fails, when it does.
    pub reason: Option<String>,
}

/// Applies a baseline comparison to a judged case: the change of score, and with `max_drop` a
/// failure when the score fell by more than that. Only a passing case can be turned into a
/// failure; every other status already explains itself. A baseline score out of range cannot
/// be compared: with `max_drop` the passing case fails closed, saying so, rather than showing
/// an absurd drop.
pub fn apply_baseline(
    status: Status,
    score: Option<f64>,
    baseline: Option<f64>,
    max_drop: Option<f64>,
) -> BaselineCheck {
    let unchanged = BaselineCheck {
        status,
        delta: None,
        reason: None,
    };
    let (Some(score), Some(base)) = (score, baseline) else {
        return unchanged;
    };
    let delta = units(score)
        .zip(units(base))
        .and_then(|(s, b)| s.checked_sub(b))
        .and_then(from_units);
    let failed = |reason: String| BaselineCheck {
        status: Status::Failed,
        delta,
        reason: Some(reason),
    };
    match max_drop {
        Some(max) if status == Status::Passed => match dropped_more_than(base, score, max) {
            Some(false) => BaselineCheck { delta, ..unchanged },
            Some(true) => failed(format!(
                "score fell by {} against the baseline ({} -> {}), more than --max-drop {}",
                fmt_score(-delta.unwrap_or_default()),
                fmt_score(base),
                fmt_score(score),
                fmt_score(max)
            )),
            None => failed(format!(
                "cannot compare with the baseline: a score out of range (baseline {}, score {}, --max-drop {}; scores are compared from -{SCORE_LIMIT:e} to {SCORE_LIMIT:e})",
                shown(base),
                shown(score),
                shown(max)
            )),
        },
        _ => BaselineCheck { delta, ..unchanged },
    }
}

/// A value as a reason shows it: as people write scores when comparable, else in scientific
/// notation.
fn shown(value: f64) -> String {
    if comparable(value) {
        fmt_score(value)
    } else {
        out_of_range(value, None)
    }
}

/// The gate's exit for its cases: a signal's exit wins; otherwise the blocking cases decide by
/// [`overall`], except that a selection of only non-blocking (quarantined) cases passes, with
/// the warning returned beside the exit.
pub fn gate_exit(cases: &[(Status, bool)], forced: Option<Exit>) -> (Exit, Option<String>) {
    if let Some(exit) = forced {
        return (exit, None);
    }
    if !cases.is_empty() && cases.iter().all(|(_, blocking)| !blocking) {
        let not_passed = cases.iter().filter(|(status, _)| *status != Status::Passed).count();
        let warning = format!(
            "every selected case is non-blocking (quarantined), so the gate cannot fail: {not_passed} of {} did not pass",
            cases.len()
        );
        return (Exit::Passed, Some(warning));
    }
    let exit = overall(
        cases
            .iter()
            .filter(|(_, blocking)| *blocking)
            .map(|(status, _)| *status),
    );
    (exit, None)
}

/// The exit of a shard that the partition gave no case (more shards than cases, or the hash's
/// luck): it leaves nothing of the selection undecided, so it passes; the merged report judges
/// the whole selection.
pub const fn empty_shard_exit() -> Exit {
    Exit::Passed
}

/// The exit of reports merged from shards, by the precedence of one run: a shard stopped by a
/// signal gives its exit, then a shard's usage error; otherwise the cases decide by
/// [`gate_exit`]. A missing shard counts as one blocking case without a verdict, so it makes a
/// passing selection incomplete but never hides a failure.
pub fn merged_exit(cases: &[(Status, bool)], shard_exits: &[Exit], shards_missing: bool) -> (Exit, Option<String>) {
    let forced = shard_exits
        .iter()
        .copied()
        .find(|exit| matches!(exit, Exit::Interrupted | Exit::Terminated))
        .or_else(|| shard_exits.iter().copied().find(|exit| *exit == Exit::Usage));
    let mut judged = cases.to_vec();
    if shards_missing {
        judged.push((Status::Incomplete, true));
    }
    gate_exit(&judged, forced)
}

/// The exit for a set of blocking case statuses, by the documented precedence:
/// failed, then rejected, then incomplete, then passed. Cancellation is decided by the caller
/// (a signal's exit code wins). An empty set never passes.
pub fn overall(statuses: impl IntoIterator<Item = Status>) -> Exit {
    let mut seen = [false; 6];
    for status in statuses {
        seen[status as usize] = true;
    }
    let has = |s: Status| seen[s as usize];
    if has(Status::Failed) || has(Status::Errored) {
        Exit::Failed
    } else if has(Status::Rejected) {
        Exit::Rejected
    } else if has(Status::Incomplete) || has(Status::Cancelled) {
        Exit::Incomplete
    } else if has(Status::Passed) {
        Exit::Passed
    } else {
        Exit::Usage
    }
}

/// A warning when the threshold and the scores look like different scales (0-1 against 0-10).
pub fn scale_warning(threshold: f64, scores: &[f64]) -> Option<String> {
    // A score out of range is errored with its own reason; it says nothing about the scale.
    let max = scores.iter().copied().filter(|s| comparable(*s)).reduce(f64::max)?;
    if threshold > 1.0 && max <= 1.0 {
        Some(format!(
            "the threshold {} is above 1 but every score is at most 1: Kapso scores are usually 0.0 to 1.0, so no case can pass; did you mean {}?",
            fmt_score(threshold),
            fmt_score(threshold / 10.0)
        ))
    } else if threshold <= 1.0 && max > 1.0 {
        Some(format!(
            "scores above 1 (up to {}) were received while the threshold is {}: scores and threshold look like different scales",
            fmt_score(max),
            fmt_score(threshold)
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(score: Option<f64>, error: Option<&str>) -> FinishedRun {
        FinishedRun {
            id: "r".into(),
            score,
            error: error.map(str::to_owned),
            ..FinishedRun::default()
        }
    }

    #[test]
    fn judging_runs() {
        assert_eq!(
            judge_run(&run(Some(0.8), None), 0.8).0,
            Status::Passed,
            "threshold is inclusive"
        );
        assert_eq!(judge_run(&run(Some(0.79), None), 0.8).0, Status::Failed);
        assert_eq!(judge_run(&run(None, None), 0.8).0, Status::Errored);
        assert_eq!(
            judge_run(&run(Some(1.0), Some("boom")), 0.8).0,
            Status::Errored,
            "an error fails even with a score"
        );
        let (_, reason) = judge_run(&run(Some(0.5), None), 0.8);
        assert_eq!(reason.as_deref(), Some("score 0.5 is below the threshold 0.8"));
    }

    #[test]
    fn scores_meet_thresholds_exactly_at_the_boundary() {
        let trials = [0.9, 0.6, 0.9];
        assert_ne!(
            trials.iter().sum::<f64>() / 3.0,
            0.8,
            "binary floating point misses 0.8"
        );
        assert_eq!(Aggregate::Mean.apply(&trials), Some(0.8));
        assert!(meets(0.8, 0.8));
        assert!(!meets(0.79, 0.8));
        let t = |score| TrialVerdict {
            status: Status::Passed,
            score: Some(score),
        };
        for (aggregate, scores) in [
            (Aggregate::Mean, vec![0.9, 0.6, 0.9]),
            (Aggregate::Mean, vec![0.7, 0.9, 0.8, 0.8]),
            (Aggregate::Median, vec![0.7, 0.9]),
            (Aggregate::Median, vec![0.1, 0.7, 0.9, 1.0]),
            (Aggregate::Min, vec![0.8, 0.9]),
        ] {
            let trials: Vec<TrialVerdict> = scores.iter().map(|s| t(*s)).collect();
            let verdict = judge_case(&trials, aggregate, 0.8);
            assert_eq!(verdict.status, Status::Passed, "{aggregate:?} of {scores:?}");
            assert_eq!(verdict.score, Some(0.8), "{aggregate:?} of {scores:?}");
            let below = judge_case(&trials, aggregate, 0.800_000_001);
            assert_eq!(below.status, Status::Failed, "{aggregate:?} of {scores:?} just below");
        }
        assert_eq!(
            dropped_more_than(0.9, 0.8, 0.1),
            Some(false),
            "a drop of exactly max-drop passes"
        );
        assert_eq!(dropped_more_than(0.3, 0.2, 0.1), Some(false));
        assert_eq!(dropped_more_than(0.9, 0.79, 0.1), Some(true));
    }

    #[test]
    fn scores_out_of_range_fail_closed() {
        let (status, reason) = judge_run(&run(Some(-1e29), None), 0.8);
        assert_eq!(status, Status::Errored);
        assert_eq!(
            reason.as_deref(),
            Some("score out of range: -1e29 (scores are compared from -1e6 to 1e6)")
        );
        assert_eq!(
            judge_run(&run(Some(1e6), None), 0.8).0,
            Status::Passed,
            "the range is inclusive"
        );
        assert_eq!(judge_run(&run(Some(1_000_000.000_000_1), None), 0.8).0, Status::Errored);
        assert!(!meets(f64::INFINITY, 0.8) && !meets(0.9, f64::NAN) && !meets(1e300, 1e300));
        assert_eq!(Aggregate::Mean.apply(&[1e6, 1e6, -1e6]), Some(333_333.333_333_333));
        assert_eq!(Aggregate::Mean.apply(&[0.9, -1e29]), None);
        assert_eq!(Aggregate::Median.apply(&[f64::MAX, f64::MAX]), None);
        assert!(
            meets(5e-324, 0.0) && meets(-5e-324, 0.0),
            "subnormals round to zero units"
        );
        assert!(meets(0.000_000_000_5, 0.000_000_001), "halves round away from zero");
        assert!(!meets(0.000_000_000_499_999, 0.000_000_001));
        let t = |score| TrialVerdict {
            status: Status::Passed,
            score: Some(score),
        };
        let verdict = judge_case(&[t(1e308), t(-1e308)], Aggregate::Mean, 0.8);
        assert_eq!(
            (verdict.status, verdict.score, verdict.spread),
            (Status::Errored, None, None)
        );
    }

    #[test]
    fn an_out_of_range_baseline_cannot_be_compared() {
        let check = apply_baseline(Status::Passed, Some(0.9), Some(-1e308), Some(0.05));
        assert_eq!((check.status, check.delta), (Status::Failed, None));
        assert_eq!(
            check.reason.as_deref(),
            Some("cannot compare with the baseline: a score out of range (baseline -1e308, score 0.9, --max-drop 0.05; scores are compared from -1e6 to 1e6)")
        );
        let informative = apply_baseline(Status::Passed, Some(0.9), Some(1e308), None);
        assert_eq!((informative.status, informative.delta), (Status::Passed, None));
        let extreme = apply_baseline(Status::Passed, Some(-1e6), Some(1e6), Some(1e6));
        assert_eq!((extreme.status, extreme.delta), (Status::Failed, Some(-2e6)));
    }

    #[test]
    fn aggregates() {
        let s = [0.9, 0.5, 0.7, 1.0];
        assert_eq!(Aggregate::Mean.apply(&s), Some(0.775));
        assert_eq!(Aggregate::Median.apply(&s), Some(0.8));
        assert_eq!(Aggregate::Min.apply(&s), Some(0.5));
        assert_eq!(Aggregate::Median.apply(&[0.3, 0.9, 0.6]), Some(0.6));
        assert_eq!(Aggregate::Mean.apply(&[]), None);
    }

    #[test]
    fn cases_combine_trials() {
        let t = |status, score| TrialVerdict { status, score };
        let passing = [t(Status::Passed, Some(0.9)), t(Status::Failed, Some(0.75))];
        assert_eq!(
            {
                let v = judge_case(&passing, Aggregate::Mean, 0.8);
                (v.status, v.score)
            },
            (Status::Passed, Some(0.825))
        );
        let min = judge_case(&passing, Aggregate::Min, 0.8);
        assert_eq!((min.status, min.score), (Status::Failed, Some(0.75)));
        assert_eq!(min.representative, Some(1), "the failing trial explains the case");
        assert_eq!(
            min.aggregate_reason.as_deref(),
            Some("min score 0.75 of 2 trials is below the threshold 0.8")
        );
        let crashed = [t(Status::Passed, Some(1.0)), t(Status::Errored, None)];
        assert_eq!(judge_case(&crashed, Aggregate::Mean, 0.8).status, Status::Errored);
        let unfinished = [t(Status::Passed, Some(1.0)), t(Status::Incomplete, None)];
        assert_eq!(judge_case(&unfinished, Aggregate::Mean, 0.8).status, Status::Incomplete);
    }

    #[test]
    fn baseline_drops() {
        assert_eq!(
            apply_baseline(Status::Passed, Some(0.85), Some(0.95), Some(0.05)).status,
            Status::Failed
        );
        assert_eq!(
            apply_baseline(Status::Passed, Some(0.9), Some(0.95), Some(0.05)).status,
            Status::Passed,
            "within tolerance"
        );
        assert_eq!(
            apply_baseline(Status::Passed, Some(0.8), Some(0.9), Some(0.1)).status,
            Status::Passed,
            "exactly the tolerance"
        );
        let BaselineCheck { status, delta, reason } = apply_baseline(Status::Passed, Some(0.85), Some(0.95), None);
        assert_eq!(status, Status::Passed);
        assert!(delta.is_some_and(|d| (d + 0.1).abs() < 1e-9));
        assert!(reason.is_none());
        assert_eq!(
            apply_baseline(Status::Passed, Some(0.85), None, Some(0.0)),
            BaselineCheck {
                status: Status::Passed,
                delta: None,
                reason: None
            }
        );
    }

    #[test]
    fn exit_precedence() {
        use Status::*;
        assert_eq!(overall([Passed, Passed]), Exit::Passed);
        assert_eq!(overall([Passed, Incomplete, Rejected, Failed]), Exit::Failed);
        assert_eq!(overall([Errored]), Exit::Failed);
        assert_eq!(overall([Incomplete, Rejected]), Exit::Rejected);
        assert_eq!(overall([Passed, Incomplete]), Exit::Incomplete);
        assert_eq!(overall([]), Exit::Usage, "an empty selection never passes");
        assert_eq!(gate_exit(&[(Failed, false), (Passed, false)], None).0, Exit::Passed);
        assert!(gate_exit(&[(Failed, false)], None)
            .1
            .is_some_and(|w| w.contains("1 of 1 did not pass")));
        assert_eq!(
            gate_exit(&[(Failed, false), (Passed, true)], None),
            (Exit::Passed, None)
        );
        assert_eq!(
            gate_exit(&[(Failed, true)], Some(Exit::Interrupted)).0,
            Exit::Interrupted
        );
        assert_eq!(gate_exit(&[], None).0, Exit::Usage);
    }

    #[test]
    fn merged_exits_follow_the_single_run_precedence() {
        use Status::*;
        let passed = [Exit::Passed];
        assert_eq!(merged_exit(&[(Passed, true)], &passed, false).0, Exit::Passed);
        assert_eq!(merged_exit(&[(Passed, true)], &passed, true).0, Exit::Incomplete);
        assert_eq!(
            merged_exit(&[(Failed, true)], &[Exit::Failed], true).0,
            Exit::Failed,
            "a failure is never hidden"
        );
        assert_eq!(
            merged_exit(&[(Rejected, true)], &[Exit::Rejected], true).0,
            Exit::Rejected
        );
        assert_eq!(merged_exit(&[], &[], true).0, Exit::Incomplete);
        assert_eq!(
            merged_exit(&[(Failed, false)], &passed, false).0,
            Exit::Passed,
            "quarantine as in one run"
        );
        let stopped = [Exit::Failed, Exit::Usage, Exit::Terminated];
        assert_eq!(merged_exit(&[(Failed, true)], &stopped, false).0, Exit::Terminated);
        assert_eq!(merged_exit(&[(Failed, true)], &stopped[..2], false).0, Exit::Usage);
        assert_eq!(empty_shard_exit(), Exit::Passed);
    }

    #[test]
    fn failures_map_to_statuses_and_exits() {
        use FailureKind::*;
        for (kind, status, exit) in [
            (KeyRefused, Status::Rejected, Exit::Rejected),
            (NotFound, Status::Rejected, Exit::Rejected),
            (Rejected, Status::Rejected, Exit::Rejected),
            (Unavailable, Status::Incomplete, Exit::Incomplete),
            (Cancelled, Status::Cancelled, Exit::Incomplete),
        ] {
            assert_eq!((failure_status(kind), failure_exit(kind)), (status, exit), "{kind:?}");
        }
        assert_eq!(unrun_status(Exit::Rejected), Status::Rejected);
        assert_eq!(unrun_status(Exit::Terminated), Status::Cancelled);
        assert_eq!(unrun_status(Exit::Usage), Status::Incomplete);
        assert_eq!(interrupt_exit(Interrupt::Sigint), Exit::Interrupted);
        assert_eq!(interrupt_exit(Interrupt::Sigterm), Exit::Terminated);
    }

    #[test]
    fn scale_warnings() {
        assert!(scale_warning(8.0, &[0.9, 0.5]).is_some());
        assert!(scale_warning(0.8, &[9.5]).is_some());
        assert!(scale_warning(0.8, &[0.9]).is_none());
        assert!(scale_warning(8.0, &[9.5]).is_none());
        assert!(scale_warning(8.0, &[]).is_none());
    }
}
