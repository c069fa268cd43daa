//! The TOML config file (`--config`): default options for the whole gate and per-case
//! entries (threshold, trials, blocking). Unknown keys are errors that name the key and line,
//! so a typo cannot silently turn a gate off.

use crate::policy::confidence::{Trials, TrialsError};
use crate::policy::verdict::Aggregate;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The whole file. Every key is optional; command-line flags and environment variables win.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub threshold: Option<f64>,
    pub trials: Option<TrialsSetting>,
    pub aggregate: Option<Aggregate>,
    pub confidence: Option<f64>,
    pub inconclusive: Option<String>,
    pub max_drop: Option<f64>,
    pub base_url: Option<String>,
    pub poll_interval: Option<String>,
    pub timeout: Option<String>,
    pub request_timeout: Option<String>,
    pub concurrency: Option<u32>,
    /// `--max-runs`: the most test runs one invocation creates.
    pub max_runs: Option<u32>,
    /// A number, or `"auto"`.
    pub rate_limit: Option<RateLimitSetting>,
    /// Test case IDs to run, in addition to those on the command line.
    #[serde(default)]
    pub test_cases: Vec<String>,
    #[serde(default)]
    pub suites: Vec<String>,
    #[serde(default)]
    pub agents: Vec<String>,
    /// Per-case settings, keyed by test case ID.
    #[serde(default)]
    pub cases: BTreeMap<String, CaseConfig>,
}

/// Settings for one test case.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CaseConfig {
    pub threshold: Option<f64>,
    pub trials: Option<TrialsSetting>,
    /// `false` quarantines the case: it runs and is reported, but cannot fail the gate.
    pub blocking: Option<bool>,
    /// A note for people (for example, why the case is quarantined); shown in reports.
    pub note: Option<String>,
}

/// `trials = 3` or `trials = "2..12"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum TrialsSetting {
    Count(u32),
    Spec(String),
}

impl TrialsSetting {
    /// The setting as a trials spec, validated like `--trials`.
    pub fn resolve(&self) -> Result<Trials, TrialsError> {
        match self {
            TrialsSetting::Count(n) => Trials::fixed(*n),
            TrialsSetting::Spec(text) => text.parse(),
        }
    }
}

/// `rate-limit = 250` or `rate-limit = "auto"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum RateLimitSetting {
    Number(u32),
    Word(String),
}

/// Why the config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("config file {path}: {error}")]
    Parse { path: String, error: ParseError },
}

/// Why TOML text is not a valid config: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ParseError {
    pub line: Option<usize>,
    pub message: String,
}

impl Config {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Config::parse(&text).map_err(|error| ConfigError::Parse {
            path: path.display().to_string(),
            error,
        })
    }

    /// Parses TOML text. Errors say the line and column, and for an unknown key, its name.
    pub fn parse(text: &str) -> Result<Config, ParseError> {
        toml::from_str::<Config>(text).map_err(|e| ParseError {
            line: e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1),
            message: e.message().trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_defaults_and_cases() {
        let config = Config::parse(
            r#"
threshold = 0.75
trials = 3
aggregate = "median"
suites = ["s1"]

[cases."case-a"]
threshold = 0.6
blocking = false
note = "flaky judge, ticket #12"

[cases.case-b]
trials = 5
"#,
        )
        .expect("valid");
        assert_eq!(config.threshold, Some(0.75));
        assert_eq!(config.trials, Some(TrialsSetting::Count(3)));
        assert_eq!(config.suites, vec!["s1"]);
        assert_eq!(config.cases["case-a"].blocking, Some(false));
        assert_eq!(config.cases["case-b"].trials, Some(TrialsSetting::Count(5)));
        let ranged = Config::parse("trials = \"2..12\"\n[cases.c]\ntrials = \"3..5\"").expect("valid");
        assert_eq!(
            ranged.trials.map(|t| t.resolve()),
            Some(Ok(Trials::Sequential { min: 2, max: 12 }))
        );
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let err = Config::parse("threshold = 0.8\ntreshold = 0.9\n")
            .expect_err("typo")
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("treshold"), "{err}");
        let err = Config::parse("[cases.a]\nthreshold = 0.5\nblockin = false\n")
            .expect_err("typo")
            .to_string();
        assert!(err.contains("line 3") && err.contains("blockin"), "{err}");
    }

    #[test]
    fn wrong_types_are_errors() {
        assert!(Config::parse("threshold = \"high\"").is_err());
        assert!(Config::parse("trials = -1").is_err());
        assert!(Config::parse("aggregate = \"average\"").is_err());
    }
}
