//! How sure the gate is of a case's mean score: an anytime-valid confidence sequence for
//! sequential trials (`--trials MIN..MAX`), a fixed-sample interval for `--trials N`, and the
//! parsers for the trials spec and the `--inconclusive` policy. Pure arithmetic on `f64`, std
//! only; nothing here knows about runs, clients or reports.
//!
//! # Scores
//! Every function here takes scores in [0, 1]. A score below 0, above 1 or not finite is refused
//! (an error from [`Sequential::push`], `None` from [`fixed_interval`]), never clamped: clamping
//! would quietly bias the mean, and a score above 1 means the judge and the threshold disagree
//! on the scale, which the caller already warns about. The caller decides what a refused score
//! does to the case (for instance: warn, stop stopping early, and judge by the mean as today).
//!
//! # The sequential test (see [`Sequential`])
//! Let `m` be a candidate mean and `x_1, x_2, …` the scores, each with conditional mean `mu`
//! given the earlier ones. Before score `t` arrives we choose a fraction `f_t` in [0, 1) from
//! the earlier scores only, and multiply a "pass" capital by `1 - f_t + f_t * x_t / m`. Its
//! expectation is `1 - f_t + f_t * mu / m`, at most 1 whenever `mu <= m`: under "the mean is at
//! most `m`" the capital is a nonnegative supermartingale that starts at 1, and Ville's
//! inequality bounds the chance that it *ever* reaches `1 / alpha` by `alpha`. The "fail"
//! capital multiplies by `1 - g_t + g_t * (1 - x_t) / (1 - m)`, a supermartingale whenever
//! `mu >= m`, with the same bound. This is the testing-by-betting construction of
//! Waudby-Smith & Ramdas, "Estimating means of bounded random variables by betting" (JRSS-B,
//! 2023), written with bets as fractions of the largest safe stake. The gate computes both
//! capitals at the threshold: *pass* once the pass capital has reached `1 / alpha` (the data
//! rule out every mean below the threshold), *fail* once the fail capital has. Whatever the
//! stopping rule, even one that looks after every trial, a wrong pass (true mean below the
//! threshold) has probability at most `alpha`, and so has a wrong fail (true mean at or above
//! it). A case's true mean is either below the threshold or not, so only one of the two errors
//! is possible for it: each side may spend the whole `alpha`, and a certain pass or fail is
//! wrong with probability at most `1 - C`. (Splitting `alpha` between the sides would make the
//! gate twice as strict as it says and cost runs: `examples/trials.rs` measures both.)
//!
//! The interval is the same test run at every `m` in [0, 1]: the means that neither capital has
//! ruled out. The fractions depend on the earlier scores but not on `m`, so the pass capital
//! only falls as `m` grows and the fail capital only rises: the unrejected means form one
//! interval `[lower, upper]`, found by bisection, and it covers the true mean at every trial at
//! once, each end with probability at least `C`: the interval's two ends are *one-sided* `C`
//! bounds (the interval as a whole covers with at least `1 - 2 alpha`). The bisection is
//! bracketed by the threshold itself, so the threshold lies outside the interval exactly when
//! the decision is certain.
//!
//! The fractions are growth-optimal (Kelly) bets at the threshold, fitted to the scores seen so
//! far plus a pseudo-score of 0 and one of 1 (weight 0.05 each) so that one trial cannot make
//! them reckless, and capped at 0.97 of the safe stake. Any predictable choice keeps the
//! guarantee; this one only makes decisions come sooner. Because the bets aim at the
//! threshold, the end of the interval facing the threshold is the tight one; the far end stays
//! wide (a clearly failing case can show a lower end of 0). The reports therefore quote only
//! the end on the side of the threshold the mean is on: the one whose bets were placed.
//!
//! A pass can be certain only after enough perfect scores ([`least_trials`]): at threshold
//! 0.8 and C 0.95 no valid test can pass in fewer than 14 trials. The settings refuse a
//! MAX below that with `--inconclusive fail` (every case would fail) and warn without it.
//!
//! # Regressions against a baseline (see [`compare`])
//! Today's scores against a baseline's fixed sample, with a margin; the math is in
//! `regression.rs`.
//!
//! # The fixed-sample interval (see [`fixed_interval`])
//! With `--trials N` the same confidence sequence is read once, after the N-th score, as a
//! two-sided interval (each end at `alpha / 2`, since either end can miss), and each side's
//! bets aim where the running mean and variance predict that end of the interval will
//! land at N. A confidence sequence is in particular valid at the fixed time N, and it is at
//! least as tight as betting capital read only at N with the same bets. Unlike a Student-t
//! interval it is valid for any scores in [0, 1] and any N, including the skewed, two-valued
//! and constant score lists an LLM judge produces in 2 to 10 trials, where a t-interval
//! collapses to a point (ten perfect scores) or covers far less often than it claims.
//!
//! Also see Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric, nonasymptotic
//! confidence sequences" (Annals of Statistics, 2021) for the general theory of confidence
//! sequences and Ville's inequality.

mod bounds;
mod fixed;
#[cfg(test)]
mod judges;
mod least;
mod regression;
mod sequential;
#[cfg(test)]
mod simulation;
mod spec;

pub use fixed::fixed_interval;
pub use least::{least_trials, LeastTrials};
pub use regression::{
    compare, compare_suite, Comparison, Regression, RegressionError, RegressionSequence, SuiteComparison,
};
pub use sequential::{Decision, ScoreError, Sequential};
pub use spec::{Inconclusive, InconclusiveError, Trials, TrialsError};

/// A two-sided interval for a mean score, both ends in [0, 1] and `lower <= upper`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

impl Interval {
    /// Whether `value` lies in the closed interval.
    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }
}

/// The error rate `1 - confidence`, or `None` unless `confidence` is strictly between 0 and 1.
fn alpha(confidence: f64) -> Option<f64> {
    (confidence > 0.0 && confidence < 1.0).then_some(1.0 - confidence)
}

/// Whether a score is one these intervals accept.
fn in_unit_range(score: f64) -> bool {
    (0.0..=1.0).contains(&score)
}
