//! The rate limiter (a sliding or fixed window, or a token bucket) and the `X-RateLimit-*` /
//! `Retry-After` headers it implies.

use std::collections::VecDeque;
use std::time::Duration;

use crate::scenario::{RateLimit, RateMode};

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

/// The server's count: the enforced rule, plus the announced window when the headers describe
/// another one.
#[derive(Debug)]
pub(crate) struct Limiter {
    config: RateLimit,
    /// Requests received so far (admitted or not), for `changes`.
    received: usize,
    /// Sliding: admission times within the window. Fixed: admissions in the current window.
    admitted: VecDeque<Duration>,
    /// Fixed: the index of the current window.
    fixed_window: u64,
    /// Token bucket: tokens at `refilled_at`.
    tokens: f64,
    refilled_at: Duration,
    /// Admission times within the announced window.
    announced: VecDeque<Duration>,
}

impl Limiter {
    pub fn new(config: RateLimit) -> Self {
        let tokens = f64::from(config.bucket.unwrap_or(config.limit));
        Self {
            config,
            received: 0,
            admitted: VecDeque::new(),
            fixed_window: 0,
            tokens,
            refilled_at: Duration::ZERO,
            announced: VecDeque::new(),
        }
    }

    /// Counts a request received at `now` (time since start).
    pub fn check(&mut self, now: Duration) -> Verdict {
        self.received += 1;
        let received = self.received;
        if let Some(change) = self.config.changes.iter().rev().find(|c| received > c.after_requests) {
            if let Some(announce) = self.config.announce.as_mut() {
                announce.limit = change.limit;
            }
            self.config.limit = change.limit;
        }
        let wait = match self.config.mode {
            RateMode::Sliding => self.sliding(now),
            RateMode::Fixed => self.fixed(now),
            RateMode::TokenBucket => self.bucket(now),
        };
        let limit = self.config.limit;
        match wait {
            None => {
                let (limit, remaining) = self.announce(now, limit);
                Verdict::Allowed { limit, remaining }
            }
            Some(wait) => {
                let announced = self.config.announce.as_ref().map_or(limit, |a| a.limit);
                let retry_after_secs = self
                    .config
                    .retry_after_secs
                    .unwrap_or_else(|| wait.as_millis().div_ceil(1000).max(1) as u64);
                Verdict::Limited {
                    limit: announced,
                    retry_after_secs,
                }
            }
        }
    }

    fn window(&self) -> Duration {
        Duration::from_millis(self.config.window_ms)
    }

    /// Admits (and returns `None`) or says how long until a request would be admitted.
    fn sliding(&mut self, now: Duration) -> Option<Duration> {
        let window = self.window();
        while self.admitted.front().is_some_and(|&t| t + window <= now) {
            self.admitted.pop_front();
        }
        if self.admitted.len() < self.config.limit as usize {
            self.admitted.push_back(now);
            return None;
        }
        let frees_at = self.admitted.front().map_or(now, |&t| t + window);
        Some(frees_at.saturating_sub(now))
    }

    fn fixed(&mut self, now: Duration) -> Option<Duration> {
        let window_ms = self.config.window_ms.max(1);
        let index = now.as_millis() as u64 / window_ms;
        if index != self.fixed_window {
            self.fixed_window = index;
            self.admitted.clear();
        }
        if self.admitted.len() < self.config.limit as usize {
            self.admitted.push_back(now);
            return None;
        }
        Some(Duration::from_millis((index + 1) * window_ms).saturating_sub(now))
    }

    fn bucket(&mut self, now: Duration) -> Option<Duration> {
        let capacity = f64::from(self.config.bucket.unwrap_or(self.config.limit));
        let per_ms = f64::from(self.config.limit) / self.config.window_ms.max(1) as f64;
        let elapsed = now.saturating_sub(self.refilled_at).as_secs_f64() * 1000.0;
        self.tokens = (self.tokens + elapsed * per_ms).min(capacity);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return None;
        }
        let missing_ms = (1.0 - self.tokens) / per_ms.max(f64::MIN_POSITIVE);
        Some(Duration::from_secs_f64((missing_ms / 1000.0).min(3600.0)))
    }

    /// The `X-RateLimit-Limit` and `-Remaining` after admitting a request at `now`.
    fn announce(&mut self, now: Duration, limit: u32) -> (u32, u32) {
        let Some(announce) = &self.config.announce else {
            let used = match self.config.mode {
                RateMode::Sliding | RateMode::Fixed => self.admitted.len() as u32,
                RateMode::TokenBucket => limit.saturating_sub(self.tokens as u32),
            };
            return (limit, limit.saturating_sub(used));
        };
        let window = Duration::from_millis(announce.window_ms);
        while self.announced.front().is_some_and(|&t| t + window <= now) {
            self.announced.pop_front();
        }
        self.announced.push_back(now);
        let used = u32::try_from(self.announced.len()).unwrap_or(u32::MAX);
        (announce.limit, announce.limit.saturating_sub(used))
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
            ..RateLimit::default()
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
            ..RateLimit::default()
        });
        assert_eq!(
            limiter.check(ms(0)),
            Verdict::Limited {
                limit: 0,
                retry_after_secs: 60
            }
        );
    }

    fn admitted(limiter: &mut Limiter, times_ms: &[u64]) -> Vec<bool> {
        times_ms
            .iter()
            .map(|&t| matches!(limiter.check(ms(t)), Verdict::Allowed { .. }))
            .collect()
    }

    #[test]
    fn fixed_window_resets_at_its_boundary() {
        let mut limiter = Limiter::new(RateLimit {
            limit: 2,
            window_ms: 1000,
            mode: RateMode::Fixed,
            ..RateLimit::default()
        });
        // Two at the end of one window and two at the start of the next: a sliding window
        // would refuse the last two.
        assert_eq!(
            admitted(&mut limiter, &[900, 950, 990, 1000, 1010, 1020]),
            [true, true, false, true, true, false]
        );
    }

    #[test]
    fn token_bucket_refills_steadily() {
        let mut limiter = Limiter::new(RateLimit {
            limit: 10,
            window_ms: 1000,
            mode: RateMode::TokenBucket,
            bucket: Some(2),
            ..RateLimit::default()
        });
        // Two tokens, then one every 100 ms.
        assert_eq!(
            admitted(&mut limiter, &[0, 0, 0, 50, 100, 150, 200]),
            [true, true, false, false, true, false, true]
        );
        assert_eq!(
            limiter.check(ms(200)),
            Verdict::Limited {
                limit: 10,
                retry_after_secs: 1
            }
        );
    }

    #[test]
    fn announced_limit_and_changes() {
        let mut limiter = Limiter::new(RateLimit {
            limit: 2,
            window_ms: 100,
            announce: Some(crate::scenario::Announce {
                limit: 12,
                window_ms: 600,
            }),
            changes: vec![crate::scenario::LimitChange {
                after_requests: 2,
                limit: 30,
            }],
            ..RateLimit::default()
        });
        assert_eq!(
            limiter.check(ms(0)),
            Verdict::Allowed {
                limit: 12,
                remaining: 11
            }
        );
        assert_eq!(
            limiter.check(ms(200)),
            Verdict::Allowed {
                limit: 12,
                remaining: 10
            }
        );
        assert_eq!(
            limiter.check(ms(300)),
            Verdict::Allowed {
                limit: 30,
                remaining: 27
            }
        );
    }
}
