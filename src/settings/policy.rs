//! The gating policy: the threshold, trials and aggregate for every case, the config file's
//! per-case overrides (threshold, trials, blocking, note), and the baseline comparison.

use super::error::UsageError;
use super::parse;
use crate::baseline::Baseline;
use crate::cli::Args;
use crate::config::{CaseConfig, Config};
use crate::defaults;
use crate::ids;
use crate::verdict::Aggregate;
use std::collections::BTreeMap;

/// How cases are judged.
#[derive(Debug, Clone)]
pub struct Policy {
    pub threshold: f64,
    /// Runs per case, unless the config file says otherwise for a case.
    pub trials: u32,
    pub aggregate: Aggregate,
    /// Per-case overrides from the config file, keyed by test case ID.
    pub cases: BTreeMap<String, CaseConfig>,
    pub baseline: Option<Baseline>,
    pub max_drop: Option<f64>,
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

impl Policy {
    /// The threshold, trials, blocking flag and note that apply to one case.
    pub fn for_case(&self, case_id: &str) -> CasePolicy {
        let entry = self.cases.get(case_id);
        CasePolicy {
            threshold: entry.and_then(|e| e.threshold).unwrap_or(self.threshold),
            trials: entry.and_then(|e| e.trials).unwrap_or(self.trials),
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
    let trials = match &args.trials {
        Some(raw) => parse::number("trials", raw, 1..=defaults::MAX_TRIALS)?,
        None => match config.trials {
            Some(value) if (1..=defaults::MAX_TRIALS).contains(&value) => value,
            Some(value) => return Err(parse::out_of_range("trials", value, 1..=defaults::MAX_TRIALS)),
            None => defaults::TRIALS,
        },
    };
    for (case, entry) in &config.cases {
        check_case(case, entry)?;
    }
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
    Ok(Policy {
        threshold,
        trials,
        aggregate: args.aggregate.or(config.aggregate).unwrap_or(defaults::AGGREGATE),
        cases: config.cases.clone(),
        baseline: baseline.cloned(),
        max_drop,
    })
}

fn check_case(case: &str, entry: &CaseConfig) -> Result<(), UsageError> {
    ids::validate(case).map_err(UsageError::BadCaseId)?;
    if let Some(value) = entry.threshold.filter(|v| parse::finite_non_negative(*v).is_none()) {
        return Err(UsageError::BadCaseThreshold {
            case: case.to_owned(),
            value,
        });
    }
    if let Some(value) = entry.trials.filter(|v| !(1..=defaults::MAX_TRIALS).contains(v)) {
        return Err(UsageError::BadCaseTrials {
            case: case.to_owned(),
            value,
        });
    }
    Ok(())
}
