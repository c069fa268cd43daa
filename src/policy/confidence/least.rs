//! The least number of trials that can make a decision certain, given the threshold and the
//! confidence: the trials the best possible scores need (all 1 for a pass, all 0 for a fail).
//! Settings refuse a `MIN..MAX` range that cannot pass anything with `--inconclusive fail`,
//! `--dry-run` shows it per case, and the reports say it of an inconclusive case.

use super::{Decision, Sequential, Trials};

/// The least trials after which a pass, and a fail, can be certain. `None` when no number of
/// trials up to [`Trials::LIMIT`] can (a pass at a threshold of 1, a fail at a threshold of 0).
/// `Some(0)` when the threshold settles it before any score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeastTrials {
    pub pass: Option<u32>,
    pub fail: Option<u32>,
}

/// [`LeastTrials`] at `threshold` and `confidence`; `None` for a confidence not strictly
/// between 0 and 1 or a threshold that is not finite.
///
/// Perfect scores are the fastest way to a pass: each lifts the pass capital the most, and the
/// bets on the next score only grow with the scores so far. Likewise scores of 0 for a fail.
/// Any valid test needs at least `ln(1 / (1 - C)) / ln(1 / threshold)` trials for a pass (a
/// 0/1 judge with a mean just under the threshold gives that many 1s in a row with
/// probability `1 - C`); this one needs at most a trial or two more.
pub fn least_trials(threshold: f64, confidence: f64) -> Option<LeastTrials> {
    Some(LeastTrials {
        pass: first_certain(threshold, confidence, 1.0, Decision::Pass)?,
        fail: first_certain(threshold, confidence, 0.0, Decision::Fail)?,
    })
}

/// The number of repeated `score`s after which the decision is `wanted`, if within the limit.
fn first_certain(threshold: f64, confidence: f64, score: f64, wanted: Decision) -> Option<Option<u32>> {
    let mut sequence = Sequential::new(confidence, threshold)?;
    for n in 0..=Trials::LIMIT {
        match sequence.decision() {
            decision if decision == wanted => return Some(Some(n)),
            Decision::Undecided => {}
            // The other certain decision: it stands, so `wanted` never comes.
            _ => return Some(None),
        }
        sequence.push(score).ok()?;
    }
    Some(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_at_a_high_threshold_needs_many_trials() {
        let least = least_trials(0.8, 0.95).expect("valid");
        // The floor for any valid test: ceil(ln 20 / ln 1.25) = 14.
        let floor = ((1.0f64 / 0.05).ln() / (1.0f64 / 0.8).ln()).ceil() as u32;
        assert_eq!(floor, 14);
        let pass = least.pass.expect("reachable");
        assert!((floor..=floor + 2).contains(&pass), "{pass}");
        let fail = least.fail.expect("reachable");
        assert!((2..=3).contains(&fail), "{fail}");
    }

    #[test]
    fn thresholds_at_the_ends_of_the_scale() {
        let zero = least_trials(0.0, 0.95).expect("valid");
        assert_eq!(
            zero,
            LeastTrials {
                pass: Some(0),
                fail: None
            }
        );
        let above = least_trials(1.2, 0.95).expect("valid");
        assert_eq!(
            above,
            LeastTrials {
                pass: None,
                fail: Some(0)
            }
        );
        assert_eq!(least_trials(1.0, 0.95).expect("valid").pass, None);
        assert_eq!(least_trials(0.8, 1.0), None);
    }

    #[test]
    fn more_confidence_needs_more_trials() {
        let pass = |c| least_trials(0.8, c).and_then(|l| l.pass).expect("reachable");
        assert!(pass(0.8) < pass(0.95));
        assert!(pass(0.95) < pass(0.99));
    }
}
