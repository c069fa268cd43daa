//! The one rate budget every request draws from: suite lookups, run creation, polling and
//! retries alike. A sliding window (at most `limit` requests in any `window`), a shared pause
//! that a 429's `Retry-After` sets for everyone, and adaptation to the server's
//! `X-RateLimit-Limit` / `X-RateLimit-Remaining` headers.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};

/// Proof that a request may be sent now. Only the budget makes one ([`RateBudget::acquire`],
/// or [`RateBudget::try_acquire`] for callers that wait themselves), and every client method
/// that sends takes one, so no request can bypass the budget.
#[derive(Debug)]
#[must_use = "a permit is spent by sending a request"]
pub struct Permit(());

#[derive(Debug)]
struct State {
    /// Requests allowed per window; 0 = unlimited.
    limit: u32,
    /// Send times within the current window, oldest first.
    sent: VecDeque<Instant>,
    /// Nobody sends before this instant (a 429's Retry-After).
    paused_until: Option<Instant>,
}

/// A shared, cancel-safe rate budget.
#[derive(Debug)]
pub struct RateBudget {
    state: Mutex<State>,
    window: Duration,
    /// Added to the window so that a request sent exactly one window after another is not
    /// counted in the same window by a server that receives it slightly earlier.
    margin: Duration,
}

impl RateBudget {
    /// `limit` requests per `window`; `limit == 0` disables the client-side limit (pauses and
    /// server-announced limits still apply).
    pub fn new(limit: u32, window: Duration) -> Self {
        RateBudget {
            state: Mutex::new(State {
                limit,
                sent: VecDeque::new(),
                paused_until: None,
            }),
            window,
            margin: (window / 50).min(Duration::from_secs(1)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until a request may be sent and records it. Cancel-safe: dropping the future
    /// before it resolves spends nothing.
    pub async fn acquire(&self) -> Permit {
        loop {
            match self.try_acquire(Instant::now()) {
                Ok(permit) => return permit,
                Err(ready_at) => sleep_until(ready_at).await,
            }
        }
    }

    /// Spends a slot at `now`, or says when one frees up.
    pub fn try_acquire(&self, now: Instant) -> Result<Permit, Instant> {
        let mut state = self.lock();
        if let Some(until) = state.paused_until {
            if until > now {
                return Err(until);
            }
            state.paused_until = None;
        }
        let horizon = self.window + self.margin;
        while state.sent.front().is_some_and(|t| now.duration_since(*t) >= horizon) {
            state.sent.pop_front();
        }
        let limit = state.limit as usize;
        if limit == 0 || state.sent.len() < limit {
            if limit > 0 {
                state.sent.push_back(now);
            }
            return Ok(Permit(()));
        }
        Err(state.sent[state.sent.len() - limit] + horizon)
    }

    /// Pauses every request until `until` (a 429's Retry-After). Never shortens a pause.
    pub fn pause_until(&self, until: Instant) {
        let mut state = self.lock();
        if state.paused_until.is_none_or(|t| t < until) {
            state.paused_until = Some(until);
        }
    }

    /// Learns from the server's `X-RateLimit-Limit` and `X-RateLimit-Remaining`: a lower limit
    /// replaces ours, and when the server counts more requests in its window than we do (another
    /// job using the same key), the difference is recorded as spent. `reset` is when the server
    /// said its window frees up (`Retry-After` on a 429, `X-RateLimit-Reset`): the requests it
    /// counts and we do not are taken to leave the window then, so Remaining can slow the gate
    /// down but never hold it beyond the reset the server announced.
    pub fn observe(&self, limit: Option<u32>, remaining: Option<u32>, reset: Option<Duration>, now: Instant) {
        let mut state = self.lock();
        if let Some(server_limit) = limit.filter(|l| *l > 0) {
            if state.limit == 0 || server_limit < state.limit {
                state.limit = server_limit;
            }
        }
        if let Some(remaining) = remaining {
            let limit = state.limit as usize;
            if limit > 0 {
                let horizon = self.window + self.margin;
                // An entry leaves the window one horizon after it was spent.
                let spent_at = match reset {
                    Some(reset) if reset < horizon => now.checked_sub(horizon - reset).unwrap_or(now),
                    _ => now,
                };
                let used_by_server = limit.saturating_sub(remaining as usize);
                while state.sent.len() < used_by_server {
                    let at = state.sent.partition_point(|t| *t <= spent_at);
                    state.sent.insert(at, spent_at);
                }
            }
        }
    }

    /// When the next request could be sent, without spending anything.
    pub fn ready_at(&self, now: Instant) -> Instant {
        let state = self.lock();
        let mut ready = state.paused_until.filter(|t| *t > now).unwrap_or(now);
        let limit = state.limit as usize;
        let horizon = self.window + self.margin;
        let live: Vec<Instant> = state
            .sent
            .iter()
            .copied()
            .filter(|t| now.duration_since(*t) < horizon)
            .collect();
        if limit > 0 && live.len() >= limit {
            ready = ready.max(live[live.len() - limit] + horizon);
        }
        ready
    }

    /// The limit in force (after adaptation); 0 = unlimited.
    pub fn limit(&self) -> u32 {
        self.lock().limit
    }
}

/// The earliest moment the last of `requests` can be sent when at most `limit` go out in any
/// `window`: the first `limit` go at once, and each later batch one window after the previous.
pub fn min_time_under_budget(requests: usize, limit: u32, window: Duration) -> Duration {
    if limit == 0 || requests == 0 {
        return Duration::ZERO;
    }
    let batches = (requests - 1) / limit as usize;
    window * u32::try_from(batches).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_time_under_a_sliding_window() {
        let minute = Duration::from_secs(60);
        assert_eq!(min_time_under_budget(100, 100, minute), Duration::ZERO);
        assert_eq!(min_time_under_budget(120, 100, minute), minute);
        assert_eq!(min_time_under_budget(201, 100, minute), minute * 2);
        assert_eq!(min_time_under_budget(5000, 0, minute), Duration::ZERO);
    }

    #[test]
    fn at_most_limit_per_window() {
        let budget = RateBudget::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(budget.try_acquire(t0).is_ok());
        }
        let ready = budget
            .try_acquire(t0 + Duration::from_secs(30))
            .expect_err("window is full");
        assert!(ready >= t0 + Duration::from_secs(60));
        assert!(budget.try_acquire(ready).is_ok());
    }

    #[test]
    fn unlimited_never_waits_but_pauses_apply() {
        let budget = RateBudget::new(0, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert!(budget.try_acquire(t0).is_ok());
        }
        budget.pause_until(t0 + Duration::from_secs(2));
        assert_eq!(
            budget.try_acquire(t0 + Duration::from_secs(1)).expect_err("paused"),
            t0 + Duration::from_secs(2)
        );
        assert!(budget.try_acquire(t0 + Duration::from_secs(2)).is_ok());
    }

    #[test]
    fn adapts_to_server_headers() {
        let budget = RateBudget::new(100, Duration::from_secs(60));
        let t0 = Instant::now();
        budget.observe(Some(10), Some(2), None, t0);
        assert_eq!(budget.limit(), 10);
        assert!(budget.try_acquire(t0).is_ok());
        assert!(budget.try_acquire(t0).is_ok());
        assert!(budget.try_acquire(t0).is_err(), "server said only 2 remain");
        budget.observe(Some(500), None, None, t0);
        assert_eq!(budget.limit(), 10, "a higher server limit does not raise ours");
    }

    #[test]
    fn nothing_remaining_holds_until_the_announced_reset_not_a_window() {
        let budget = RateBudget::new(100, Duration::from_secs(60));
        let t0 = Instant::now();
        budget.observe(Some(100), Some(0), Some(Duration::from_secs(2)), t0);
        let ready = budget.ready_at(t0);
        assert!(ready <= t0 + Duration::from_secs(2), "held {:?}", ready - t0);
        assert!(budget.try_acquire(t0 + Duration::from_secs(1)).is_err());
        assert!(budget.try_acquire(t0 + Duration::from_secs(2)).is_ok());
    }
}
