//! Learns how long runs take, so the first poll of a new run is not wasted when the budget is
//! scarce. Runs of one batch take similar times; the estimate is the smallest lower bound seen,
//! so a new run is first polled no later than the shortest run seen so far could have finished.

use std::time::Duration;

#[derive(Debug, Default)]
pub(super) struct DurationModel {
    lower_bounds: Vec<Duration>,
}

impl DurationModel {
    const MIN_SAMPLES: usize = 3;

    pub(super) fn record(&mut self, lower_bound: Duration) {
        self.lower_bounds.push(lower_bound);
    }

    pub(super) fn first_poll_delay(&self, interval: Duration) -> Duration {
        if self.lower_bounds.len() < Self::MIN_SAMPLES {
            return interval;
        }
        let shortest = self.lower_bounds.iter().min().copied().unwrap_or_default();
        interval.max(shortest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_poll_waits_for_the_shortest_run_seen() {
        let mut model = DurationModel::default();
        let interval = Duration::from_secs(2);
        assert_eq!(model.first_poll_delay(interval), interval);
        for secs in [9, 8, 10] {
            model.record(Duration::from_secs(secs));
        }
        assert_eq!(model.first_poll_delay(interval), Duration::from_secs(8));
        model.record(Duration::ZERO);
        assert_eq!(
            model.first_poll_delay(interval),
            interval,
            "never earlier than the interval"
        );
    }
}
