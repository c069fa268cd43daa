//! Why the options cannot be used. Each message names the option and what to do.

use crate::domain::ids::IdError;
use crate::input::config::ConfigError;
use crate::input::vars::KAPSO_API_KEY;
use crate::policy::confidence::{InconclusiveError, TrialsError};
use crate::report::baseline::BaselineError;

#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{KAPSO_API_KEY} is not set: export the project API key (in GitHub Actions, pass it from a secret)")]
    MissingKey,
    #[error("{KAPSO_API_KEY} is not a usable header value: it must be printable ASCII without spaces")]
    BadKey,
    #[error("no test cases selected: pass test case IDs, KAPSO_TEST_CASE_IDS, --suite or --agent")]
    EmptySelection,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    #[error(transparent)]
    Rerun(#[from] crate::report::rerun::RerunError),
    #[error(transparent)]
    Shard(#[from] crate::input::shard::ShardError),
    #[error("--commit {0:?} is not a commit: use at most 256 printable ASCII characters without spaces (a SHA, a tag or a branch)")]
    BadCommit(String),
    #[error("--max-drop needs --baseline: there is nothing to compare scores with")]
    MaxDropWithoutBaseline,
    #[error("threshold {value} for test case {case} in the config file is not a number from 0 to {limit:e}", limit = crate::policy::verdict::SCORE_LIMIT)]
    BadCaseThreshold { case: String, value: f64 },
    #[error("test case {case} in the config file: {error}")]
    BadCaseTrials { case: String, error: TrialsError },
    #[error("--trials: {0}")]
    BadTrials(TrialsError),
    #[error("--confidence {0:?} is not a number between 0 and 1 (e.g. 0.95)")]
    BadConfidence(String),
    #[error(transparent)]
    BadInconclusive(#[from] InconclusiveError),
    #[error("--aggregate {0} cannot be used with trials MIN..MAX: a sequential decision is about the mean score")]
    AggregateWithRange(&'static str),
    #[error("{}", cannot_pass(case.as_deref(), trials, *threshold, *confidence, *least))]
    CannotPass {
        case: Option<String>,
        trials: String,
        threshold: f64,
        confidence: f64,
        least: Option<u32>,
    },
    #[error("--max-drop {0:?} is not a number from 0 to {limit:e}", limit = crate::policy::verdict::SCORE_LIMIT)]
    BadMaxDrop(String),
    #[error("invalid test case ID: {0}")]
    BadCaseId(IdError),
    #[error("invalid test suite ID: {0}")]
    BadSuiteId(IdError),
    #[error("invalid agent ID: {0}")]
    BadAgentId(IdError),
    #[error("--threshold {0:?} is not a number from 0 to {limit:e}", limit = crate::policy::verdict::SCORE_LIMIT)]
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
        range: String,
    },
    #[error("--base-url {0:?} is not a valid URL")]
    BadUrl(String),
    #[error("--base-url must use https: the API key would travel in clear text (http is allowed only for localhost, 127.0.0.0/8 and ::1)")]
    InsecureUrl,
    #[error("--base-url must not contain a user name, password, query or fragment")]
    UrlExtras,
}

/// The message of [`UsageError::CannotPass`]: what is refused, why, and the least MAX that works.
fn cannot_pass(case: Option<&str>, trials: &str, threshold: f64, confidence: f64, least: Option<u32>) -> String {
    let whose = case.map_or_else(String::new, |case| format!(" (test case {case:?} in the config file)"));
    let (min, max) = trials.split_once("..").unwrap_or((trials, trials));
    let fix = match least {
        Some(least) => format!(
            "a certain pass needs at least {least} trials, so every case would fail; use a MAX of at least {least} (e.g. --trials {min}..{least}) or --inconclusive estimate"
        ),
        None => format!(
            "no number of trials up to {} can make a pass certain, so every case would fail; use --inconclusive estimate or a lower threshold",
            crate::policy::confidence::Trials::LIMIT
        ),
    };
    format!(
        "--inconclusive fail with trials {min}..{max}{whose}: at threshold {} and confidence {}, {fix}",
        crate::domain::score::fmt_score(threshold),
        crate::domain::score::fmt_score(confidence)
    )
}
