//! Validated settings: a pure function from raw `Args`, the captured `Env` and the files they
//! name to a `Settings` with nothing optional left. Every check happens here, before any
//! request is sent. Each concern has its own resolver: the selection, the gating policy, the
//! connection (timing and budget) and the report destinations; the defaults are one table.

mod connection;
pub mod digest;
mod error;
pub mod parse;
mod policy;
mod reports;
mod selection;

use crate::domain::secret::{ApiKey, Redactor};
use crate::input::cli::{Args, Env};
use crate::input::config::Config;
use crate::input::shard::{self, Shard};
use crate::policy::defaults;
use crate::report::baseline::Baseline;
use crate::report::read::{self, Named};
use crate::report::rerun::{Expected, Rerun};
use std::path::PathBuf;

pub use connection::{Connection, Limit};
pub use error::UsageError;
pub use policy::{CasePolicy, Policy};
pub use reports::{GithubTargets, ReportPaths};
pub use selection::Selection;

/// The largest `--max-runs` and `--sample` accepted.
const MAX_RUNS_LIMIT: usize = 1_000_000;

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
    /// The key and every forge token in the environment, to take out of what servers send.
    pub redactor: Redactor,
    pub selection: Selection,
    pub policy: Policy,
    pub connection: Connection,
    pub reports: ReportPaths,
    pub dry_run: bool,
    pub state_file: Option<PathBuf>,
    /// Create or update a comment with the result on the pull request.
    pub pr_comment: bool,
    /// Which comment to update (`None`: the workflow and job name).
    pub comment_key: Option<String>,
    /// The comment step's own deadline, outside `--timeout`.
    pub comment_deadline: std::time::Duration,
    /// Run only this shard of the resolved selection.
    pub shard: Option<Shard>,
    /// The most runs this invocation creates (`--max-runs`), before a shard takes its share.
    pub max_runs: Option<usize>,
    /// Run only a fixed sample of this many cases of the selection (`--sample`).
    pub sample: Option<usize>,
    /// The passes of an earlier report to carry over (`--rerun-failed`).
    pub rerun: Option<Rerun>,
    /// The commit under test (`--commit`, `KAPSO_COMMIT`, or the CI's variable).
    pub commit: Option<String>,
    /// [`digest::verdict_digest`] of these settings.
    pub settings_digest: String,
    /// Delay a new run's first poll by what finished runs took (off only for benchmarks).
    pub learn_durations: bool,
    pub verbosity: Verbosity,
}

/// Files the settings depend on, read before validation so that validation stays pure.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub config: Option<Config>,
    pub baseline: Option<Baseline>,
    /// The `--rerun-failed` report, bound to this run's commit and settings when they are known.
    pub rerun: Option<Named>,
}

impl Inputs {
    /// Reads the config and baseline files named in `args`.
    pub fn read(args: &Args) -> Result<Inputs, UsageError> {
        Ok(Inputs {
            config: args.config.as_deref().map(Config::load).transpose()?,
            baseline: args.baseline.as_deref().map(Baseline::load).transpose()?,
            rerun: args
                .rerun_failed
                .as_deref()
                .map(|path| read::read(path).map_err(crate::report::rerun::RerunError::from))
                .transpose()?,
        })
    }
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
        let default_config = Config::default();
        let config = inputs.config.as_ref().unwrap_or(&default_config);
        let verbosity = match (args.quiet, args.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, _) => Verbosity::Verbose,
        };
        let secrets = std::iter::once(api_key.expose()).chain(env.forge_tokens.iter().map(|t| t.expose()));
        let policy = policy::resolve(args, config, inputs.baseline.as_ref())?;
        let connection = connection::resolve(args, config)?;
        let settings_digest = digest::verdict_digest(&policy, connection.base_url.as_str());
        let commit = match args.commit.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(given) => Some(parse::commit(given)?),
            None => env.ci_commit.as_deref().map(parse::commit).transpose()?,
        };
        let expected = Expected {
            commit: commit.as_deref(),
            settings_digest: &settings_digest,
            any_commit: args.rerun_failed_any_commit,
        };
        let rerun = inputs
            .rerun
            .clone()
            .map(|named| Rerun::bind(named, &expected))
            .transpose()?;
        Ok(Settings {
            redactor: Redactor::new(secrets),
            api_key,
            selection: selection::resolve(args, config)?,
            policy,
            connection,
            reports: ReportPaths::resolve(args, env),
            dry_run: args.dry_run,
            state_file: args.state_file.clone(),
            pr_comment: args.pr_comment,
            comment_key: args.comment_key.clone().filter(|k| !k.trim().is_empty()),
            comment_deadline: match &args.comment_deadline {
                Some(raw) => parse::duration("comment-deadline", raw)?,
                None => crate::policy::defaults::COMMENT_DEADLINE,
            },
            shard: args
                .shard
                .as_deref()
                .map(|raw| shard::resolve(raw, |name| env.parallel_var(name)))
                .transpose()?,
            max_runs: match &args.max_runs {
                Some(raw) => Some(parse::number("max-runs", raw, 1..=MAX_RUNS_LIMIT)?),
                None => config
                    .max_runs
                    .map(|n| parse::number("max-runs", &n.to_string(), 1..=MAX_RUNS_LIMIT))
                    .transpose()?,
            },
            sample: args
                .sample
                .as_deref()
                .map(|raw| parse::number("sample", raw, 1..=MAX_RUNS_LIMIT))
                .transpose()?,
            rerun,
            commit,
            settings_digest,
            learn_durations: !args.no_duration_model,
            verbosity,
        })
    }

    /// The most runs this invocation may create: `--max-runs`, or a shard's share of it by the
    /// rule every shared limit follows ([`crate::input::shard::share_of`]).
    pub fn run_cap(&self) -> Option<usize> {
        let cap = self.max_runs?;
        Some(match self.shard {
            Some(shard) => {
                let cap = u32::try_from(cap).unwrap_or(u32::MAX);
                crate::input::shard::share_of(cap, shard.total) as usize
            }
            None => cap,
        })
    }

    /// The policy that applies to one case.
    pub fn case_policy(&self, case_id: &str) -> CasePolicy {
        self.policy.for_case(case_id)
    }
}

/// What a usage-error report shows of the options: the threshold when it is valid (else the
/// default; a config file is not read when the options are invalid) and the base URL without
/// credentials, query or fragment.
pub fn usage_context(args: Option<&Args>) -> (f64, String) {
    let threshold = args
        .and_then(|a| a.threshold.as_deref())
        .and_then(parse::non_negative)
        .unwrap_or(defaults::THRESHOLD);
    let raw_url = args.and_then(|a| a.base_url.as_deref()).unwrap_or(defaults::BASE_URL);
    (threshold, parse::displayable_url(raw_url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::time::Duration;

    fn env_with_key() -> Env {
        Env {
            api_key: Some(ApiKey::new("k")),
            ..Env::default()
        }
    }

    pub(super) fn resolve(argv: &[&str]) -> Result<Settings, UsageError> {
        let mut full = vec!["kapso-gate"];
        full.extend_from_slice(argv);
        let args = Args::try_parse_from(full).expect("clap accepts these");
        Settings::resolve(&args, &env_with_key())
    }

    #[test]
    fn defaults_resolve() {
        let s = resolve(&["case-1"]).expect("valid");
        assert_eq!(s.policy.threshold, 0.8);
        assert_eq!(s.connection.poll_interval, Duration::from_secs(5));
        assert_eq!(s.connection.timeout, Duration::from_secs(1800));
        assert_eq!(s.connection.concurrency, 8);
        assert_eq!(s.connection.rate_limit, Limit::Auto(100));
        assert_eq!(s.connection.base_url.as_str(), "https://app.kapso.ai/api/v1");
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
        assert_eq!(s.selection.case_ids, vec!["b", "a", "c"]);
        assert_eq!(s.selection.duplicates_dropped, 3);
        assert_eq!(s.selection.suite_ids, vec!["s1", "s2"]);
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
        assert!(
            matches!(resolve(&["a", "--threshold", "1e10"]), Err(UsageError::BadThreshold(_))),
            "beyond the range scores are compared in"
        );
        assert!(resolve(&["a", "--threshold", "1e6"]).is_ok(), "the range is inclusive");
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
            assert!(!s.connection.base_url.as_str().ends_with("//"));
        }
    }

    #[test]
    fn config_values_apply_under_flags() {
        let config =
            Config::parse("threshold = 0.6\ntrials = 3\naggregate = \"min\"\ntimeout = \"2m\"\ntest-cases = [\"x\"]")
                .expect("valid config");
        let inputs = Inputs {
            config: Some(config),
            ..Inputs::default()
        };
        let args = Args::try_parse_from(["kapso-gate", "--trials", "2"]).expect("parses");
        let s = Settings::resolve_with(&args, &env_with_key(), &inputs).expect("valid");
        assert_eq!(s.policy.threshold, 0.6);
        assert_eq!(
            s.policy.trials,
            crate::policy::confidence::Trials::Fixed(2),
            "the flag wins over the file"
        );
        assert_eq!(s.policy.aggregate, crate::policy::verdict::Aggregate::Min);
        assert_eq!(s.connection.timeout, Duration::from_secs(120));
        assert_eq!(
            s.selection.case_ids,
            vec!["x"],
            "the file's selection applies when none is given"
        );
        let bad = Config::parse("trials = 51\ntest-cases = [\"x\"]").expect("parses");
        let inputs = Inputs {
            config: Some(bad),
            ..Inputs::default()
        };
        let args = Args::try_parse_from(["kapso-gate"]).expect("parses");
        assert!(matches!(
            Settings::resolve_with(&args, &env_with_key(), &inputs),
            Err(UsageError::BadTrials(_))
        ));
    }

    #[test]
    fn inconclusive_fail_needs_a_max_that_can_pass() {
        // At threshold 0.8 and confidence 0.95 no valid test passes in fewer than 14 trials.
        let error = resolve(&["a", "--trials", "2..10", "--inconclusive", "fail"]).expect_err("refused");
        let least = match &error {
            UsageError::CannotPass { least: Some(least), .. } => *least,
            other => panic!("{other:?}"),
        };
        assert!((14..=16).contains(&least), "{least}");
        let message = error.to_string();
        assert!(message.contains(&format!("--trials 2..{least}")), "{message}");
        let max = format!("2..{least}");
        assert!(resolve(&["a", "--trials", &max, "--inconclusive", "fail"]).is_ok());
        assert!(resolve(&["a", "--trials", "2..10", "--inconclusive", "fail", "--threshold", "0.3"]).is_ok());
        assert!(resolve(&["a", "--trials", "10", "--inconclusive", "fail"]).is_ok());
        let error = resolve(&["a", "--trials", "2..50", "--inconclusive", "fail", "--threshold", "1"]);
        assert!(
            matches!(error, Err(UsageError::CannotPass { least: None, .. })),
            "{error:?}"
        );
        // A per-case threshold from the config file is checked per case.
        let config = Config::parse("[cases.b]\nthreshold = 0.9").expect("valid");
        let inputs = Inputs {
            config: Some(config),
            ..Inputs::default()
        };
        let args = Args::try_parse_from(["kapso-gate", "a", "--trials", "2..20", "--inconclusive", "fail"])
            .expect("clap accepts these");
        let error = Settings::resolve_with(&args, &env_with_key(), &inputs).expect_err("refused for b");
        assert!(error.to_string().contains("\"b\""), "{error}");
    }

    #[test]
    fn a_max_that_cannot_pass_is_warned_about_without_inconclusive_fail() {
        let s = resolve(&["a", "--trials", "2..10"]).expect("valid");
        let warnings = s.policy.trials_warnings(["a", "b"]);
        assert_eq!(warnings.len(), 1, "one per distinct range: {warnings:?}");
        assert!(warnings[0].contains("a certain pass needs at least 1"), "{warnings:?}");
        assert!(warnings[0].contains("judged by its mean score alone"), "{warnings:?}");
        assert!(resolve(&["a", "--trials", "2..20"])
            .expect("valid")
            .policy
            .trials_warnings(["a"])
            .is_empty());
        assert!(resolve(&["a", "--trials", "10"])
            .expect("valid")
            .policy
            .trials_warnings(["a"])
            .is_empty());
    }

    #[test]
    fn trial_ranges_confidence_and_inconclusive() {
        use crate::policy::confidence::{Inconclusive, Trials};
        let s = resolve(&[
            "a",
            "--trials",
            "2..12",
            "--confidence",
            "0.9",
            "--inconclusive",
            "fail",
        ])
        .expect("valid");
        assert_eq!(s.policy.trials, Trials::Sequential { min: 2, max: 12 });
        assert_eq!(s.policy.confidence, 0.9);
        assert_eq!(s.policy.inconclusive, Inconclusive::Fail);
        assert!(matches!(
            resolve(&["a", "--trials", "2..12", "--aggregate", "median"]),
            Err(UsageError::AggregateWithRange("median"))
        ));
        assert!(resolve(&["a", "--trials", "3", "--aggregate", "median"]).is_ok());
        assert!(matches!(
            resolve(&["a", "--trials", "12..2"]),
            Err(UsageError::BadTrials(_))
        ));
        assert!(matches!(
            resolve(&["a", "--trials", "0..5"]),
            Err(UsageError::BadTrials(_))
        ));
        assert!(matches!(
            resolve(&["a", "--confidence", "1"]),
            Err(UsageError::BadConfidence(_))
        ));
        assert!(matches!(
            resolve(&["a", "--inconclusive", "maybe"]),
            Err(UsageError::BadInconclusive(_))
        ));
        let config = Config::parse("[cases.a]\ntrials = \"2..6\"").expect("valid");
        let inputs = Inputs {
            config: Some(config),
            ..Inputs::default()
        };
        let args = Args::try_parse_from(["kapso-gate", "a", "--aggregate", "min"]).expect("parses");
        assert!(matches!(
            Settings::resolve_with(&args, &env_with_key(), &inputs),
            Err(UsageError::AggregateWithRange("min"))
        ));
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
