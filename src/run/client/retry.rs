//! The one retry classifier: decides, for a failed request, whether sending it again is safe
//! and useful, and how long to wait; the retry loop for reads; what kind of failure a request
//! that is not retried leaves behind. Also parses `Retry-After`.

use super::error::RequestError;
use super::KapsoClient;
use crate::domain::outcome::FailureKind;
use backon::{ExponentialBuilder, Retryable};
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Whether a request can be repeated without side effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Reads: repeating them is always safe.
    Get,
    /// Run creation: repeating it may create a second run and spend the user's credits.
    Post,
}

/// What to do after a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Send it again; `after` is the server's requested wait, which replaces the backoff delay.
    Retry { after: Option<Duration> },
    /// Kapso refused it for good (bad request, not found, ...): the case is rejected.
    Reject,
    /// The key or the account is unusable (401, 402): stop sending anything.
    StopAll,
    /// No verdict can be had and repeating is unsafe or pointless: the case is incomplete.
    GiveUp,
}

/// The classifier. A POST is repeated only when Kapso surely did not create the run: the
/// connection was never made, or Kapso said 429 / 503 (refused before doing any work).
pub fn classify(method: Method, error: &RequestError) -> Disposition {
    let retry = Disposition::Retry {
        after: error.retry_after(),
    };
    match (method, error) {
        (_, RequestError::Connect(_)) => retry,
        (Method::Get, RequestError::Timeout | RequestError::Network(_) | RequestError::Body(_)) => retry,
        (Method::Post, RequestError::Timeout | RequestError::Network(_) | RequestError::Body(_)) => Disposition::GiveUp,
        (_, RequestError::TooLarge { .. } | RequestError::Tls(_)) => Disposition::GiveUp,
        (_, RequestError::Redirect { .. }) => Disposition::Reject,
        (_, RequestError::Status { status, .. }) => match (method, *status) {
            (_, 401 | 402) => Disposition::StopAll,
            (_, 429 | 503) => retry,
            (Method::Get, 408 | 500 | 502 | 504) => retry,
            // A timeout answer to a creation: Kapso may have started it, so no retry, no verdict.
            (Method::Post, 408) => Disposition::GiveUp,
            (_, 400..=499) => Disposition::Reject,
            _ => Disposition::GiveUp,
        },
    }
}

/// What a request that will not be sent again leaves behind, for the verdict rules.
pub fn failure_kind(method: Method, error: &RequestError) -> FailureKind {
    match classify(method, error) {
        Disposition::StopAll => FailureKind::KeyRefused,
        Disposition::Reject if error.status() == Some(404) => FailureKind::NotFound,
        Disposition::Reject => FailureKind::Rejected,
        Disposition::GiveUp | Disposition::Retry { .. } => FailureKind::Unavailable,
    }
}

/// Sends a read with retries through the shared budget: the classifier decides, `Retry-After`
/// replaces the computed delay, and no retry is scheduled past the deadline.
pub async fn with_retries<T, F, Fut>(client: &KapsoClient, deadline: Instant, request: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    let stats = client.stats().clone();
    let attempt = request
        .retry(backoff())
        .sleep(tokio::time::sleep)
        .when(|e| matches!(classify(Method::Get, e), Disposition::Retry { .. }))
        .adjust(move |e: &RequestError, computed: Option<Duration>| {
            let delay = next_delay(e.retry_after(), computed)?;
            (Instant::now() + delay < deadline).then_some(delay)
        })
        .notify(move |_, _| stats.record_retry());
    match tokio::time::timeout_at(deadline, attempt).await {
        Ok(result) => result,
        Err(_) => Err(RequestError::Timeout),
    }
}

/// The wait before the next attempt: Kapso's `Retry-After` replaces the computed backoff delay;
/// `None` when the backoff is exhausted (no more attempts), whatever Kapso asked for.
pub fn next_delay(retry_after: Option<Duration>, computed: Option<Duration>) -> Option<Duration> {
    computed.map(|computed| retry_after.unwrap_or(computed))
}

/// Backoff between attempts of one request: exponential from 500 ms, capped at 30 s, with
/// jitter, at most five retries.
pub fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(30))
        .with_factor(2.0)
        .with_max_times(5)
        .with_jitter()
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date (IMF-fixdate). A date in the
/// past means "now". Values beyond one hour are capped: the deadline bounds the wait anyway.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = parse_http_date(value)?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(Duration::from_secs(3600)))
}

/// Parses `X-RateLimit-Reset`: seconds until the window resets, or (as GitHub and others send
/// it) the Unix time of the reset; values that large cannot be a delay in seconds.
pub fn parse_rate_limit_reset(value: &str, now: SystemTime) -> Option<Duration> {
    const EPOCH_FROM: u64 = 1_000_000_000;
    let value = value.trim();
    let seconds: f64 = value.parse().ok().filter(|s: &f64| s.is_finite() && *s >= 0.0)?;
    let wait = if seconds >= EPOCH_FROM as f64 {
        let at = UNIX_EPOCH + Duration::from_secs_f64(seconds);
        at.duration_since(now).unwrap_or(Duration::ZERO)
    } else {
        Duration::from_secs_f64(seconds)
    };
    Some(wait.min(Duration::from_secs(3600)))
}

/// IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let rest = value.split_once(", ")?.1;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u32 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u32
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<u64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days.checked_mul(86_400)? + (*h * 3600 + *m * 60 + *s) as i64;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> RequestError {
        RequestError::Status {
            status: code,
            reason: None,
            retry_after: None,
        }
    }

    #[test]
    fn gets_retry_transient_failures() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify(Method::Get, &status(code)), Disposition::Retry { .. }),
                "{code}"
            );
        }
        assert!(matches!(
            classify(Method::Get, &RequestError::Timeout),
            Disposition::Retry { .. }
        ));
        assert!(matches!(
            classify(Method::Get, &RequestError::Network("reset".into())),
            Disposition::Retry { .. }
        ));
        assert!(matches!(
            classify(Method::Get, &RequestError::Body("truncated".into())),
            Disposition::Retry { .. }
        ));
    }

    #[test]
    fn posts_retry_only_when_no_run_can_exist() {
        assert!(matches!(
            classify(Method::Post, &RequestError::Connect("refused".into())),
            Disposition::Retry { .. }
        ));
        assert!(matches!(
            classify(Method::Post, &status(429)),
            Disposition::Retry { .. }
        ));
        assert!(matches!(
            classify(Method::Post, &status(503)),
            Disposition::Retry { .. }
        ));
        for code in [500, 502, 504, 408] {
            assert_eq!(classify(Method::Post, &status(code)), Disposition::GiveUp, "{code}");
        }
        assert_eq!(classify(Method::Post, &RequestError::Timeout), Disposition::GiveUp);
        assert_eq!(
            classify(Method::Post, &RequestError::Network("reset".into())),
            Disposition::GiveUp
        );
    }

    #[test]
    fn refusals() {
        for code in [400, 403, 404, 422] {
            assert_eq!(classify(Method::Get, &status(code)), Disposition::Reject, "{code}");
            assert_eq!(classify(Method::Post, &status(code)), Disposition::Reject, "{code}");
        }
        assert_eq!(classify(Method::Get, &status(401)), Disposition::StopAll);
        assert_eq!(classify(Method::Post, &status(402)), Disposition::StopAll);
        assert_eq!(
            classify(
                Method::Get,
                &RequestError::Redirect {
                    status: 302,
                    location: None
                }
            ),
            Disposition::Reject
        );
        assert_eq!(classify(Method::Get, &status(501)), Disposition::GiveUp);
        assert_eq!(
            classify(Method::Get, &RequestError::Tls("UnknownIssuer".into())),
            Disposition::GiveUp
        );
    }

    #[test]
    fn retry_after_wins_over_backoff() {
        let err = RequestError::Status {
            status: 429,
            reason: None,
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(
            classify(Method::Post, &err),
            Disposition::Retry {
                after: Some(Duration::from_secs(2))
            }
        );
    }

    #[test]
    fn parses_retry_after() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_770); // Sun, 06 Nov 1994 08:49:30 GMT
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("999999", now), Some(Duration::from_secs(3600)));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn parses_rate_limit_reset_as_delay_or_unix_time() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_rate_limit_reset("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_rate_limit_reset("0.5", now), Some(Duration::from_millis(500)));
        assert_eq!(parse_rate_limit_reset("1700000030", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_rate_limit_reset("1600000000", now), Some(Duration::ZERO));
        assert_eq!(parse_rate_limit_reset("soon", now), None);
        assert_eq!(parse_rate_limit_reset("-3", now), None);
    }
}
