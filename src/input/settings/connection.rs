//! How the gate talks to Kapso: the API root, the polling interval, the deadlines, how many
//! requests may be in flight and the rate budget.

use super::error::UsageError;
use super::parse;
use crate::input::cli::Args;
use crate::input::config::{Config, RateLimitSetting};
use crate::policy::defaults;
use reqwest::Url;
use std::time::Duration;

/// How the rate limit is chosen (`--rate-limit`); the one rate budget follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Start at this many requests per window and follow the server's `X-RateLimit-Limit` up
    /// or down.
    Auto(u32),
    /// Never more than this many per window, whatever the server announces; a lower server
    /// limit still slows us down. 0 = no client-side limit.
    Cap(u32),
}

impl Limit {
    /// The limit before the server says anything.
    pub fn start(self) -> u32 {
        match self {
            Limit::Auto(n) | Limit::Cap(n) => n,
        }
    }
}

/// Timing, concurrency and the endpoint.
#[derive(Debug, Clone)]
pub struct Connection {
    /// API root without a trailing slash.
    pub base_url: Url,
    pub poll_interval: Duration,
    /// One deadline for the whole gate.
    pub timeout: Duration,
    pub request_timeout: Duration,
    pub concurrency: usize,
    /// Requests per `rate_window`: follow the server, or a hard cap (0: no client-side limit).
    pub rate_limit: Limit,
    /// True when `--rate-limit` (or `KAPSO_RATE_LIMIT`) set `rate_limit` for this invocation;
    /// false for the config file's value and the default, which describe the key's limit that
    /// every shard shares.
    pub rate_limit_given: bool,
    pub rate_window: Duration,
}

/// `auto`, or a number of requests per window (0: no client-side limit).
fn limit(raw: &str) -> Result<Limit, UsageError> {
    if raw.trim().eq_ignore_ascii_case("auto") {
        return Ok(Limit::Auto(defaults::RATE_LIMIT));
    }
    parse::number("rate-limit", raw, 0..=1_000_000)
        .map(Limit::Cap)
        .map_err(|_| UsageError::BadNumber {
            option: "rate-limit",
            value: raw.to_owned(),
            range: " from 0 to 1000000, nor auto".to_owned(),
        })
}

/// Resolves each value: flag or variable, then the config file, then the default. Each raw
/// text is parsed once.
pub fn resolve(args: &Args, config: &Config) -> Result<Connection, UsageError> {
    let duration = |option: &'static str, flag: &Option<String>, file: &Option<String>, default: Duration| match flag
        .as_ref()
        .or(file.as_ref())
    {
        Some(raw) => parse::duration(option, raw),
        None => Ok(default),
    };
    let base_url = match args.base_url.as_ref().or(config.base_url.as_ref()) {
        Some(raw) => parse::base_url(raw)?,
        None => parse::base_url(defaults::BASE_URL)?,
    };
    let concurrency = match (&args.concurrency, config.concurrency) {
        (Some(raw), _) => parse::number("concurrency", raw, 1..=defaults::MAX_CONCURRENCY)?,
        (None, Some(n)) if (1..=defaults::MAX_CONCURRENCY).contains(&(n as usize)) => n as usize,
        (None, Some(n)) => return Err(parse::out_of_range("concurrency", n, 1..=defaults::MAX_CONCURRENCY)),
        (None, None) => defaults::CONCURRENCY,
    };
    let rate_limit = match (&args.rate_limit, &config.rate_limit) {
        (Some(raw), _) | (None, Some(RateLimitSetting::Word(raw))) => limit(raw)?,
        (None, Some(RateLimitSetting::Number(n))) => Limit::Cap(*n),
        (None, None) => Limit::Auto(defaults::RATE_LIMIT),
    };
    Ok(Connection {
        base_url,
        poll_interval: duration(
            "poll-interval",
            &args.poll_interval,
            &config.poll_interval,
            defaults::POLL_INTERVAL,
        )?,
        timeout: duration("timeout", &args.timeout, &config.timeout, defaults::TIMEOUT)?,
        request_timeout: duration(
            "request-timeout",
            &args.request_timeout,
            &config.request_timeout,
            defaults::REQUEST_TIMEOUT,
        )?,
        concurrency,
        rate_limit,
        rate_limit_given: args.rate_limit.is_some(),
        rate_window: duration("rate-window", &args.rate_window, &None, defaults::RATE_WINDOW)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate_limit(flag: Option<&str>, file: Option<u32>) -> Result<Limit, UsageError> {
        let mut argv = vec!["kapso-gate"];
        if let Some(value) = flag {
            argv.extend(["--rate-limit", value]);
        }
        let args = Args::parse_iter(argv).expect("clap accepts any text");
        let config = Config {
            rate_limit: file.map(RateLimitSetting::Number),
            ..Config::default()
        };
        resolve(&args, &config).map(|c| c.rate_limit)
    }

    #[test]
    fn rate_limit_is_auto_unless_a_number_is_given() {
        assert_eq!(rate_limit(None, None).ok(), Some(Limit::Auto(defaults::RATE_LIMIT)));
        assert_eq!(
            rate_limit(Some("AUTO"), Some(50)).ok(),
            Some(Limit::Auto(defaults::RATE_LIMIT))
        );
        assert_eq!(rate_limit(Some("250"), None).ok(), Some(Limit::Cap(250)));
        assert_eq!(rate_limit(Some("0"), None).ok(), Some(Limit::Cap(0)));
        assert_eq!(rate_limit(None, Some(40)).ok(), Some(Limit::Cap(40)));
        let auto_in_file = Config::parse("rate-limit = \"auto\"").expect("valid");
        let args = Args::parse_iter(["kapso-gate"]).expect("parses");
        assert_eq!(
            resolve(&args, &auto_in_file).ok().map(|c| c.rate_limit),
            Some(Limit::Auto(defaults::RATE_LIMIT))
        );
        let error = rate_limit(Some("fast"), None).expect_err("not a number");
        assert!(error.to_string().contains("auto"), "{error}");
    }
}
