//! The statistics of a regression gate: is a case's mean score today worse than its baseline's
//! by more than a margin `delta` (`--max-drop`)? Pure arithmetic, std only; the caller feeds
//! the baseline report's trial scores for the case and today's trial scores so far.
//!
//! # The bounds
//! Let `b` be the baseline's mean and `t` today's, and `D = t - b`. The baseline is a fixed
//! sample: its mean gets a fixed-sample bound ([`super::fixed_interval`]'s construction) on
//! each side. Today's scores grow one trial at a time: they get a confidence sequence (the
//! betting capitals of [`super::Sequential`]), valid however often the caller looks and
//! whenever it stops. Each bound errs with probability at most `alpha / 2` (`alpha = 1 - C`),
//! so by the union bound:
//!
//! - *regressed* when `upper(t) - lower(b) < -delta`: wrong (in truth `D >= -delta`) only if
//!   today's upper bound or the baseline's lower bound missed, probability at most `alpha`;
//! - *held* when `lower(t) - upper(b) >= -delta`: wrong (in truth `D < -delta`) only if the
//!   other two bounds missed, again at most `alpha`.
//!
//! For one case only one of the two can be wrong, so a certain decision is wrong with
//! probability at most `1 - C`. The first certain decision stands (today's bounds only
//! narrow as trials come, so it cannot flip unless both bounds of one side already missed).
//! Today's bets are aimed where each decision would be made: the pass side (today's lower
//! end) at `upper(b) - delta`, the fail side (today's upper end) at `lower(b) - delta`.
//!
//! With fewer than two scores on either side there is no statistical claim
//! ([`Regression::NoClaim`]): the caller applies the raw drop, as without trials.
//!
//! # The suite
//! [`compare_suite`] reports the mean of the per-case differences over the shared cases, with
//! a Hoeffding interval for that weighted average of independent bounded scores: its width
//! shrinks with the number of cases, so many small drops that no single case proves still show.
//! It is a separate claim from the per-case decisions: a suite can hold while one case
//! regressed, and the gate fails on either.

use super::sequential::{Aim, Sequential};
use super::{alpha, fixed_interval, in_unit_range, Interval};
use std::fmt;

/// What the scores say about "today is worse than the baseline by more than `delta`".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regression {
    /// Certainly not worse by more than `delta` (wrong with probability at most `1 - C`).
    Held,
    /// Certainly worse by more than `delta` (wrong with probability at most `1 - C`).
    Regressed,
    /// Neither yet: more trials today may decide.
    Inconclusive,
    /// One score or none on a side: no interval; compare the raw drop with `delta`.
    NoClaim,
}

/// One case's comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub decision: Regression,
    pub baseline_mean: f64,
    pub today_mean: f64,
    /// `today_mean - baseline_mean`: negative is a drop.
    pub difference: f64,
    /// Bounds on the true difference, each one-sided at `C` (`None` with [`Regression::NoClaim`]),
    /// in [-1, 1].
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

/// Inputs the comparison cannot use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RegressionError {
    /// No scores on one side.
    Empty,
    /// A score outside [0, 1] or not a number.
    Score(f64),
    /// `delta` negative or not finite, or `confidence` not strictly between 0 and 1.
    Parameters,
}

impl fmt::Display for RegressionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegressionError::Empty => f.write_str("no scores to compare: each side needs at least one"),
            RegressionError::Score(score) => write!(f, "score {score} is outside 0 to 1"),
            RegressionError::Parameters => {
                f.write_str("the margin must be a finite number >= 0 and the confidence between 0 and 1")
            }
        }
    }
}

impl std::error::Error for RegressionError {}

/// Compares today's scores (in trial order) with the baseline's for one case, with margin
/// `delta` (e.g. 0.05) at confidence `confidence` (e.g. 0.95). The same as pushing `today`
/// into a [`RegressionSequence`] one score at a time.
pub fn compare(baseline: &[f64], today: &[f64], delta: f64, confidence: f64) -> Result<Comparison, RegressionError> {
    compare_at(baseline, today, delta, confidence, 1.0)
}

/// [`compare`] with `alpha` divided by `share` (the suite's Bonferroni split).
fn compare_at(
    baseline: &[f64],
    today: &[f64],
    delta: f64,
    confidence: f64,
    share: f64,
) -> Result<Comparison, RegressionError> {
    let mut sequence = RegressionSequence::split(baseline, delta, confidence, share)?;
    if today.is_empty() {
        return Err(RegressionError::Empty);
    }
    for &score in today {
        sequence.push(score)?;
    }
    Ok(sequence.comparison())
}

/// One case's comparison kept up to date as today's trials finish: push each score in trial
/// order and read [`RegressionSequence::comparison`] after any of them. Valid however often
/// it is read and whenever the caller stops (see the module doc).
#[derive(Debug, Clone)]
pub struct RegressionSequence {
    baseline_mean: f64,
    /// The baseline's bounds (each end at `alpha / 2`), with two or more baseline scores.
    baseline: Option<Interval>,
    delta: f64,
    /// Today's confidence sequence (each end at `alpha / 2`).
    today: Sequential,
    /// The first certain decision; it stands.
    decided: Option<Regression>,
}

impl RegressionSequence {
    /// A comparison against `baseline`'s scores, before any of today's.
    pub fn new(baseline: &[f64], delta: f64, confidence: f64) -> Result<RegressionSequence, RegressionError> {
        RegressionSequence::split(baseline, delta, confidence, 1.0)
    }

    fn split(baseline: &[f64], delta: f64, confidence: f64, share: f64) -> Result<RegressionSequence, RegressionError> {
        let alpha = alpha(confidence).ok_or(RegressionError::Parameters)? / share;
        if !(delta.is_finite() && delta >= 0.0) {
            return Err(RegressionError::Parameters);
        }
        if baseline.is_empty() {
            return Err(RegressionError::Empty);
        }
        if let Some(bad) = baseline.iter().find(|s| !in_unit_range(**s)) {
            return Err(RegressionError::Score(*bad));
        }
        // Four one-sided bounds, each erring with at most alpha / 2: the ends of a two-sided
        // interval at 1 - alpha for the baseline, a sequence at 1 - alpha / 2 per side today.
        let bounds = fixed_interval(baseline, 1.0 - alpha);
        let (pass_at, fail_at) = bounds.map_or((0.5, 0.5), |b| (b.upper - delta, b.lower - delta));
        let today = Sequential::aimed(1.0 - alpha / 2.0, 0.5, Aim::Points(pass_at, fail_at))
            .ok_or(RegressionError::Parameters)?;
        Ok(RegressionSequence {
            baseline_mean: baseline.iter().sum::<f64>() / baseline.len() as f64,
            baseline: bounds,
            delta,
            today,
            decided: None,
        })
    }

    /// Adds today's next score. A score outside [0, 1] is refused and changes nothing.
    pub fn push(&mut self, score: f64) -> Result<(), RegressionError> {
        self.today.push(score).map_err(|e| RegressionError::Score(e.score))?;
        let Some(baseline) = self
            .baseline
            .filter(|_| self.decided.is_none() && self.today.len() >= 2)
        else {
            return Ok(());
        };
        // The same tests as `bounds` against -delta, at the two points only (no bisection):
        // today's upper end below `lower(b) - delta`, or its lower end at `upper(b) - delta`.
        if self.today.rules_out_from(baseline.lower - self.delta) {
            self.decided = Some(Regression::Regressed);
        } else if self.today.rules_out_below(baseline.upper - self.delta) {
            self.decided = Some(Regression::Held);
        }
        Ok(())
    }

    /// The decision so far, without computing the bounds (cheap enough to call after every
    /// trial).
    pub fn comparison_decision(&self) -> Regression {
        match self.decided {
            Some(decided) => decided,
            None if self.baseline.is_some() && self.today.len() >= 2 => Regression::Inconclusive,
            None => Regression::NoClaim,
        }
    }

    /// Bounds on today's mean minus the baseline's, each one-sided at `C`; `None` without a
    /// statistical claim (fewer than two scores on a side).
    fn bounds(&self) -> Option<(f64, f64)> {
        let baseline = self.baseline?;
        if self.today.len() < 2 {
            return None;
        }
        let today = self.today.interval();
        Some((today.lower - baseline.upper, today.upper - baseline.lower))
    }

    /// The comparison so far (with no score today, today's mean is taken as 0).
    pub fn comparison(&self) -> Comparison {
        let today_mean = self.today.mean().unwrap_or_default();
        let bounds = self.bounds();
        Comparison {
            decision: self.comparison_decision(),
            baseline_mean: self.baseline_mean,
            today_mean,
            difference: today_mean - self.baseline_mean,
            lower: bounds.map(|b| b.0),
            upper: bounds.map(|b| b.1),
        }
    }
}

/// The suite's comparison over the shared cases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SuiteComparison {
    /// The mean over the cases of `today_mean - baseline_mean`.
    pub mean_difference: f64,
    /// Bounds on the mean of the true differences, each one-sided at `C`; `None` when any case
    /// has no statistical claim.
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// From the bounds against `-delta`, as for one case.
    pub decision: Regression,
}

/// Compares the suite: `cases` holds each shared case's (baseline scores, today's scores).
///
/// The suite's mean difference `(1/K) Σ (mean(today_k) - mean(baseline_k))` is one average of
/// independent scores in [0, 1], case `k`'s each weighing `1/(K n_k)` (today) or `1/(K m_k)`
/// (baseline); by Hoeffding's inequality for such a weighted sum it errs beyond
/// `sqrt(S ln(1/alpha) / 2)`, `S = (1/K²) Σ (1/n_k + 1/m_k)`, with probability at most
/// `alpha` on each side. Unlike a bound per case, that width shrinks with the number of cases,
/// so many small drops that no single case proves still show. As for one case only one of the
/// two decisions can be wrong, so each side gets the whole `alpha`.
///
/// Hoeffding holds for a sample whose size was fixed before any score was seen: the caller
/// passes only such trials (each case's first MIN, or all N of a fixed count), never trials a
/// sequential rule chose to add after seeing scores.
pub fn compare_suite(
    cases: &[(&[f64], &[f64])],
    delta: f64,
    confidence: f64,
) -> Result<SuiteComparison, RegressionError> {
    if cases.is_empty() {
        return Err(RegressionError::Empty);
    }
    let alpha = alpha(confidence).ok_or(RegressionError::Parameters)?;
    if !delta.is_finite() || delta < 0.0 {
        return Err(RegressionError::Parameters);
    }
    let k = cases.len() as f64;
    let mut mean_difference = 0.0;
    let mut spread = 0.0;
    let mut claim = true;
    for (baseline, today) in cases {
        if baseline.iter().chain(today.iter()).any(|s| !in_unit_range(*s)) {
            let bad = baseline.iter().chain(today.iter()).find(|s| !in_unit_range(**s));
            return Err(RegressionError::Score(bad.copied().unwrap_or(f64::NAN)));
        }
        if baseline.is_empty() || today.is_empty() {
            claim = false;
            continue;
        }
        let mean = |scores: &[f64]| scores.iter().sum::<f64>() / scores.len() as f64;
        mean_difference += (mean(today) - mean(baseline)) / k;
        spread += (1.0 / today.len() as f64 + 1.0 / baseline.len() as f64) / (k * k);
    }
    let width = (spread * (1.0 / alpha).ln() / 2.0).sqrt();
    let (lower, upper) = if claim {
        (
            Some((mean_difference - width).max(-1.0)),
            Some((mean_difference + width).min(1.0)),
        )
    } else {
        (None, None)
    };
    let decision = match (lower, upper) {
        (Some(_), Some(upper)) if upper < -delta => Regression::Regressed,
        (Some(lower), Some(_)) if lower >= -delta => Regression::Held,
        (Some(_), Some(_)) => Regression::Inconclusive,
        _ => Regression::NoClaim,
    };
    Ok(SuiteComparison {
        mean_difference,
        lower,
        upper,
        decision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trial_on_a_side_makes_no_claim() {
        let one = compare(&[0.9], &[0.5, 0.4, 0.3], 0.05, 0.95).expect("valid");
        assert_eq!(one.decision, Regression::NoClaim);
        assert_eq!((one.lower, one.upper), (None, None));
        assert!((one.difference - (0.4 - 0.9)).abs() < 1e-12);
        let today = compare(&[0.9, 0.8], &[0.2], 0.05, 0.95).expect("valid");
        assert_eq!(today.decision, Regression::NoClaim);
    }

    #[test]
    fn refuses_what_it_cannot_compare() {
        assert_eq!(compare(&[], &[0.5], 0.1, 0.95), Err(RegressionError::Empty));
        assert_eq!(
            compare(&[0.5, 1.5], &[0.5], 0.1, 0.95),
            Err(RegressionError::Score(1.5))
        );
        assert_eq!(compare(&[0.5], &[0.5], -0.1, 0.95), Err(RegressionError::Parameters));
        assert_eq!(compare(&[0.5], &[0.5], 0.1, 1.0), Err(RegressionError::Parameters));
        assert_eq!(compare_suite(&[], 0.1, 0.95), Err(RegressionError::Empty));
    }

    #[test]
    fn a_collapse_regresses_and_steady_scores_hold() {
        let baseline = [0.9, 0.95, 0.9, 0.85, 0.9, 0.95, 0.9, 0.9, 0.85, 0.9];
        let collapse = compare(
            &baseline,
            &[0.1, 0.0, 0.2, 0.1, 0.0, 0.1, 0.1, 0.2, 0.0, 0.1],
            0.05,
            0.95,
        )
        .expect("valid");
        assert_eq!(collapse.decision, Regression::Regressed);
        assert!(collapse.upper.expect("bounded") < -0.05, "{collapse:?}");
        let steady: Vec<f64> = baseline.iter().chain(&baseline).copied().collect();
        let held = compare(&baseline, &steady, 0.3, 0.95).expect("valid");
        assert_eq!(held.decision, Regression::Held, "{held:?}");
        assert!(held.lower.expect("bounded") >= -0.3);
        let close = compare(&baseline, &[0.85, 0.9], 0.05, 0.95).expect("valid");
        assert_eq!(close.decision, Regression::Inconclusive, "{close:?}");
        let bounds = (close.lower.expect("bounded"), close.upper.expect("bounded"));
        assert!(
            bounds.0 <= close.difference && close.difference <= bounds.1,
            "{close:?}"
        );
    }

    #[test]
    fn the_suite_averages_the_cases() {
        let baseline = [0.9; 20];
        let today = [0.1; 20];
        let cases: Vec<(&[f64], &[f64])> = vec![(&baseline, &today), (&baseline, &baseline)];
        let suite = compare_suite(&cases, 0.05, 0.95).expect("valid");
        assert!((suite.mean_difference - (-0.4)).abs() < 1e-12, "{suite:?}");
        let (lower, upper) = (suite.lower.expect("bounded"), suite.upper.expect("bounded"));
        assert!(lower <= suite.mean_difference && suite.mean_difference <= upper);
        assert_eq!(suite.decision, Regression::Regressed, "{suite:?}");
        let none: Vec<(&[f64], &[f64])> = vec![(&baseline[..0], &today)];
        assert_eq!(
            compare_suite(&none, 0.05, 0.95).expect("valid").decision,
            Regression::NoClaim
        );
    }

    /// Many cases, two trials a side, each dropping by 0.3: no case can prove it, the suite
    /// does; and a suite that dropped by exactly the margin is almost never called regressed.
    #[test]
    fn many_small_drops_that_no_case_proves_fail_the_suite() {
        use super::super::judges::{Judge, Rng};
        let mut rng = Rng(7);
        let judge = |rng: &mut Rng, mean: f64| Judge::Beta(10.0).sample(mean, rng);
        let suite_of = |rng: &mut Rng, before: f64, after: f64, cases: usize| {
            let scores: Vec<(Vec<f64>, Vec<f64>)> = (0..cases)
                .map(|_| {
                    (
                        (0..2).map(|_| judge(rng, before)).collect(),
                        (0..2).map(|_| judge(rng, after)).collect(),
                    )
                })
                .collect();
            let proved = scores
                .iter()
                .filter(|(b, t)| compare(b, t, 0.05, 0.95).map(|c| c.decision) == Ok(Regression::Regressed))
                .count();
            let pairs: Vec<(&[f64], &[f64])> = scores.iter().map(|(b, t)| (b.as_slice(), t.as_slice())).collect();
            (proved, compare_suite(&pairs, 0.05, 0.95).expect("valid").decision)
        };
        let (proved, decision) = suite_of(&mut rng, 0.9, 0.6, 60);
        assert_eq!(proved, 0, "two trials a side prove nothing for one case");
        assert_eq!(decision, Regression::Regressed);
        let wrong = (0..400)
            .filter(|_| suite_of(&mut rng, 0.9, 0.85, 60).1 == Regression::Regressed)
            .count();
        assert!(
            wrong <= 20,
            "false suite regressions at a drop of exactly the margin: {wrong} of 400"
        );
    }
}
