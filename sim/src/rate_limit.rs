//! The sliding-window rate limiter and the `X-RateLimit-*` / `Retry-After` headers it implies.

use std::collections::VecDeque;
use std::time::Duration;

use crate::scenario::RateLimit;

/// Outcome of counting one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Allowed; `remaining` slots left in the window after this request.
    Allowed { limit: u32, remaining: u32 },
    /// Rejected (consumes no slot).
    Limited { limit: u32, retry_after_secs: u64 },
}

impl Verdict {
    /// Headers every response carries when a rate limit is configured.
    pub fn headers(&self) -> Vec<(String, String)> {
        match *self {
            Self::Allowed { limit, remaining } => vec![
                ("X-RateLimit-Limit".to_owned(), limit.to_string()),
                ("X-RateLimit-Remaining".to_owned(), remaining.to_string()),
            ],
            Self::Limited {
                limit,
                retry_after_secs,
            } => vec![
                ("Retry-After".to_owned(), retry_after_secs.to_string()),
                ("X-RateLimit-Limit".to_owned(), limit.to_string()),
                ("X-RateLimit-Remaining".to_owned(), "0".to_owned()),
            ],
        }
    }
}

/// Times of the requests admitted within the current window.
#[derive(Debug)]
pub(crate) struct Limiter {
    config: RateLimit,
    admitted: VecDeque<Duration>,
}

impl Limiter {
    pub fn new(config: RateLimit) -> Self {
        Self {
            config,
            admitted: VecDeque::new(),
        }
    }

    /// Counts a request received at `now` (time since start).
    pub fn check(&mut self, now: Duration) -> Verdict {
        let window = Duration::from_millis(self.config.window_ms);
        while self.admitted.front().is_some_and(|&t| t + window <= now) {
            self.admitted.pop_front();
        }
        let limit = self.config.limit;
        let used = u32::try_from(self.admitted.len()).unwrap_or(u32::MAX);
        if used < limit {
            self.admitted.push_back(now);
            return Verdict::Allowed {
                limit,
                remaining: limit - used - 1,
            };
        }
        let retry_after_secs = self.config.retry_after_secs.unwrap_or_else(|| {
            let frees_at = self.admitted.front().map_or(now, |&t| t + window);
            let wait = frees_at.saturating_sub(now);
            wait.as_millis().div_ceil(1000).max(1) as u64
        });
        Verdict::Limited {
            limit,
            retry_after_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn sliding_window() {
        let mut limiter = Limiter::new(RateLimit {
            limit: 2,
            window_ms: 1500,
            retry_after_secs: None,
        });
        assert_eq!(limiter.check(ms(0)), Verdict::Allowed { limit: 2, remaining: 1 });
        assert_eq!(limiter.check(ms(100)), Verdict::Allowed { limit: 2, remaining: 0 });
        assert_eq!(
            limiter.check(ms(200)),
            Verdict::Limited {
                limit: 2,
                retry_after_secs: 2
            }
        );
        // A rejected request does not consume a slot: the first slot frees at 1500 ms.
        assert!(matches!(limiter.check(ms(1500)), Verdict::Allowed { remaining: 0, .. }));
        assert!(matches!(
            limiter.check(ms(1599)),
            Verdict::Limited {
                retry_after_secs: 1,
                ..
            }
        ));
    }

    #[test]
    fn fixed_retry_after() {
        let mut limiter = Limiter::new(RateLimit {
            limit: 0,
            window_ms: 1000,
            retry_after_secs: Some(60),
        });
        assert_eq!(
            limiter.check(ms(0)),
            Verdict::Limited {
                limit: 0,
                retry_after_secs: 60
            }
        );
    }
}
