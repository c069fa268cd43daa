//! The anytime-valid confidence sequence and the pass/fail decision at a threshold (the math is
//! in the module doc of `confidence`).

use super::{alpha, bounds, in_unit_range, Interval};
use std::fmt;

/// The largest fraction of the safe stake ever bet: one score at the far end then costs at most
/// 97 % of a capital instead of all of it. With the prior weight below, chosen by simulation
/// (`examples/trials.rs`): any values keep the guarantee, they only change how soon a decision
/// comes, and these let ten perfect scores in a row keep betting almost everything.
const MAX_FRACTION: f64 = 0.97;

/// Weight of each of the two pseudo-scores (0 and 1) that shrink the first bets.
const PRIOR_WEIGHT: f64 = 0.05;

/// The bets are tuned at the threshold, kept this far inside (0, 1) so that a threshold of 0
/// or 1 still gives finite stakes (the decision there is already settled by the scores' range).
const BET_MARGIN: f64 = 0.05;

/// What the scores so far say about "mean >= threshold".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Certain: the mean is at or above the threshold; wrong with probability at most `1 - C`.
    Pass,
    /// Certain: the mean is below the threshold; wrong with probability at most `1 - C` (a
    /// mean exactly at the threshold passes, so a fail there is wrong).
    Fail,
    /// The interval still contains the threshold.
    Undecided,
}

/// A score outside [0, 1] (or not a number); the state is left as it was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreError {
    pub score: f64,
}

impl fmt::Display for ScoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "score {} is outside 0 to 1: the confidence interval needs scores on the 0-1 scale",
            self.score
        )
    }
}

impl std::error::Error for ScoreError {}

/// Which hypothesis a capital bets against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Grows when scores sit above `m`: reaching the bar rules out every mean below `m`.
    Pass,
    /// Grows when scores sit below `m`: reaching the bar rules out every mean at or above `m`.
    Fail,
}

/// One capital's value and the highest value it has reached.
#[derive(Debug, Clone, Copy)]
struct Capital {
    value: f64,
    peak: f64,
}

impl Capital {
    const START: Capital = Capital { value: 1.0, peak: 1.0 };

    fn grow(&mut self, factor: f64) {
        self.value *= factor;
        self.peak = self.peak.max(self.value);
    }
}

/// The factor a capital is multiplied by for score `x` when `fraction` of the safe stake is bet
/// against the mean `m`. The short-cuts avoid 0/0 at `m` = 0 or 1, where a score strictly
/// inside the range proves the hypothesis false (an infinite factor).
fn factor(side: Side, fraction: f64, x: f64, m: f64) -> f64 {
    match side {
        Side::Pass if fraction == 0.0 || x == 0.0 => 1.0 - fraction,
        Side::Pass => 1.0 - fraction + fraction * x / m,
        Side::Fail if fraction == 0.0 || x == 1.0 => 1.0 - fraction,
        Side::Fail => 1.0 - fraction + fraction * (1.0 - x) / (1.0 - m),
    }
}

/// Scores one trial at a time and says, after each, whether the case's mean is certainly at or
/// above the threshold, certainly below it, or not known yet. Valid however the caller decides
/// when to look or stop (see the module doc).
///
/// Push the scores in trial order (trial 0 first), holding back one that finishes before an
/// earlier trial: the bets assume each score is a fresh draw, and the order in which runs
/// finish can depend on their scores (long conversations may score lower). Trial order also
/// makes the decision the same when a re-attached gate replays the scores.
#[derive(Debug, Clone)]
pub struct Sequential {
    threshold: f64,
    /// A capital that reaches this has ruled its hypothesis out: `1 / alpha`. Each side gets
    /// the whole `alpha` because a case can only be wrong on one side (see the module doc).
    bar: f64,
    aim: Aim,
    alpha: f64,
    scores: Vec<f64>,
    sum: f64,
    squares: f64,
    /// The (pass, fail) fractions bet on each score, chosen before it arrived.
    bets: Vec<(f64, f64)>,
    next_bets: (f64, f64),
    /// Both capitals at the threshold, kept up to date so that a decision costs nothing.
    pass: Capital,
    fail: Capital,
    /// The first certain decision; it stands even if later scores would contradict it.
    decided: Option<Decision>,
}

impl Sequential {
    /// A sequence at confidence `confidence` (e.g. 0.95) for deciding "mean >= `threshold`".
    /// `None` unless `confidence` is strictly between 0 and 1 and `threshold` is finite. A
    /// threshold at or below 0 passes and one above 1 fails before any score: scores are in
    /// [0, 1], so every mean is at least 0 and none is above 1.
    pub fn new(confidence: f64, threshold: f64) -> Option<Sequential> {
        Sequential::aimed(confidence, threshold, Aim::Threshold)
    }

    pub(super) fn aimed(confidence: f64, threshold: f64, aim: Aim) -> Option<Sequential> {
        let alpha = alpha(confidence)?;
        if !threshold.is_finite() {
            return None;
        }
        let mut sequence = Sequential {
            threshold,
            bar: aim.sides() / alpha,
            aim,
            alpha,
            scores: Vec::new(),
            sum: 0.0,
            squares: 0.0,
            bets: Vec::new(),
            next_bets: (0.0, 0.0),
            pass: Capital::START,
            fail: Capital::START,
            decided: None,
        };
        sequence.next_bets = sequence.choose_bets();
        sequence.decided = sequence.certain_now();
        Some(sequence)
    }

    /// Adds one trial's score. A score outside [0, 1] is refused and changes nothing.
    pub fn push(&mut self, score: f64) -> Result<(), ScoreError> {
        if !in_unit_range(score) {
            return Err(ScoreError { score });
        }
        let (pass_bet, fail_bet) = self.next_bets;
        let m = self.threshold;
        if (0.0..=1.0).contains(&m) {
            self.pass.grow(factor(Side::Pass, pass_bet, score, m));
            self.fail.grow(factor(Side::Fail, fail_bet, score, m));
        }
        self.scores.push(score);
        self.sum += score;
        self.squares += score * score;
        self.bets.push(self.next_bets);
        self.next_bets = self.choose_bets();
        if self.decided.is_none() {
            self.decided = self.certain_now();
        }
        Ok(())
    }

    /// The decision at the threshold. Once certain it stays certain.
    pub fn decision(&self) -> Decision {
        self.decided.unwrap_or(Decision::Undecided)
    }

    /// The confidence sequence at this trial: the means not yet ruled out. The threshold is
    /// outside it exactly when [`Sequential::decision`] is certain: below `lower` for a pass,
    /// above `upper` for a fail; except a threshold of 0, a pass before any score (every mean
    /// is at least 0) while the interval may still start at 0. With no scores it is [0, 1].
    pub fn interval(&self) -> Interval {
        let pivot = Some(self.threshold);
        let lower = bounds::lower_end(|m| self.rejected(Side::Pass, m), pivot);
        let upper = bounds::upper_end(|m| self.rejected(Side::Fail, m), pivot);
        if lower <= upper {
            return Interval { lower, upper };
        }
        // Both sides have ruled the threshold out, which happens with probability at most
        // 1 - C: the first decision stands and the interval shrinks to the end that made it.
        match self.decision() {
            Decision::Fail => Interval { lower: upper, upper },
            _ => Interval { lower, upper: lower },
        }
    }

    /// The mean of the scores so far, `None` before the first.
    pub fn mean(&self) -> Option<f64> {
        (!self.scores.is_empty()).then(|| self.sum / self.scores.len() as f64)
    }

    /// How many scores have been pushed.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Whether every mean below `m` is ruled out: the interval's lower end is at or above `m`.
    /// One pass over the scores, where [`Sequential::interval`] bisects.
    pub(super) fn rules_out_below(&self, m: f64) -> bool {
        self.rejected(Side::Pass, m)
    }

    /// Whether every mean at or above `m` is ruled out: the interval's upper end is below `m`.
    pub(super) fn rules_out_from(&self, m: f64) -> bool {
        self.rejected(Side::Fail, m)
    }

    /// Whether the capital on `side`, run at the mean `m` over every score so far, has ever
    /// reached the bar. The same arithmetic, in the same order, as the running capitals at the
    /// threshold, so the interval and the decision agree to the last bit.
    fn rejected(&self, side: Side, m: f64) -> bool {
        match side {
            Side::Pass if m < 0.0 => return true,
            Side::Fail if m > 1.0 => return true,
            _ => {}
        }
        let mut capital = Capital::START;
        for (&x, &(pass_bet, fail_bet)) in self.scores.iter().zip(&self.bets) {
            let fraction = if side == Side::Pass { pass_bet } else { fail_bet };
            capital.grow(factor(side, fraction, x, m));
        }
        capital.peak >= self.bar
    }

    /// The certain decision the running capitals at the threshold support, if any. Called only
    /// while undecided, and one score cannot lift both capitals (it sits on one side of the
    /// threshold), so at most one side can have just reached the bar.
    fn certain_now(&self) -> Option<Decision> {
        let m = self.threshold;
        if m > 1.0 || self.fail.peak >= self.bar {
            Some(Decision::Fail)
        } else if m <= 0.0 || self.pass.peak >= self.bar {
            Some(Decision::Pass)
        } else {
            None
        }
    }

    /// The fractions to bet on the next score: for each side, the constant fraction that would
    /// have grown its capital most over the scores so far plus the two pseudo-scores.
    fn choose_bets(&self) -> (f64, f64) {
        let (pass_at, fail_at) = self.aims();
        // A side's gain per unit stake is affine in the score: `offset + slope * x`.
        let pass = Gain {
            offset: -1.0,
            slope: 1.0 / pass_at,
        };
        let fail = Gain {
            offset: fail_at / (1.0 - fail_at),
            slope: -1.0 / (1.0 - fail_at),
        };
        (
            kelly(&self.scores, self.sum, pass, self.next_bets.0),
            kelly(&self.scores, self.sum, fail, self.next_bets.1),
        )
    }
}

/// Where the bets of each side are tuned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Aim {
    /// Both at the threshold: the fastest decision.
    Threshold,
    /// For an interval read after exactly this many scores: each side where the running mean
    /// and variance predict that end of the interval will be.
    Horizon(u32),
    /// The pass side (the lower end) at the first mean, the fail side (the upper end) at the
    /// second: two one-sided bounds, each facing its own comparison point.
    Points(f64, f64),
}

impl Aim {
    /// How many ways `alpha` is split. A decision or a one-sided bound can only be wrong on
    /// one side at a time, so each side may err with `alpha`; a two-sided interval (`Horizon`)
    /// misses when either end does, so each end gets `alpha / 2`.
    fn sides(self) -> f64 {
        match self {
            Aim::Threshold | Aim::Points(..) => 1.0,
            Aim::Horizon(_) => 2.0,
        }
    }
}

impl Sequential {
    /// The means (pass side, fail side) the next bets are tuned for, inside (0, 1).
    fn aims(&self) -> (f64, f64) {
        let clamp = |m: f64| m.clamp(BET_MARGIN, 1.0 - BET_MARGIN);
        let n = match self.aim {
            Aim::Threshold => return (clamp(self.threshold), clamp(self.threshold)),
            Aim::Points(pass, fail) => return (clamp(pass), clamp(fail)),
            Aim::Horizon(n) => n,
        };
        let weight = PRIOR_WEIGHT;
        let count = 2.0 * weight + self.scores.len() as f64;
        let mean = (weight + self.sum) / count;
        let variance = ((weight + self.squares) / count - mean * mean).max(0.0);
        let half = (2.0 * (2.0 / self.alpha).ln() * variance / f64::from(n)).sqrt();
        (clamp(mean - half), clamp(mean + half))
    }

    /// A sequence whose bets serve the interval rather than a threshold (the threshold it
    /// carries only brackets the bisection; its decision means nothing).
    pub(super) fn for_interval(confidence: f64, horizon: u32) -> Option<Sequential> {
        Sequential::aimed(confidence, 0.5, Aim::Horizon(horizon))
    }
}

/// What one unit of stake returns on a score `x`: `offset + slope * x`.
#[derive(Debug, Clone, Copy)]
struct Gain {
    offset: f64,
    slope: f64,
}

/// The fraction `f` in [0, `MAX_FRACTION`] that maximises the sum of `log(1 + f * gain(x))` over
/// `scores` and the pseudo-scores 0 and 1 (weight `PRIOR_WEIGHT` each): concave in `f`, solved
/// by Newton steps kept inside a shrinking bracket, starting from the previous bet. The bet
/// need not be exact (any fraction keeps the guarantee), so a loose tolerance keeps it cheap.
fn kelly(scores: &[f64], sum: f64, gain: Gain, start: f64) -> f64 {
    let at_zero = gain.offset * (2.0 * PRIOR_WEIGHT + scores.len() as f64) + gain.slope * (PRIOR_WEIGHT + sum);
    if at_zero <= 0.0 {
        return 0.0;
    }
    // The objective's first derivative at `f` and minus its second.
    let derivatives = |f: f64| {
        let mut first = 0.0;
        let mut curvature = 0.0;
        for (x, weight) in [(0.0, PRIOR_WEIGHT), (1.0, PRIOR_WEIGHT)] {
            let ratio = (gain.offset + gain.slope * x) / (1.0 + f * (gain.offset + gain.slope * x));
            first += weight * ratio;
            curvature += weight * ratio * ratio;
        }
        for &x in scores {
            let y = gain.offset + gain.slope * x;
            let ratio = y / (1.0 + f * y);
            first += ratio;
            curvature += ratio * ratio;
        }
        (first, curvature)
    };
    // Start from the previous bet: consecutive bets barely move, so one or two Newton steps
    // usually settle it, and a bet at the cap is confirmed by a single pass.
    let (mut low, mut high) = (0.0, MAX_FRACTION);
    let mut f = if start > low && start <= high {
        start
    } else {
        high / 2.0
    };
    for _ in 0..30 {
        let (first, curvature) = derivatives(f);
        if first > 0.0 {
            if f >= MAX_FRACTION {
                return MAX_FRACTION;
            }
            low = f;
        } else {
            high = f;
        }
        let mut next = f + first / curvature;
        if next >= MAX_FRACTION && high >= MAX_FRACTION {
            next = MAX_FRACTION;
        } else if !(next > low && next < high) {
            next = low + (high - low) / 2.0;
        }
        if (next - f).abs() < 1e-3 {
            return next;
        }
        f = next;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_parameters_and_scores() {
        assert!(Sequential::new(1.0, 0.8).is_none());
        assert!(Sequential::new(0.0, 0.8).is_none());
        assert!(Sequential::new(f64::NAN, 0.8).is_none());
        assert!(Sequential::new(0.95, f64::INFINITY).is_none());
        let mut sequence = Sequential::new(0.95, 0.8).expect("valid");
        sequence.push(0.9).expect("in range");
        for bad in [1.5, -0.1, f64::NAN, f64::INFINITY] {
            let error = sequence.push(bad).expect_err("refused");
            assert!(error.to_string().contains("outside 0 to 1"), "{error}");
        }
        assert_eq!(sequence.len(), 1);
        assert_eq!(sequence.mean(), Some(0.9));
    }

    #[test]
    fn before_any_score() {
        let sequence = Sequential::new(0.95, 0.8).expect("valid");
        assert!(sequence.is_empty());
        assert_eq!(sequence.mean(), None);
        assert_eq!(sequence.decision(), Decision::Undecided);
        assert_eq!(sequence.interval(), Interval { lower: 0.0, upper: 1.0 });
        // Scores are in [0, 1], so these thresholds are settled before the first trial.
        assert_eq!(Sequential::new(0.95, 1.2).expect("valid").decision(), Decision::Fail);
        assert_eq!(Sequential::new(0.95, -0.1).expect("valid").decision(), Decision::Pass);
    }

    /// The first trial at which `score`, repeated, makes the decision certain.
    fn trials_to_decide(score: f64, threshold: f64) -> (Decision, usize) {
        let mut sequence = Sequential::new(0.95, threshold).expect("valid");
        while sequence.decision() == Decision::Undecided && sequence.len() < 50 {
            sequence.push(score).expect("in range");
        }
        (sequence.decision(), sequence.len())
    }

    #[test]
    fn a_clear_fail_is_certain_within_three_trials_but_never_after_one() {
        // One score of 0.1 is too little: a judge with mean 0.8 gives 0 about one time in five.
        let (decision, trials) = trials_to_decide(0.1, 0.8);
        assert_eq!(decision, Decision::Fail);
        assert!((2..=3).contains(&trials), "{trials}");
    }

    #[test]
    fn perfect_scores_pass_only_once_chance_is_ruled_out() {
        // A 0/1 judge with mean just under 0.8 gives n perfect scores in a row with probability
        // about 0.8^n, which only falls under 1 - C = 0.05 at n = 14: no valid test may pass
        // sooner, and this one should not need much more.
        let (decision, trials) = trials_to_decide(1.0, 0.8);
        assert_eq!(decision, Decision::Pass);
        assert!((14..=16).contains(&trials), "{trials}");
        assert!(0.8f64.powi(trials as i32) <= 0.05);
    }

    #[test]
    fn scores_exactly_at_the_threshold_never_decide() {
        let (decision, trials) = trials_to_decide(0.8, 0.8);
        assert_eq!((decision, trials), (Decision::Undecided, 50));
    }
}
