//! The anytime-valid confidence sequence and the pass/fail decision at a threshold (the math is
//! in the module doc of `confidence`).

use super::{alpha, bounds, in_unit_range, Interval};
use std::fmt;

/// How boldly the capitals bet. Any values keep the guarantee; they only change how soon a
/// decision comes (chosen with `examples/trials.rs`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Tuning {
    /// The largest fraction of the safe stake ever bet: a single score at the far end then
    /// costs at most this share of a capital instead of all of it.
    pub max_fraction: f64,
    /// Weight of each of the two pseudo-scores (0 and 1) that shrink the first bets.
    pub prior_weight: f64,
    /// The share of `alpha` given to the pass side (the fail side gets the rest).
    pub pass_share: f64,
}

impl Tuning {
    pub const DEFAULT: Tuning = Tuning {
        max_fraction: 0.97,
        prior_weight: 0.05,
        pass_share: 0.5,
    };
}

/// The bets are tuned at the threshold, kept this far inside (0, 1) so that a threshold of 0
/// or 1 still gives finite stakes (the decision there is already settled by the scores' range).
const BET_MARGIN: f64 = 0.05;

/// What the scores so far say about "mean >= threshold".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Certain: the mean is at or above the threshold, with error at most `1 - C`.
    Pass,
    /// Certain: the mean is below the threshold, with error at most `1 - C`.
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
#[derive(Debug, Clone)]
pub struct Sequential {
    threshold: f64,
    /// A capital that reaches its bar has ruled its hypothesis out: `1 / (alpha / 2)` each.
    pass_bar: f64,
    fail_bar: f64,
    tuning: Tuning,
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
    /// threshold below 0 passes and one above 1 fails before any score (scores are in [0, 1]).
    pub fn new(confidence: f64, threshold: f64) -> Option<Sequential> {
        Sequential::tuned(confidence, threshold, Tuning::DEFAULT, Aim::Threshold)
    }

    pub(super) fn tuned(confidence: f64, threshold: f64, tuning: Tuning, aim: Aim) -> Option<Sequential> {
        let alpha = alpha(confidence)?;
        if !threshold.is_finite() {
            return None;
        }
        let mut sequence = Sequential {
            threshold,
            pass_bar: 1.0 / (alpha * tuning.pass_share),
            fail_bar: 1.0 / (alpha * (1.0 - tuning.pass_share)),
            tuning,
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
    /// above `upper` for a fail. With no scores it is [0, 1].
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
        capital.peak >= if side == Side::Pass { self.pass_bar } else { self.fail_bar }
    }

    /// The certain decision the running capitals at the threshold support, if any. A fail wins
    /// a tie: both at once needs a score equal to the threshold to move neither, so it only
    /// happens for a threshold outside [0, 1], which cannot be both.
    fn certain_now(&self) -> Option<Decision> {
        let m = self.threshold;
        if m > 1.0 || self.fail.peak >= self.fail_bar {
            Some(Decision::Fail)
        } else if m < 0.0 || self.pass.peak >= self.pass_bar {
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
            kelly(&self.scores, self.sum, pass, self.next_bets.0, self.tuning),
            kelly(&self.scores, self.sum, fail, self.next_bets.1, self.tuning),
        )
    }
}

/// Where the bets of each side are tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Aim {
    /// Both at the threshold: the fastest decision.
    Threshold,
    /// For an interval read after exactly this many scores: each side where the running mean
    /// and variance predict that end of the interval will be.
    Horizon(u32),
}

impl Sequential {
    /// The means (pass side, fail side) the next bets are tuned for, inside (0, 1).
    fn aims(&self) -> (f64, f64) {
        let clamp = |m: f64| m.clamp(BET_MARGIN, 1.0 - BET_MARGIN);
        let Aim::Horizon(n) = self.aim else {
            return (clamp(self.threshold), clamp(self.threshold));
        };
        let weight = self.tuning.prior_weight;
        let count = 2.0 * weight + self.scores.len() as f64;
        let mean = (weight + self.sum) / count;
        let variance = ((weight + self.squares) / count - mean * mean).max(0.0);
        let half = (2.0 * (2.0 / self.alpha).ln() * variance / f64::from(n)).sqrt();
        (clamp(mean - half), clamp(mean + half))
    }

    /// A sequence whose bets serve the interval rather than a threshold (the threshold it
    /// carries only brackets the bisection; its decision means nothing).
    pub(super) fn aimed(confidence: f64, aim: Aim) -> Option<Sequential> {
        Sequential::tuned(confidence, 0.5, Tuning::DEFAULT, aim)
    }
}

/// What one unit of stake returns on a score `x`: `offset + slope * x`.
#[derive(Debug, Clone, Copy)]
struct Gain {
    offset: f64,
    slope: f64,
}

/// The fraction `f` in [0, `max_fraction`] that maximises the sum of `log(1 + f * gain(x))` over
/// `scores` and the pseudo-scores 0 and 1 (weight `prior_weight` each): concave in `f`, solved
/// by Newton steps kept inside a shrinking bracket, starting from the previous bet. The bet
/// need not be exact (any fraction keeps the guarantee), so a loose tolerance keeps it cheap.
fn kelly(scores: &[f64], sum: f64, gain: Gain, start: f64, tuning: Tuning) -> f64 {
    let Tuning {
        max_fraction,
        prior_weight,
        ..
    } = tuning;
    let at_zero = gain.offset * (2.0 * prior_weight + scores.len() as f64)
        + gain.slope * (prior_weight + sum);
    if at_zero <= 0.0 {
        return 0.0;
    }
    // The objective's first derivative at `f` and minus its second.
    let derivatives = |f: f64| {
        let mut first = 0.0;
        let mut curvature = 0.0;
        for (x, weight) in [(0.0, prior_weight), (1.0, prior_weight)] {
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
    let (mut low, mut high) = (0.0, max_fraction);
    let mut f = if start > low && start <= high { start } else { high / 2.0 };
    for _ in 0..30 {
        let (first, curvature) = derivatives(f);
        if first > 0.0 {
            if f >= max_fraction {
                return max_fraction;
            }
            low = f;
        } else {
            high = f;
        }
        let mut next = f + first / curvature;
        if next >= max_fraction && high >= max_fraction {
            next = max_fraction;
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
