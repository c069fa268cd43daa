//! Validated settings: a pure function from raw `Args` and the captured `Env` to a `Settings`
//! with nothing optional left. Every check happens here, before any request is sent.

use crate::cli::{Args, Env, API_KEY_VAR};
use crate::ids::{self, IdError};
use crate::secret::ApiKey;
use reqwest::Url;
use std::net::IpAddr;
use std::time::Duration;

/// Why the options cannot be used. Each message names the option and what to do.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{API_KEY_VAR} is not set: export the project API key (in GitHub Actions, pass it from a secret)")]
    MissingKey,
    #[error("{API_KEY_VAR} is not a usable header value: it must be printable ASCII without spaces")]
    BadKey,
    #[error("no test cases selected: pass test case IDs, KAPSO_TEST_CASE_IDS, or --suite")]
    EmptySelection,
    #[error("invalid test case ID: {0}")]
    BadCaseId(IdError),
    #[error("invalid test suite ID: {0}")]
    BadSuiteId(IdError),
    #[error("--threshold {0:?} is not a finite number >= 0")]
    BadThreshold(String),
    #[error("--{option} {value:?} is not a duration ({reason}); use e.g. 5s, 1500ms, 2m")]
    BadDuration {
        option: &'static str,
        value: String,
        reason: String,
    },
    #[error("--{option} must be greater than zero")]
    ZeroDuration { option: &'static str },
    #[error("--{option} {value:?} is not a whole number{range}")]
    BadNumber {
        option: &'static str,
        value: String,
        range: &'static str,
    },
    #[error("--base-url {0:?} is not a valid URL")]
    BadUrl(String),
    #[error("--base-url must use https: the API key would travel in clear text (http is allowed only for localhost, 127.0.0.0/8 and ::1)")]
    InsecureUrl,
    #[error("--base-url must not contain a user name, password, query or fragment")]
    UrlExtras,
}

/// How much the gate says on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
    Debug,
}

/// Everything the run needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub api_key: ApiKey,
    /// API root without a trailing slash.
    pub base_url: Url,
    /// Test case IDs given directly, de-duplicated in first-seen order.
    pub case_ids: Vec<String>,
    /// Suites to expand, de-duplicated.
    pub suite_ids: Vec<String>,
    /// IDs dropped because they were given more than once.
    pub duplicates_dropped: usize,
    pub threshold: f64,
    pub poll_interval: Duration,
    pub timeout: Duration,
    pub request_timeout: Duration,
    pub concurrency: usize,
    /// Requests per `rate_window`; 0 means no client-side limit.
    pub rate_limit: u32,
    pub rate_window: Duration,
    pub verbosity: Verbosity,
    pub env: Env,
}

impl Settings {
    /// Validates `args` and `env`. Pure: no I/O.
    pub fn resolve(args: &Args, env: &Env) -> Result<Settings, UsageError> {
        let api_key = match env.api_key.as_deref().map(ApiKey::new) {
            Some(key) if !key.expose().is_empty() => key,
            _ => return Err(UsageError::MissingKey),
        };
        if !api_key.expose().bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UsageError::BadKey);
        }

        let mut duplicates_dropped = 0;
        let mut case_ids: Vec<String> = Vec::new();
        let direct = args.test_case_ids.iter().flat_map(|v| ids::split_list(v));
        let from_env = args.test_case_ids_env.iter().flat_map(|v| ids::split_list(v));
        for id in direct.chain(from_env) {
            ids::validate(id).map_err(UsageError::BadCaseId)?;
            if case_ids.iter().any(|known| known == id) {
                duplicates_dropped += 1;
            } else {
                case_ids.push(id.to_owned());
            }
        }
        let mut suite_ids: Vec<String> = Vec::new();
        for id in args.suites.iter().flat_map(|v| ids::split_list(v)) {
            ids::validate(id).map_err(UsageError::BadSuiteId)?;
            if !suite_ids.iter().any(|known| known == id) {
                suite_ids.push(id.to_owned());
            }
        }
        if case_ids.is_empty() && suite_ids.is_empty() {
            return Err(UsageError::EmptySelection);
        }

        let threshold = parse_threshold(&args.threshold)?;
        let base_url = parse_base_url(&args.base_url)?;
        let poll_interval = parse_duration("poll-interval", &args.poll_interval)?;
        let timeout = parse_duration("timeout", &args.timeout)?;
        let request_timeout = parse_duration("request-timeout", &args.request_timeout)?;
        let rate_window = parse_duration("rate-window", &args.rate_window)?;
        let concurrency = parse_number("concurrency", &args.concurrency, 1, 256, " from 1 to 256")?;
        let rate_limit = parse_number("rate-limit", &args.rate_limit, 0, 1_000_000, " >= 0")?;
        let verbosity = match (args.quiet, args.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Verbose,
            (false, _) => Verbosity::Debug,
        };

        Ok(Settings {
            api_key,
            base_url,
            case_ids,
            suite_ids,
            duplicates_dropped,
            threshold,
            poll_interval,
            timeout,
            request_timeout,
            concurrency: concurrency as usize,
            rate_limit: rate_limit as u32,
            rate_window,
            verbosity,
            env: env.clone(),
        })
    }
}

/// Parses a score threshold: a finite number >= 0.
pub fn parse_threshold(raw: &str) -> Result<f64, UsageError> {
    match raw.trim().parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err(UsageError::BadThreshold(raw.to_owned())),
    }
}

fn parse_duration(option: &'static str, raw: &str) -> Result<Duration, UsageError> {
    let value = humantime::parse_duration(raw.trim()).map_err(|err| UsageError::BadDuration {
        option,
        value: raw.to_owned(),
        reason: err.to_string(),
    })?;
    if value.is_zero() {
        return Err(UsageError::ZeroDuration { option });
    }
    Ok(value)
}

fn parse_number(option: &'static str, raw: &str, min: u64, max: u64, range: &'static str) -> Result<u64, UsageError> {
    match raw.trim().parse::<u64>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(UsageError::BadNumber {
            option,
            value: raw.to_owned(),
            range,
        }),
    }
}

fn parse_base_url(raw: &str) -> Result<Url, UsageError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let url = Url::parse(trimmed).map_err(|_| UsageError::BadUrl(raw.to_owned()))?;
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(UsageError::UrlExtras);
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(UsageError::InsecureUrl),
        _ => return Err(UsageError::BadUrl(raw.to_owned())),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UsageError::BadUrl(raw.to_owned()));
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn env_with_key() -> Env {
        Env {
            api_key: Some("k".into()),
            ..Env::default()
        }
    }

    fn resolve(argv: &[&str]) -> Result<Settings, UsageError> {
        let mut full = vec!["kapso-gate"];
        full.extend_from_slice(argv);
        let args = Args::try_parse_from(full).expect("clap accepts these");
        Settings::resolve(&args, &env_with_key())
    }

    #[test]
    fn defaults_resolve() {
        let s = resolve(&["case-1"]).expect("valid");
        assert_eq!(s.threshold, 0.8);
        assert_eq!(s.poll_interval, Duration::from_secs(5));
        assert_eq!(s.timeout, Duration::from_secs(1800));
        assert_eq!(s.concurrency, 8);
        assert_eq!(s.rate_limit, 100);
        assert_eq!(s.base_url.as_str(), "https://app.kapso.ai/api/v1");
    }

    #[test]
    fn ids_are_split_and_deduplicated_in_order() {
        let s = resolve(&[
            "b",
            "a,b",
            "--test-case-ids",
            "c\na b",
            "--suite",
            "s1,s2",
            "--suite",
            "s1",
        ])
        .expect("valid");
        assert_eq!(s.case_ids, vec!["b", "a", "c"]);
        assert_eq!(s.duplicates_dropped, 3);
        assert_eq!(s.suite_ids, vec!["s1", "s2"]);
    }

    #[test]
    fn bad_inputs_are_usage_errors() {
        assert!(matches!(resolve(&[]), Err(UsageError::EmptySelection)));
        assert!(matches!(
            resolve(&["a", "--threshold", "NaN"]),
            Err(UsageError::BadThreshold(_))
        ));
        assert!(matches!(
            resolve(&["a", "--threshold", "-0.1"]),
            Err(UsageError::BadThreshold(_))
        ));
        assert!(matches!(
            resolve(&["a", "--threshold", "inf"]),
            Err(UsageError::BadThreshold(_))
        ));
        assert!(matches!(
            resolve(&["a", "--poll-interval", "soon"]),
            Err(UsageError::BadDuration { .. })
        ));
        assert!(matches!(
            resolve(&["a", "--timeout", "0s"]),
            Err(UsageError::ZeroDuration { .. })
        ));
        assert!(matches!(
            resolve(&["a", "--concurrency", "0"]),
            Err(UsageError::BadNumber { .. })
        ));
        assert!(matches!(
            resolve(&["a", "--base-url", "http://example.com"]),
            Err(UsageError::InsecureUrl)
        ));
        assert!(matches!(
            resolve(&["a", "--base-url", "ftp://example.com"]),
            Err(UsageError::BadUrl(_))
        ));
        assert!(matches!(
            resolve(&["a", "--base-url", "https://u:p@example.com"]),
            Err(UsageError::UrlExtras)
        ));
        assert!(matches!(resolve(&[".."]), Err(UsageError::BadCaseId(_))));
    }

    #[test]
    fn loopback_http_is_allowed() {
        for url in [
            "http://localhost:3000/api/v1/",
            "http://127.0.0.2:1",
            "http://[::1]:8080",
        ] {
            let s = resolve(&["a", "--base-url", url]).expect(url);
            assert!(!s.base_url.as_str().ends_with("//"));
        }
    }

    #[test]
    fn missing_or_blank_key_is_refused() {
        let args = Args::try_parse_from(["kapso-gate", "a"]).expect("parses");
        assert!(matches!(
            Settings::resolve(&args, &Env::default()),
            Err(UsageError::MissingKey)
        ));
        let blank = Env {
            api_key: Some(" \n".into()),
            ..Env::default()
        };
        assert!(matches!(Settings::resolve(&args, &blank), Err(UsageError::MissingKey)));
        let spaced = Env {
            api_key: Some("a b".into()),
            ..Env::default()
        };
        assert!(matches!(Settings::resolve(&args, &spaced), Err(UsageError::BadKey)));
    }
}
