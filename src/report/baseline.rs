//! A baseline: the per-case scores of an earlier JSON report (for example the main branch's
//! last green run), to compare this run's scores with.

use crate::report::SCHEMA_VERSION;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Why a baseline cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read baseline {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("baseline {path}: {reason}")]
    Invalid { path: String, reason: ReportFormatError },
}

/// Why a text is not a kapso-gate JSON report of this schema version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportFormatError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a kapso-gate JSON report with schema_version {SCHEMA_VERSION} (found {found})")]
    Version { found: String },
    #[error("no `cases` array")]
    NoCases,
}

/// Scores by test case ID.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Baseline {
    scores: HashMap<String, f64>,
}

impl Baseline {
    /// Reads a JSON report written by `--json`.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| BaselineError::Read {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Baseline::parse(&text).map_err(|reason| BaselineError::Invalid { path: shown, reason })
    }

    /// Parses a JSON report. Only `schema_version` and `cases[].test_case_id` / `score` are read,
    /// so reports from later minor versions still work.
    pub fn parse(text: &str) -> Result<Baseline, ReportFormatError> {
        let value: Value = serde_json::from_str(text).map_err(|e| ReportFormatError::NotJson(e.to_string()))?;
        let version = value.get("schema_version").and_then(Value::as_u64);
        if version != Some(u64::from(SCHEMA_VERSION)) {
            return Err(ReportFormatError::Version {
                found: version.map_or_else(|| "none".to_owned(), |v| v.to_string()),
            });
        }
        let cases = value
            .get("cases")
            .and_then(Value::as_array)
            .ok_or(ReportFormatError::NoCases)?;
        let scores = cases
            .iter()
            .filter_map(|case| {
                let id = case.get("test_case_id")?.as_str()?;
                let score = case.get("score")?.as_f64()?;
                Some((id.to_owned(), score))
            })
            .collect();
        Ok(Baseline { scores })
    }

    /// The baseline score of a case, when it had one.
    pub fn score(&self, case_id: &str) -> Option<f64> {
        self.scores.get(case_id).copied()
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scores_of_a_report() {
        let baseline = Baseline::parse(
            r#"{"schema_version":1,"cases":[{"test_case_id":"a","score":0.9},{"test_case_id":"b","score":null},{"score":1}]}"#,
        )
        .expect("valid");
        assert_eq!(baseline.score("a"), Some(0.9));
        assert_eq!(baseline.score("b"), None);
        assert_eq!(baseline.len(), 1);
    }

    #[test]
    fn refuses_other_files() {
        assert!(Baseline::parse("{}").is_err());
        assert!(Baseline::parse(r#"{"schema_version":2,"cases":[]}"#).is_err());
        assert!(Baseline::parse("not json").is_err());
    }
}
