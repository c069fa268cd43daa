//! Validated settings: a pure function from raw `Args` and the captured `Env` to a `Settings`
//! with nothing optional left. Every check happens here, before any request is sent.

use crate::baseline::Baseline;
use crate::cli::{Args, Env, API_KEY_VAR, DEFAULT_BASE_URL};
use crate::config::{CaseConfig, Config};
use crate::ids::{self, IdError};
use crate::secret::ApiKey;
use crate::verdict::Aggregate;
use reqwest::Url;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Why the options cannot be used. Each message names the option and what to do.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{API_KEY_VAR} is not set: export the project API key (in GitHub Actions, pass it from a secret)")]
    MissingKey,
    #[error("{API_KEY_VAR} is not a usable header value: it must be printable ASCII without spaces")]
    BadKey,
    #[error("no test cases selected: pass test case IDs, KAPSO_TEST_CASE_IDS, --suite or --agent")]
    EmptySelection,
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Baseline(String),
    #[error("--max-drop needs --baseline: there is nothing to compare scores with")]
    MaxDropWithoutBaseline,
    #[error("--aggregate {0:?} is not one of mean, median, min")]
    BadAggregate(String),
    #[error("threshold {value} for test case {case} in the config file is not a finite number >= 0")]
    BadCaseThreshold { case: String, value: f64 },
    #[error("trials {value} for test case {case} in the config file is not from 1 to 50")]
    BadCaseTrials { case: String, value: u32 },
    #[error("--max-drop {0:?} is not a finite number >= 0")]
    BadMaxDrop(String),
    #[error("invalid test case ID: {0}")]
    BadCaseId(IdError),
    #[error("invalid test suite ID: {0}")]
    BadSuiteId(IdError),
    #[error("invalid agent ID: {0}")]
    BadAgentId(IdError),
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
    /// Also each created run and each retry.
    Verbose,
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
    /// Agents whose suites to expand, de-duplicated.
    pub agent_ids: Vec<String>,
    /// IDs dropped because they were given more than once.
    pub duplicates_dropped: usize,
    pub threshold: f64,
    /// Runs per case, unless the config file says otherwise for a case.
    pub trials: u32,
    pub aggregate: Aggregate,
    /// Per-case overrides from the config file, keyed by test case ID.
    pub cases: BTreeMap<String, CaseConfig>,
    pub baseline: Option<Baseline>,
    pub max_drop: Option<f64>,
    pub dry_run: bool,
    pub state_file: Option<PathBuf>,
    pub poll_interval: Duration,
    pub timeout: Duration,
    pub request_timeout: Duration,
    pub concurrency: usize,
    /// Requests per `rate_window`; 0 means no client-side limit.
    pub rate_limit: u32,
    pub rate_window: Duration,
    /// Delay a new run's first poll by what finished runs took (off only for benchmarks).
    pub learn_durations: bool,
    pub verbosity: Verbosity,
    pub env: Env,
}

/// Files the settings depend on, read before validation so that validation stays pure.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub config: Option<Config>,
    pub baseline: Option<Baseline>,
}

impl Inputs {
    /// Reads the config and baseline files named in `args`.
    pub fn read(args: &Args) -> Result<Inputs, UsageError> {
        let config = match &args.config {
            Some(path) => Some(Config::load(path).map_err(|e| UsageError::Config(e.to_string()))?),
            None => None,
        };
        let baseline = match &args.baseline {
            Some(path) => Some(Baseline::load(path).map_err(UsageError::Baseline)?),
            None => None,
        };
        Ok(Inputs { config, baseline })
    }
}

/// Adds the IDs in `values` (each split on commas and whitespace) to `into`, validating each.
/// Returns how many were already there.
fn collect_ids<'a>(
    values: impl IntoIterator<Item = &'a String>,
    into: &mut Vec<String>,
    bad: fn(IdError) -> UsageError,
) -> Result<usize, UsageError> {
    let mut duplicates = 0;
    for id in values.into_iter().flat_map(|v| ids::split_list(v)) {
        ids::validate(id).map_err(bad)?;
        if into.iter().any(|known| known == id) {
            duplicates += 1;
        } else {
            into.push(id.to_owned());
        }
    }
    Ok(duplicates)
}

impl Settings {
    /// Validates `args` and `env` with no files (tests and callers without a config file).
    pub fn resolve(args: &Args, env: &Env) -> Result<Settings, UsageError> {
        Settings::resolve_with(args, env, &Inputs::default())
    }

    /// Validates `args`, `env` and the files already read into `inputs`. Pure: no I/O.
    /// Precedence for each option: flag, then its environment variable (both in `args`), then
    /// the config file, then the built-in default.
    pub fn resolve_with(args: &Args, env: &Env, inputs: &Inputs) -> Result<Settings, UsageError> {
        let api_key = match env.api_key.clone() {
            Some(key) if !key.expose().is_empty() => key,
            _ => return Err(UsageError::MissingKey),
        };
        if !api_key.expose().bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UsageError::BadKey);
        }
        let config = inputs.config.clone().unwrap_or_default();

        let mut case_ids: Vec<String> = Vec::new();
        // Arguments are IDs as given (so "a b" is refused, not split); the variable is a list.
        let mut duplicates_dropped = 0;
        for id in &args.test_case_ids {
            ids::validate(id).map_err(UsageError::BadCaseId)?;
            if case_ids.contains(id) {
                duplicates_dropped += 1;
            } else {
                case_ids.push(id.clone());
            }
        }
        duplicates_dropped += collect_ids(&args.test_case_ids_env, &mut case_ids, UsageError::BadCaseId)?;
        let mut suite_ids: Vec<String> = Vec::new();
        collect_ids(&args.suites, &mut suite_ids, UsageError::BadSuiteId)?;
        let mut agent_ids: Vec<String> = Vec::new();
        collect_ids(&args.agents, &mut agent_ids, UsageError::BadAgentId)?;
        // The config file's selection is a default: it applies only when none was given.
        if case_ids.is_empty() && suite_ids.is_empty() && agent_ids.is_empty() {
            duplicates_dropped += collect_ids(&config.test_cases, &mut case_ids, UsageError::BadCaseId)?;
            collect_ids(&config.suites, &mut suite_ids, UsageError::BadSuiteId)?;
            collect_ids(&config.agents, &mut agent_ids, UsageError::BadAgentId)?;
        }
        if case_ids.is_empty() && suite_ids.is_empty() && agent_ids.is_empty() {
            return Err(UsageError::EmptySelection);
        }

        let pick = |flag: &Option<String>, file: &Option<String>, default: &str| -> String {
            flag.clone()
                .or_else(|| file.clone())
                .unwrap_or_else(|| default.to_owned())
        };
        let threshold = parse_threshold(&pick(&args.threshold, &config.threshold.map(|v| v.to_string()), "0.8"))?;
        let trials = parse_number(
            "trials",
            &pick(&args.trials, &config.trials.map(|n| n.to_string()), "1"),
            1,
            50,
            " from 1 to 50",
        )? as u32;
        let aggregate_raw = pick(&args.aggregate, &config.aggregate, "mean");
        let aggregate = match aggregate_raw.trim().to_ascii_lowercase().as_str() {
            "mean" => Aggregate::Mean,
            "median" => Aggregate::Median,
            "min" => Aggregate::Min,
            _ => return Err(UsageError::BadAggregate(aggregate_raw)),
        };
        for (case, entry) in &config.cases {
            ids::validate(case).map_err(UsageError::BadCaseId)?;
            if let Some(value) = entry.threshold {
                if !value.is_finite() || value < 0.0 {
                    return Err(UsageError::BadCaseThreshold {
                        case: case.clone(),
                        value,
                    });
                }
            }
            if let Some(value) = entry.trials {
                if !(1..=50).contains(&value) {
                    return Err(UsageError::BadCaseTrials {
                        case: case.clone(),
                        value,
                    });
                }
            }
        }
        let max_drop = args
            .max_drop
            .clone()
            .or(config.max_drop.map(|v| v.to_string()))
            .map(|raw| non_negative(&raw).ok_or(UsageError::BadMaxDrop(raw)))
            .transpose()?;
        if max_drop.is_some() && inputs.baseline.is_none() {
            return Err(UsageError::MaxDropWithoutBaseline);
        }

        let base_url = parse_base_url(&pick(&args.base_url, &config.base_url, DEFAULT_BASE_URL))?;
        let poll_interval = parse_duration("poll-interval", &pick(&args.poll_interval, &config.poll_interval, "5s"))?;
        let timeout = parse_duration("timeout", &pick(&args.timeout, &config.timeout, "30m"))?;
        let request_timeout = parse_duration(
            "request-timeout",
            &pick(&args.request_timeout, &config.request_timeout, "30s"),
        )?;
        let rate_window = parse_duration("rate-window", &args.rate_window)?;
        let concurrency = parse_number(
            "concurrency",
            &pick(&args.concurrency, &config.concurrency.map(|n| n.to_string()), "8"),
            1,
            256,
            " from 1 to 256",
        )?;
        let rate_limit = parse_number(
            "rate-limit",
            &pick(&args.rate_limit, &config.rate_limit.map(|n| n.to_string()), "100"),
            0,
            1_000_000,
            " >= 0",
        )?;
        let verbosity = match (args.quiet, args.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, _) => Verbosity::Verbose,
        };

        Ok(Settings {
            api_key,
            base_url,
            case_ids,
            suite_ids,
            agent_ids,
            duplicates_dropped,
            threshold,
            trials,
            aggregate,
            cases: config.cases.clone(),
            baseline: inputs.baseline.clone(),
            max_drop,
            dry_run: args.dry_run,
            state_file: args.state_file.clone(),
            poll_interval,
            timeout,
            request_timeout,
            concurrency: concurrency as usize,
            rate_limit: rate_limit as u32,
            rate_window,
            learn_durations: !args.no_duration_model,
            verbosity,
            env: env.clone(),
        })
    }

    /// The threshold, trials and blocking flag that apply to one case.
    pub fn case_policy(&self, case_id: &str) -> CasePolicy {
        let entry = self.cases.get(case_id);
        CasePolicy {
            threshold: entry.and_then(|e| e.threshold).unwrap_or(self.threshold),
            trials: entry.and_then(|e| e.trials).unwrap_or(self.trials),
            blocking: entry.and_then(|e| e.blocking).unwrap_or(true),
            note: entry.and_then(|e| e.note.clone()).filter(|n| !n.trim().is_empty()),
        }
    }
}

/// What applies to one case after the config file's overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct CasePolicy {
    pub threshold: f64,
    pub trials: u32,
    pub blocking: bool,
    /// The config file's note for the case, shown in reports.
    pub note: Option<String>,
}

/// A finite number >= 0 (thresholds, score drops), or `None`.
pub fn non_negative(raw: &str) -> Option<f64> {
    raw.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
}

/// Parses a score threshold: a finite number >= 0.
pub fn parse_threshold(raw: &str) -> Result<f64, UsageError> {
    non_negative(raw).ok_or_else(|| UsageError::BadThreshold(raw.to_owned()))
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
            api_key: Some(ApiKey::new("k")),
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
            "a",
            "b",
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
        assert!(
            matches!(resolve(&["a b"]), Err(UsageError::BadCaseId(_))),
            "arguments are not split"
        );
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
            api_key: Some(ApiKey::new(" \n")),
            ..Env::default()
        };
        assert!(matches!(Settings::resolve(&args, &blank), Err(UsageError::MissingKey)));
        let spaced = Env {
            api_key: Some(ApiKey::new("a b")),
            ..Env::default()
        };
        assert!(matches!(Settings::resolve(&args, &spaced), Err(UsageError::BadKey)));
    }
}
