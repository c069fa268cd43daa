//! The gating policy: the threshold, trials and aggregate for every case, the config file's
//! per-case overrides (threshold, trials, blocking, note), and the baseline comparison.

use super::error::UsageError;
use super::parse;
use crate::domain::ids;
use crate::input::cli::Args;
use crate::input::config::{CaseConfig, Config};
use crate::policy::confidence::{least_trials, Inconclusive, Trials};
use crate::policy::defaults;
use crate::policy::verdict::Aggregate;
use crate::report::baseline::Baseline;
use std::collections::BTreeMap;

/// How cases are judged.
#[derive(Debug, Clone)]
pub struct Policy {
    pub threshold: f64,
    /// Runs per case, unless the config file says otherwise for a case.
    pub trials: Trials,
    pub aggregate: Aggregate,
    /// Confidence of the reported intervals and of sequential decisions.
    pub confidence: f64,
    /// What a sequential case still uncertain at MAX counts as.
    pub inconclusive: Inconclusive,
    /// Per-case overrides from the config file, keyed by test case ID.
    pub cases: BTreeMap<String, CaseConfig>,
    pub baseline: Option<Baseline>,
    pub max_drop: Option<f64>,
    /// Past this age the baseline is warned about in every report (`--baseline-max-age`).
    pub baseline_max_age: std::time::Duration,
}

/// What applies to one case after the config file's overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct CasePolicy {
    pub threshold: f64,
    pub trials: Trials,
    pub blocking: bool,
    /// The config file's note for the case, shown in reports.
    pub note: Option<String>,
}

impl Policy {
    /// The threshold, trials, blocking flag and note that apply to one case.
    pub fn for_case(&self, case_id: &str) -> CasePolicy {
        let entry = self.cases.get(case_id);
        CasePolicy {
            threshold: entry.and_then(|e| e.threshold).unwrap_or(self.threshold),
            // Validated when the settings were resolved.
            trials: entry
                .and_then(|e| e.trials.as_ref())
                .and_then(|t| t.resolve().ok())
                .unwrap_or(self.trials),
            blocking: entry.and_then(|e| e.blocking).unwrap_or(true),
            note: entry.and_then(|e| e.note.clone()).filter(|n| !n.trim().is_empty()),
        }
    }
}

/// Resolves the policy: flag or variable, then the config file, then the default.
pub fn resolve(args: &Args, config: &Config, baseline: Option<&Baseline>) -> Result<Policy, UsageError> {
    let threshold = match &args.threshold {
        Some(raw) => parse::threshold(raw)?,
        None => match config.threshold {
            Some(value) => parse::finite_non_negative(value).ok_or(UsageError::BadThreshold(value.to_string()))?,
            None => defaults::THRESHOLD,
        },
    };
    let trials = match (&args.trials, &config.trials) {
        (Some(raw), _) => raw.parse().map_err(UsageError::BadTrials)?,
        (None, Some(setting)) => setting.resolve().map_err(UsageError::BadTrials)?,
        (None, None) => defaults::TRIALS,
    };
    let aggregate = args.aggregate.or(config.aggregate).unwrap_or(defaults::AGGREGATE);
    let mut sequential = trials.is_sequential();
    for (case, entry) in &config.cases {
        sequential |= check_case(case, entry)?.is_some_and(Trials::is_sequential);
    }
    if sequential && aggregate != Aggregate::Mean {
        return Err(UsageError::AggregateWithRange(aggregate.name()));
    }
    let confidence = match (&args.confidence, config.confidence) {
        (Some(raw), _) => {
            confidence_value(raw.trim().parse().ok()).ok_or_else(|| UsageError::BadConfidence(raw.clone()))?
        }
        (None, Some(value)) => confidence_value(Some(value)).ok_or(UsageError::BadConfidence(value.to_string()))?,
        (None, None) => defaults::CONFIDENCE,
    };
    let inconclusive = match args.inconclusive.as_ref().or(config.inconclusive.as_ref()) {
        Some(raw) => raw.parse()?,
        None => defaults::INCONCLUSIVE,
    };
    let max_drop = match (&args.max_drop, config.max_drop) {
        (Some(raw), _) => Some(parse::non_negative(raw).ok_or_else(|| UsageError::BadMaxDrop(raw.clone()))?),
        (None, Some(value)) => {
            Some(parse::finite_non_negative(value).ok_or(UsageError::BadMaxDrop(value.to_string()))?)
        }
        (None, None) => None,
    };
    if max_drop.is_some() && baseline.is_none() {
        return Err(UsageError::MaxDropWithoutBaseline);
    }
    let baseline_max_age = match &args.baseline_max_age {
        Some(raw) => parse::duration("baseline-max-age", raw)?,
        None => defaults::BASELINE_MAX_AGE,
    };
    if inconclusive == Inconclusive::Fail {
        check_can_pass(threshold, trials, confidence, None)?;
        for (case, entry) in &config.cases {
            let case_trials = entry.trials.as_ref().and_then(|t| t.resolve().ok()).unwrap_or(trials);
            check_can_pass(
                entry.threshold.unwrap_or(threshold),
                case_trials,
                confidence,
                Some(case),
            )?;
        }
    }
    Ok(Policy {
        threshold,
        trials,
        aggregate,
        confidence,
        inconclusive,
        cases: config.cases.clone(),
        baseline: baseline.cloned(),
        max_drop,
        baseline_max_age,
    })
}

/// With `--inconclusive fail`, refuses a MIN..MAX range whose MAX is below the least number of
/// trials that can make a pass certain: every case would fail, however well it scores. `case`
/// names the config file's case the threshold or trials come from.
fn check_can_pass(threshold: f64, trials: Trials, confidence: f64, case: Option<&String>) -> Result<(), UsageError> {
    let Trials::Sequential { min, max } = trials else {
        return Ok(());
    };
    let least = least_trials(threshold, confidence).and_then(|l| l.pass);
    if least.is_some_and(|least| least <= max) {
        return Ok(());
    }
    Err(UsageError::CannotPass {
        case: case.cloned(),
        trials: format!("{min}..{max}"),
        threshold,
        confidence,
        least,
    })
}

impl Policy {
    /// Warnings for the MIN..MAX ranges of `cases` whose MAX cannot make a pass certain (with
    /// `--inconclusive estimate`, so only the mean can pass them), one per distinct threshold
    /// and range.
    pub fn trials_warnings<'a>(&self, cases: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        if self.inconclusive == Inconclusive::Fail {
            return Vec::new();
        }
        let mut seen: Vec<(u64, Trials)> = Vec::new();
        let mut warnings = Vec::new();
        for case in cases {
            let policy = self.for_case(case);
            let Trials::Sequential { max, .. } = policy.trials else {
                continue;
            };
            let key = (policy.threshold.to_bits(), policy.trials);
            let least = least_trials(policy.threshold, self.confidence).and_then(|l| l.pass);
            if seen.contains(&key) || least.is_some_and(|least| least <= max) {
                continue;
            }
            seen.push(key);
            let needs = least.map_or_else(
                || format!("no number of trials up to {} can make a pass certain", Trials::LIMIT),
                |least| format!("a certain pass needs at least {least} trials"),
            );
            warnings.push(format!(
                "trials {} at threshold {} and confidence {}: {needs}, so a case not certain to fail by trial {max} is judged by its mean score alone",
                policy.trials,
                crate::domain::score::fmt_score(policy.threshold),
                crate::domain::score::fmt_score(self.confidence),
            ));
        }
        warnings
    }
}

/// A confidence strictly between 0 and 1.
fn confidence_value(value: Option<f64>) -> Option<f64> {
    value.filter(|c| *c > 0.0 && *c < 1.0)
}

/// Validates one case's entry; returns its trials when it sets them.
fn check_case(case: &str, entry: &CaseConfig) -> Result<Option<Trials>, UsageError> {
    ids::validate(case).map_err(UsageError::BadCaseId)?;
    if let Some(value) = entry.threshold.filter(|v| parse::finite_non_negative(*v).is_none()) {
        return Err(UsageError::BadCaseThreshold {
            case: case.to_owned(),
            value,
        });
    }
    entry
        .trials
        .as_ref()
        .map(|t| t.resolve())
        .transpose()
        .map_err(|error| UsageError::BadCaseTrials {
            case: case.to_owned(),
            error,
        })
}
