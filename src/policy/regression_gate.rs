//! The regression gate's rules (`--baseline`, `--max-drop` as the margin): what one case's
//! trials say against its baseline's trials (held, regressed, inconclusive, not comparable, no
//! baseline), what that does to the case's status, whether the case wants another trial for
//! it, the suite rule over the shared cases, and what counts as a flip. The statistics are
//! `confidence::regression`'s; this file decides what they mean for the gate. Nothing here
//! knows reports or settings.

use super::confidence::{compare, compare_suite, Comparison, Inconclusive, Regression, SuiteComparison, Trials};
use super::verdict::{self, Certainty, Status, TrialVerdict};
use crate::policy::confidence::Decision;

/// A case's baseline, as the regression rules need it.
#[derive(Debug, Clone, Copy)]
pub struct BaselineCase<'a> {
    /// The scores of the baseline's trials, in trial order.
    pub scores: &'a [f64],
    /// The fingerprint of the case's definition when the baseline ran it; `None` when unknown.
    pub definition_digest: Option<&'a str>,
}

/// The five outcomes of a case against its baseline (also the words the JSON report uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Not worse than the baseline by more than the margin.
    Held,
    /// Worse than the baseline by more than the margin.
    Regressed,
    /// Neither is certain yet.
    Inconclusive,
    /// The case's definition changed since the baseline: shown, never gated.
    NotComparable,
    /// The baseline has no score for the case (a new case).
    NoBaseline,
}

impl Outcome {
    /// The word every report uses.
    pub const fn name(self) -> &'static str {
        match self {
            Outcome::Held => "held",
            Outcome::Regressed => "regressed",
            Outcome::Inconclusive => "inconclusive",
            Outcome::NotComparable => "not_comparable",
            Outcome::NoBaseline => "no_baseline",
        }
    }
}

/// One case against its baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaseRegression {
    pub outcome: Outcome,
    /// True when the confidence sequence decided (two or more scores on each side); false when
    /// the raw drop of the means decided, or nothing was compared.
    pub statistical: bool,
    /// The means, their difference and its bounds, when both sides have scores.
    pub comparison: Option<Comparison>,
}

/// Compares today's scored trials (in trial order) with the baseline's, at margin `delta` and
/// confidence `confidence`. A definition digest that differs from the baseline's makes the
/// case not comparable; a digest unknown on either side (an older report) does not, so a
/// baseline without digests still gates.
pub fn judge(
    baseline: Option<BaselineCase<'_>>,
    digest: Option<&str>,
    today: &[f64],
    delta: f64,
    confidence: f64,
) -> CaseRegression {
    let nothing = |outcome| CaseRegression {
        outcome,
        statistical: false,
        comparison: None,
    };
    let Some(baseline) = baseline.filter(|b| !b.scores.is_empty()) else {
        return nothing(Outcome::NoBaseline);
    };
    if matches!((baseline.definition_digest, digest), (Some(a), Some(b)) if a != b) {
        return nothing(Outcome::NotComparable);
    }
    // Scores outside 0..1 have no interval: the raw drop decides, as for one trial.
    let Ok(comparison) = compare(baseline.scores, today, delta, confidence) else {
        return raw(baseline.scores, today, delta).map_or(nothing(Outcome::Inconclusive), |(outcome, c)| {
            CaseRegression {
                outcome,
                statistical: false,
                comparison: Some(c),
            }
        });
    };
    let outcome = match comparison.decision {
        Regression::Held => Outcome::Held,
        Regression::Regressed => Outcome::Regressed,
        Regression::Inconclusive => Outcome::Inconclusive,
        Regression::NoClaim => return raw_decided(comparison, delta),
    };
    CaseRegression {
        outcome,
        statistical: true,
        comparison: Some(comparison),
    }
}

/// Without a statistical claim (one score on a side): the raw drop of the means against the
/// margin, compared as decimals like `--max-drop` always was.
fn raw_decided(comparison: Comparison, delta: f64) -> CaseRegression {
    let dropped = verdict::dropped_more_than(comparison.baseline_mean, comparison.today_mean, delta);
    CaseRegression {
        outcome: if dropped == Some(false) {
            Outcome::Held
        } else {
            Outcome::Regressed
        },
        statistical: false,
        comparison: Some(comparison),
    }
}

/// The raw comparison of scores the statistics refuse (out of 0..1); `None` without scores.
fn raw(baseline: &[f64], today: &[f64], delta: f64) -> Option<(Outcome, Comparison)> {
    let mean = |s: &[f64]| (!s.is_empty()).then(|| s.iter().sum::<f64>() / s.len() as f64);
    let (baseline_mean, today_mean) = (mean(baseline)?, mean(today)?);
    let comparison = Comparison {
        decision: Regression::NoClaim,
        baseline_mean,
        today_mean,
        difference: today_mean - baseline_mean,
        lower: None,
        upper: None,
    };
    Some((raw_decided(comparison, delta).outcome, comparison))
}

/// What the comparison does to a judged case's status when the margin gates (`--max-drop`):
/// only a passing case can fail, and then with the reason. `None` leaves the status alone,
/// including a case without a statistical claim: the caller applies the raw drop of its score
/// (`verdict::apply_baseline`) exactly as without trials. An inconclusive case whose trials
/// are all spent follows `--inconclusive`: `fail` fails it, `estimate` lets the raw drop decide.
pub fn failure(status: Status, regression: &CaseRegression, certainty: &Certainty, delta: f64) -> Option<String> {
    let comparison = regression
        .comparison
        .filter(|_| status == Status::Passed && regression.statistical)?;
    let confidence = fmt_percent(certainty.confidence);
    match regression.outcome {
        Outcome::Regressed => Some(format!(
            "regressed against the baseline: mean {} -> {} (change {}), at most {} at {confidence} %, more than --max-drop {} below",
            crate::domain::score::fmt_score(comparison.baseline_mean),
            crate::domain::score::fmt_score(comparison.today_mean),
            signed(comparison.difference),
            signed(comparison.upper.unwrap_or(comparison.difference)),
            crate::domain::score::fmt_score(delta)
        )),
        Outcome::Inconclusive if certainty.inconclusive == Inconclusive::Fail => Some(format!(
            "still inconclusive against the baseline after its trials: change {} in [{}, {}] at {confidence} % straddles -{} (--inconclusive fail)",
            signed(comparison.difference),
            signed(comparison.lower.unwrap_or(comparison.difference)),
            signed(comparison.upper.unwrap_or(comparison.difference)),
            crate::domain::score::fmt_score(delta)
        )),
        _ => None,
    }
}

/// Whether the raw drop of the case's score still applies: without a statistical claim, or an
/// inconclusive comparison under `--inconclusive estimate` (judged by the means, as the
/// threshold judges an inconclusive case by its mean).
pub fn raw_drop_applies(regression: &CaseRegression) -> bool {
    match regression.outcome {
        Outcome::Held | Outcome::Regressed => !regression.statistical,
        Outcome::Inconclusive => true,
        Outcome::NotComparable | Outcome::NoBaseline => false,
    }
}

fn fmt_percent(confidence: f64) -> String {
    crate::domain::score::fmt_score(confidence * 100.0)
}

fn signed(value: f64) -> String {
    if value >= 0.0 {
        format!("+{}", crate::domain::score::fmt_score(value))
    } else {
        format!("-{}", crate::domain::score::fmt_score(-value))
    }
}

/// Whether a `MIN..MAX` case wants another trial for its regression decision: fewer than MAX
/// runs, no trial without a score, the threshold decision not already a certain fail (the
/// case fails either way), and the comparison still open: inconclusive, or without a claim
/// only because today has fewer than two scores while the baseline has two or more.
pub fn wants_more_trials(
    certainty: &Certainty,
    created: u32,
    finished: &[TrialVerdict],
    threshold: f64,
    regression: &CaseRegression,
    baseline_scores: usize,
) -> bool {
    let Trials::Sequential { max, .. } = certainty.trials else {
        return false;
    };
    if created >= max
        || finished
            .iter()
            .any(|t| t.score.is_none() || t.status == Status::Errored)
    {
        return false;
    }
    let judged = verdict::judge_case_with(finished, verdict::Aggregate::Mean, threshold, certainty);
    if judged.decision == Some(Decision::Fail) {
        return false;
    }
    match regression.outcome {
        Outcome::Inconclusive => regression.statistical,
        Outcome::Held | Outcome::Regressed => !regression.statistical && baseline_scores >= 2 && finished.len() < 2,
        Outcome::NotComparable | Outcome::NoBaseline => false,
    }
}

/// The suite rule: the mean difference over the cases both reports share with a statistical
/// claim (`cases`: each one's baseline and today's scores), with its interval; `None` without
/// such a case. The suite regressed when its interval lies certainly below `-delta`: many small
/// drops no single case proves. It is a claim of its own beside the per-case decisions.
pub fn suite(cases: &[(&[f64], &[f64])], delta: f64, confidence: f64) -> Option<SuiteComparison> {
    compare_suite(cases, delta, confidence).ok()
}

/// A suite comparison's outcome word (`held`, `regressed` or `inconclusive`).
pub fn suite_outcome(suite: &SuiteComparison) -> Outcome {
    match suite.decision {
        Regression::Held => Outcome::Held,
        Regression::Regressed => Outcome::Regressed,
        Regression::Inconclusive | Regression::NoClaim => Outcome::Inconclusive,
    }
}

/// A flip: a case that passed in the baseline and fails now (`true`: a regression), or failed
/// there and passes now (`false`: fixed). Only verdicts count: a case rejected, incomplete or
/// cancelled on either side has none.
pub fn flip(baseline: Status, now: Status) -> Option<bool> {
    let failed = |s: Status| matches!(s, Status::Failed | Status::Errored);
    match (baseline, now) {
        (Status::Passed, now) if failed(now) => Some(true),
        (before, Status::Passed) if failed(before) => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::confidence::Inconclusive;

    fn base(scores: &[f64]) -> Option<BaselineCase<'_>> {
        Some(BaselineCase {
            scores,
            definition_digest: Some("d"),
        })
    }

    const STEADY: [f64; 10] = [0.9, 0.95, 0.9, 0.85, 0.9, 0.95, 0.9, 0.9, 0.85, 0.9];

    #[test]
    fn the_five_outcomes() {
        assert_eq!(judge(None, Some("d"), &[0.9], 0.05, 0.95).outcome, Outcome::NoBaseline);
        assert_eq!(
            judge(base(&STEADY), Some("e"), &STEADY, 0.05, 0.95).outcome,
            Outcome::NotComparable
        );
        // An unknown digest (an older report) still compares.
        let twice: Vec<f64> = STEADY.iter().chain(&STEADY).copied().collect();
        assert_eq!(judge(base(&STEADY), None, &twice, 0.3, 0.95).outcome, Outcome::Held);
        let collapse = judge(base(&STEADY), Some("d"), &[0.1; 10], 0.05, 0.95);
        assert_eq!((collapse.outcome, collapse.statistical), (Outcome::Regressed, true));
        let close = judge(base(&STEADY), Some("d"), &[0.85, 0.9], 0.05, 0.95);
        assert_eq!(close.outcome, Outcome::Inconclusive);
    }

    #[test]
    fn one_trial_on_a_side_is_the_raw_drop() {
        let dropped = judge(base(&[0.9]), Some("d"), &[0.8], 0.05, 0.95);
        assert_eq!((dropped.outcome, dropped.statistical), (Outcome::Regressed, false));
        let within = judge(base(&[0.9]), Some("d"), &[0.85], 0.05, 0.95);
        assert_eq!((within.outcome, within.statistical), (Outcome::Held, false));
        assert!(raw_drop_applies(&within));
    }

    #[test]
    fn a_certain_regression_fails_a_passing_case_and_inconclusive_follows_the_rule() {
        let certainty = |inconclusive| Certainty {
            trials: Trials::Sequential { min: 2, max: 2 },
            confidence: 0.95,
            inconclusive,
        };
        let collapse = judge(base(&STEADY), Some("d"), &[0.1; 10], 0.05, 0.95);
        let reason = failure(Status::Passed, &collapse, &certainty(Inconclusive::Estimate), 0.05).expect("fails");
        assert!(
            reason.starts_with("regressed against the baseline: mean 0.9 -> 0.1"),
            "{reason}"
        );
        assert_eq!(
            failure(Status::Failed, &collapse, &certainty(Inconclusive::Estimate), 0.05),
            None
        );
        let close = judge(base(&STEADY), Some("d"), &[0.85, 0.9], 0.05, 0.95);
        assert_eq!(
            failure(Status::Passed, &close, &certainty(Inconclusive::Estimate), 0.05),
            None
        );
        assert!(failure(Status::Passed, &close, &certainty(Inconclusive::Fail), 0.05).is_some());
    }

    #[test]
    fn an_inconclusive_case_wants_more_trials_up_to_max() {
        let certainty = Certainty {
            trials: Trials::Sequential { min: 2, max: 10 },
            confidence: 0.95,
            inconclusive: Inconclusive::Estimate,
        };
        let trials = [TrialVerdict {
            status: Status::Passed,
            score: Some(0.9),
        }; 2];
        let close = judge(base(&STEADY), Some("d"), &[0.9, 0.9], 0.05, 0.95);
        assert!(wants_more_trials(&certainty, 2, &trials, 0.5, &close, 10));
        assert!(!wants_more_trials(&certainty, 10, &trials, 0.5, &close, 10));
        let fixed = Certainty {
            trials: Trials::Fixed(2),
            ..certainty
        };
        assert!(!wants_more_trials(&fixed, 2, &trials, 0.5, &close, 10));
    }

    #[test]
    fn flips_need_a_verdict_on_both_sides() {
        assert_eq!(flip(Status::Passed, Status::Failed), Some(true));
        assert_eq!(flip(Status::Errored, Status::Passed), Some(false));
        assert_eq!(flip(Status::Passed, Status::Incomplete), None);
        assert_eq!(flip(Status::Passed, Status::Passed), None);
    }
}
