//! The one table of built-in defaults. The settings resolver falls back to these values, the
//! `--help` text shows them (see `cli::command`), and a test holds the options tables (the
//! book's `docs/options.md` and the README's short one) to them, so the three cannot drift apart.

use crate::policy::confidence::{Inconclusive, Trials};
use crate::policy::verdict::Aggregate;
use std::time::Duration;

pub const THRESHOLD: f64 = 0.8;
pub const TRIALS: Trials = Trials::Fixed(1);
/// The confidence of the intervals and of sequential decisions.
pub const CONFIDENCE: f64 = 0.95;
pub const INCONCLUSIVE: Inconclusive = Inconclusive::Estimate;
pub const AGGREGATE: Aggregate = Aggregate::Mean;
pub const BASE_URL: &str = "https://app.kapso.ai/api/v1";
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);
pub const TIMEOUT: Duration = Duration::from_secs(30 * 60);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const CONCURRENCY: usize = 8;
/// Where `--rate-limit auto` starts (Kapso's free plan) before the server announces its own.
pub const RATE_LIMIT: u32 = 100;
/// The window the rate limit counts in (a hidden knob, for benchmarks that scale time).
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// Past this age a baseline is warned about in every report.
pub const BASELINE_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);

/// The pull-request comment step's own deadline, outside `--timeout`: a slow forge API never
/// holds the verdict up for long.
pub const COMMENT_DEADLINE: Duration = Duration::from_secs(15);

/// Requests in flight are 1 to this.
pub const MAX_CONCURRENCY: usize = 256;

/// Every documented default as `--help` and the options tables show it, by the option's long name.
pub fn shown() -> Vec<(&'static str, String)> {
    let duration = |d: Duration| humantime::format_duration(d).to_string();
    vec![
        ("threshold", crate::domain::score::fmt_score(THRESHOLD)),
        ("trials", TRIALS.to_string()),
        ("aggregate", AGGREGATE.name().to_owned()),
        ("confidence", crate::domain::score::fmt_score(CONFIDENCE)),
        ("inconclusive", INCONCLUSIVE.to_string()),
        ("base-url", BASE_URL.to_owned()),
        ("poll-interval", duration(POLL_INTERVAL)),
        ("timeout", duration(TIMEOUT)),
        ("request-timeout", duration(REQUEST_TIMEOUT)),
        ("concurrency", CONCURRENCY.to_string()),
        ("rate-limit", "auto".to_owned()),
        ("baseline-max-age", duration(BASELINE_MAX_AGE)),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn defaults_read_as_people_write_them() {
        let shown = super::shown();
        let get = |name: &str| shown.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("threshold"), Some("0.8"));
        assert_eq!(get("poll-interval"), Some("5s"));
        assert_eq!(get("timeout"), Some("30m"));
        assert_eq!(get("aggregate"), Some("mean"));
        assert_eq!(get("baseline-max-age"), Some("30days"));
    }
}
