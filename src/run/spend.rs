//! What the gate spends: the rules of `--max-runs` (whether every case's MIN trials fit the
//! cap, and which undecided case is nearest a decision when extra trials must be rationed) and
//! the expected number of runs the dry run shows. Pure arithmetic over the confidence sequence;
//! the scheduler enforces the cap, `gate` and `dry_run` ask these rules.
//!
//! # Nearest a decision
//! A `MIN..MAX` case is decided once its confidence sequence rules the threshold out. Its
//! distance from a decision is how many more trials it would need if every further score
//! equalled its mean so far: the confidence state (the betting capital behind the interval)
//! carried forward on the case's own evidence. A case whose mean sits well away from the
//! threshold, with scores that agree, is a trial or two away; one whose mean sits on the
//! threshold never gets there (an infinite distance). When the cap cannot pay for every extra
//! trial wanted, the smallest distances go first, ties in selection order.
//!
//! # The expected count
//! The dry run cannot know the judge's scores, so it states an assumption: every trial of a
//! case scores the same value, a steady judge 0.1 away from the threshold (half the cases
//! above it, half below). Trials then stop at the first trial count at which the confidence
//! sequence decides; a noisier judge, or a case nearer the threshold, needs more, up to MAX.

use crate::policy::confidence::{Decision, Sequential, Trials};

/// How many more trials the case with `scores` (in trial order) would need to be decided at
/// `threshold` if each scored its mean so far (see the module docs); 0 once decided, infinite
/// when that never happens within [`LOOKAHEAD`] trials or the scores are on another scale.
pub fn distance_to_decision(scores: &[f64], confidence: f64, threshold: f64) -> f64 {
    let Some(mut sequence) = Sequential::new(confidence, threshold) else {
        return f64::INFINITY;
    };
    for score in scores {
        if sequence.push(*score).is_err() {
            return f64::INFINITY;
        }
    }
    let Some(mean) = sequence.mean() else {
        return f64::INFINITY;
    };
    for extra in 0..=LOOKAHEAD {
        if sequence.decision() != Decision::Undecided {
            return f64::from(extra);
        }
        if sequence.push(mean).is_err() {
            break;
        }
    }
    f64::INFINITY
}

/// The most extra trials [`distance_to_decision`] looks ahead: the largest MAX `--trials` takes.
const LOOKAHEAD: u32 = 50;

/// Ranks undecided cases for extra trials: nearest a decision first, then the lower index
/// (selection order), so the order is total and repeatable.
pub fn nearest_first(a: (f64, usize), b: (f64, usize)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// Why the runs every case needs at least do not fit the cap, or `None` when they do.
pub fn min_runs_exceed_cap(needed: usize, cap: usize, shard_note: Option<&str>) -> Option<String> {
    (needed > cap).then(|| {
        let cap_label = match shard_note {
            Some(note) => format!("--max-runs allows {cap} ({note})"),
            None => format!("--max-runs allows {cap}"),
        };
        format!(
            "the selection needs at least {needed} runs (every case's MIN trials) but {cap_label}; raise --max-runs, lower MIN in --trials, or run fewer cases (--sample)"
        )
    })
}

/// The distance from the threshold of the steady judge the expected count assumes.
const ASSUMED_MARGIN: f64 = 0.1;

/// The runs one case is expected to take under the module's stated assumption: MIN..MAX trials
/// stop at the first certain decision of a steady judge [`ASSUMED_MARGIN`] above or below the
/// threshold (the mean of both); a fixed count takes exactly its count.
pub fn expected_runs_per_case(trials: Trials, confidence: f64, threshold: f64) -> f64 {
    if !trials.is_sequential() {
        return f64::from(trials.max());
    }
    let runs_at = |score: f64| {
        let Some(mut sequence) = Sequential::new(confidence, threshold) else {
            return trials.max();
        };
        let mut done = 0;
        while trials.wants_more(done, sequence.decision()) {
            if sequence.push(score.clamp(0.0, 1.0)).is_err() {
                return trials.max();
            }
            done += 1;
        }
        if sequence.decision() == Decision::Undecided {
            trials.max()
        } else {
            done
        }
    };
    let above = runs_at(threshold + ASSUMED_MARGIN);
    let below = runs_at(threshold - ASSUMED_MARGIN);
    f64::from(above + below) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_case_is_nearer_than_a_close_one_and_a_straddling_one_is_farthest() {
        let steady = distance_to_decision(&[0.3, 0.3], 0.95, 0.8);
        let near = distance_to_decision(&[0.6, 0.7], 0.95, 0.8);
        let straddling = distance_to_decision(&[0.6, 1.0], 0.95, 0.8);
        assert!(steady < near, "{steady} vs {near}");
        assert!(near.is_finite(), "{near}");
        assert_eq!(straddling, f64::INFINITY, "a mean on the threshold never decides");
        assert_eq!(distance_to_decision(&[2.0], 0.95, 0.8), f64::INFINITY);
        assert_eq!(distance_to_decision(&[0.0; 6], 0.95, 0.8), 0.0);
    }

    #[test]
    fn nearest_first_breaks_ties_by_selection_order() {
        let mut cases = [(0.2, 3), (0.1, 2), (0.2, 1), (f64::INFINITY, 0)];
        cases.sort_by(|a, b| nearest_first(*a, *b));
        assert_eq!(cases.iter().map(|c| c.1).collect::<Vec<_>>(), vec![2, 1, 3, 0]);
    }

    #[test]
    fn min_runs_that_do_not_fit_say_how_many_are_needed() {
        assert_eq!(min_runs_exceed_cap(10, 10, None), None);
        let message = min_runs_exceed_cap(12, 10, Some("shard 1/2's share of 20")).expect("does not fit");
        assert!(message.contains("at least 12 runs"), "{message}");
        assert!(message.contains("allows 10 (shard 1/2's share of 20)"), "{message}");
    }

    #[test]
    fn expected_runs_lie_between_min_and_max() {
        let range = Trials::Sequential { min: 2, max: 10 };
        let expected = expected_runs_per_case(range, 0.95, 0.8);
        assert!((2.0..=10.0).contains(&expected), "{expected}");
        assert_eq!(expected_runs_per_case(Trials::Fixed(3), 0.95, 0.8), 3.0);
        // The same sequence of trials, stopped later at most: a larger MAX never spends less.
        for threshold in [0.5, 0.8] {
            let short = expected_runs_per_case(range, 0.95, threshold);
            let long = expected_runs_per_case(Trials::Sequential { min: 2, max: 20 }, 0.95, threshold);
            assert!(short <= long && long <= 20.0, "{threshold}: {short} vs {long}");
        }
    }
}
