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

    /// The share of runs finished after `elapsed`. Each sample counts as a ramp 10 % either
    /// side of its value, so a run just short of a known duration is not taken as hopeless.
    fn finished_share(&self, elapsed: Duration) -> f64 {
        let e = elapsed.as_secs_f64();
        let sum: f64 = self
            .samples
            .iter()
            .map(|s| {
                let s = s.as_secs_f64();
                let half = (s * 0.1).max(0.001);
                ((e - (s - half)) / (2.0 * half)).clamp(0.0, 1.0)
            })
            .sum();
        sum / self.samples.len().max(1) as f64
    }

    /// How likely a run that was unfinished after `seen_unfinished` has finished by `elapsed`
    /// (both since its creation). A run that outlived every sample is as likely as can be.
    pub(super) fn finished_since(&self, seen_unfinished: Duration, elapsed: Duration) -> f64 {
        let before = self.finished_share(seen_unfinished);
        if before >= 1.0 {
            return 1.0;
        }
        ((self.finished_share(elapsed) - before) / (1.0 - before)).clamp(0.0, 1.0)
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
        let fresh = model.finished_since(Duration::ZERO, secs(5));
        let older = model.finished_since(Duration::ZERO, secs(25));
        assert!(fresh < 0.01 && older > 0.6, "{fresh} {older}");
        // Seen unfinished a moment ago: little has changed since.
        let just_seen = model.finished_since(secs(24), secs(25));
        assert!(just_seen < older / 2.0, "{just_seen}");
        // Outlived every run seen: poll it.
        assert_eq!(model.finished_since(secs(40), secs(41)), 1.0);
    }
}
