//! Learns how long runs take, so that polls go where they are likely to pay off. Runs of one
//! batch take similar times. Each finished run adds its duration (from Kapso's `started_at` and
//! `ended_at` when it sends them, else the lower bound the gate saw); from those the model says
//! how likely a pending run is to have finished since it was last seen unfinished, and when a
//! new run's first poll is worth sending.

use std::time::Duration;

#[derive(Debug, Default)]
pub(super) struct DurationModel {
    samples: Vec<Duration>,
}

impl DurationModel {
    /// Samples needed before the first poll of a new run waits for the shortest run seen.
    const MIN_SAMPLES_FOR_DELAY: usize = 3;

    pub(super) fn record(&mut self, duration: Duration) {
        self.samples.push(duration);
    }

    pub(super) fn has_data(&self) -> bool {
        !self.samples.is_empty()
    }

    pub(super) fn first_poll_delay(&self, interval: Duration) -> Duration {
        if self.samples.len() < Self::MIN_SAMPLES_FOR_DELAY {
            return interval;
        }
        let shortest = self.samples.iter().min().copied().unwrap_or_default();
        interval.max(shortest)
    }

    /// The share of runs finished by each elapsed time, estimated (Kaplan-Meier) from the
    /// finished runs and from `unfinished`: how long each pending run was known to be still
    /// going. Counting the runs still going matters: when the first runs to finish are the
    /// short ones, the others are not all overdue.
    pub(super) fn estimate(&self, unfinished: &[Duration]) -> Estimate {
        let mut times: Vec<(Duration, bool)> = self
            .samples
            .iter()
            .map(|d| (*d, true))
            .chain(unfinished.iter().map(|d| (*d, false)))
            .collect();
        // At equal times, finished runs count before those still going.
        times.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut at_risk = times.len() as f64;
        let mut surviving = 1.0;
        let mut steps = Vec::new();
        let mut i = 0;
        while i < times.len() {
            let t = times[i].0;
            let (mut finished, mut going) = (0.0, 0.0);
            while i < times.len() && times[i].0 == t {
                if times[i].1 {
                    finished += 1.0;
                } else {
                    going += 1.0;
                }
                i += 1;
            }
            if finished > 0.0 {
                surviving *= 1.0 - finished / at_risk;
                steps.push((t, 1.0 - surviving));
            }
            at_risk -= finished + going;
        }
        Estimate { steps }
    }
}

/// The estimated share of runs finished by each elapsed time: a step function.
#[derive(Debug)]
pub(super) struct Estimate {
    steps: Vec<(Duration, f64)>,
}

impl Estimate {
    fn finished_by(&self, elapsed: Duration) -> f64 {
        let i = self.steps.partition_point(|(t, _)| *t <= elapsed);
        if i == 0 {
            0.0
        } else {
            self.steps[i - 1].1
        }
    }

    /// How likely a run that was unfinished after `seen_unfinished` has finished by `elapsed`
    /// (both since its creation). 1 when no run seen so far lasted as long.
    pub(super) fn finished_since(&self, seen_unfinished: Duration, elapsed: Duration) -> f64 {
        let before = self.finished_by(seen_unfinished);
        if before >= 1.0 - 1e-9 {
            return 1.0;
        }
        ((self.finished_by(elapsed) - before) / (1.0 - before)).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn first_poll_waits_for_the_shortest_run_seen() {
        let mut model = DurationModel::default();
        let interval = secs(2);
        assert_eq!(model.first_poll_delay(interval), interval);
        for s in [9, 8, 10] {
            model.record(secs(s));
        }
        assert_eq!(model.first_poll_delay(interval), secs(8));
        model.record(Duration::ZERO);
        assert_eq!(
            model.first_poll_delay(interval),
            interval,
            "never earlier than the interval"
        );
    }

    #[test]
    fn likelihood_grows_with_time_and_shrinks_after_an_unfinished_poll() {
        let mut model = DurationModel::default();
        for s in [10, 20, 30] {
            model.record(secs(s));
        }
        let estimate = model.estimate(&[]);
        let fresh = estimate.finished_since(Duration::ZERO, secs(5));
        let older = estimate.finished_since(Duration::ZERO, secs(25));
        assert!(fresh < 0.01 && older > 0.6, "{fresh} {older}");
        // Seen unfinished a moment ago: nothing finished since.
        assert_eq!(estimate.finished_since(secs(24), secs(25)), 0.0);
        // Outlived every run seen: poll it.
        assert_eq!(estimate.finished_since(secs(40), secs(41)), 1.0);
    }

    #[test]
    fn runs_still_going_keep_the_others_from_looking_overdue() {
        let mut model = DurationModel::default();
        model.record(secs(10));
        // Alone, one run of 10 s makes every older run look overdue.
        assert_eq!(model.estimate(&[]).finished_since(secs(30), secs(35)), 1.0);
        // Nine runs known to be going after 30 s say most runs take longer.
        let going = [secs(30); 9];
        let likely = model.estimate(&going).finished_since(secs(30), secs(35));
        assert!(likely < 0.2, "{likely}");
    }
}
