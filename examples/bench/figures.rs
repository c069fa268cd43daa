//! The arithmetic behind the figures: medians, scaled durations, reproducible random durations
//! and the request bound of a run.

use kapso_sim::RunRecord;
use std::time::Duration;

/// `ms` milliseconds of the unscaled scenario, multiplied by `scale`.
pub fn scaled(ms: f64, scale: f64) -> Duration {
    Duration::from_secs_f64(ms * scale / 1000.0)
}

/// A duration as printed: seconds with two decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The median of `values` (sorted in place); NaN when empty.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// When the last run finished, on the simulator's clock.
pub fn last_finish(runs: &[RunRecord]) -> Duration {
    runs.iter().filter_map(|r| r.finishes_at).max().unwrap_or_default()
}

/// 2 + ceil(duration / interval).
pub fn request_bound(duration: Duration, interval: Duration) -> usize {
    2 + duration.as_nanos().div_ceil(interval.as_nanos()) as usize
}

/// `Retry-After` in whole seconds (at least 1) for `ms` before scaling.
pub fn retry_after_secs(ms: f64, scale: f64) -> u64 {
    (ms * scale / 1000.0).ceil().max(1.0) as u64
}

/// A small deterministic generator, so every bench run sees reproducible durations.
#[derive(Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        let mut rng = Self(seed.max(1));
        // Nearby seeds start alike; a few rounds decorrelate them.
        for _ in 0..8 {
            rng.next_unit();
        }
        rng
    }

    /// Uniform in [0, 1].
    pub fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / ((1u64 << 53) - 1) as f64
    }
}
