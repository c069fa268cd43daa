//! The fixed-sample interval for `--trials N`: the same confidence sequence, read once after the
//! last trial, with bets aimed at where each end of the interval is expected to land.

use super::sequential::Sequential;
use super::{in_unit_range, Interval};

/// A `confidence` interval (e.g. 0.95) for the mean of `scores`, valid for any scores in [0, 1]
/// and any number of them. `None` with fewer than two scores, a score outside [0, 1] or not a
/// number (refused, not clamped), or `confidence` not strictly between 0 and 1.
pub fn fixed_interval(scores: &[f64], confidence: f64) -> Option<Interval> {
    if scores.len() < 2 || !scores.iter().all(|s| in_unit_range(*s)) {
        return None;
    }
    let horizon = u32::try_from(scores.len()).unwrap_or(u32::MAX);
    let mut sequence = Sequential::for_interval(confidence, horizon)?;
    for &score in scores {
        sequence.push(score).ok()?;
    }
    Some(sequence.interval())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_it_cannot_bound() {
        assert_eq!(fixed_interval(&[0.5], 0.95), None);
        assert_eq!(fixed_interval(&[], 0.95), None);
        assert_eq!(fixed_interval(&[0.5, 1.2], 0.95), None);
        assert_eq!(fixed_interval(&[0.5, -0.1], 0.95), None);
        assert_eq!(fixed_interval(&[0.5, f64::NAN], 0.95), None);
        assert_eq!(fixed_interval(&[0.5, 0.6], 1.0), None);
        assert_eq!(fixed_interval(&[0.5, 0.6], 0.0), None);
    }

    #[test]
    fn constant_scores_still_get_an_honest_width() {
        // A Student-t interval would be the single point 1: ten perfect scores do not rule out
        // a judge that gives 0 one time in five (0.8^10 is about 11 %).
        let interval = fixed_interval(&[1.0; 10], 0.95).expect("valid");
        assert_eq!(interval.upper, 1.0);
        assert!(interval.lower < 0.8 && interval.lower > 0.3, "{interval:?}");
        let interval = fixed_interval(&[0.0; 10], 0.95).expect("valid");
        assert_eq!(interval.lower, 0.0);
        assert!(interval.upper > 0.2 && interval.upper < 0.7, "{interval:?}");
    }

    #[test]
    fn more_trials_and_more_confidence_change_the_width_the_right_way() {
        let scores: Vec<f64> = (0..20).map(|i| 0.7 + 0.01 * f64::from(i % 7)).collect();
        let width = |scores: &[f64], confidence: f64| {
            let interval = fixed_interval(scores, confidence).expect("valid");
            assert!(interval.contains(0.73), "{interval:?}");
            interval.upper - interval.lower
        };
        assert!(width(&scores, 0.95) < width(&scores[..5], 0.95));
        assert!(width(&scores, 0.8) < width(&scores, 0.95));
    }
}
