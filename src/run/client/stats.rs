//! Request counters: what the client sent, repeated and had refused by the rate limit. The
//! report has its own copy of these figures; the gate converts a snapshot when it builds it.

use std::sync::atomic::{AtomicU64, Ordering};

/// Request counters for the reports.
#[derive(Debug, Default)]
pub struct Stats {
    sent: AtomicU64,
    retried: AtomicU64,
    rate_limited: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Requests sent, retries included.
    pub sent: u64,
    /// Requests that repeated an earlier failed one.
    pub retried: u64,
    /// 429 responses received.
    pub rate_limited: u64,
}

impl Stats {
    pub(super) fn record_sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn record_rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one repeat of a failed request.
    pub fn record_retry(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            sent: self.sent.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
        }
    }
}
