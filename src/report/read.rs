//! The one reader of JSON reports, for all three readers (`--baseline`, `--rerun-failed`,
//! `--merge`): a regular file no larger than [`MAX_REPORT_BYTES`], JSON of this
//! [`SCHEMA_VERSION`], and a status for every case that its own trials give by today's verdict
//! rules. A report is an input the user controls, so a recorded status is never trusted: one
//! that disagrees with its trials is refused, naming the file and the case.

use super::model::{CaseReport, Report, SCHEMA_VERSION};
use super::regression::{self, Against};
use crate::domain::outcome::FinishedRun;
use crate::policy::confidence::{Inconclusive, Trials};
use crate::policy::defaults;
use crate::policy::regression_gate::BaselineCase;
use crate::policy::verdict::{self, Certainty, Status, TrialVerdict};
use serde_json::Value;
use std::io::Read as _;
use std::path::Path;

/// The largest report read: 64 MiB, far above any real report (a thousand cases of fifty
/// trials with long conversations), far below what would exhaust a runner's memory.
pub const MAX_REPORT_BYTES: u64 = 64 * 1024 * 1024;

/// Why a file is not a report this gate can use. Every variant names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {file}: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file} is a {kind}, not a regular file: a report is read from a regular file")]
    NotAFile { file: String, kind: &'static str },
    #[error("{file} is larger than {MAX_REPORT_BYTES} bytes (64 MiB), the most a report may be")]
    TooLarge { file: String },
    #[error("{file} is not a kapso-gate JSON report: {reason}")]
    NotAReport { file: String, reason: String },
    #[error("{file} has schema_version {found}; this kapso-gate reads schema_version {SCHEMA_VERSION} only")]
    SchemaVersion { file: String, found: String },
    #[error("{file}: test case {case} is recorded as {recorded}, but its trials make it {derived} by the verdict rules: the report was edited or damaged")]
    Status {
        file: String,
        case: String,
        recorded: Status,
        derived: Status,
    },
}

/// A report that was read, with the name it is known by (its path) for messages.
#[derive(Debug, Clone)]
pub struct Named {
    pub file: String,
    pub report: Report,
}

/// Reads and checks the report at `path`. The file type is checked before the file is opened,
/// so a FIFO or a device is refused without blocking; at most one byte more than the cap is
/// read, so an endless or huge file is refused without filling memory.
pub fn read(path: &Path) -> Result<Named, ReadError> {
    let file = path.display().to_string();
    let unreadable = |e: std::io::Error| ReadError::Unreadable {
        file: file.clone(),
        reason: e.to_string(),
    };
    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    if let Some(kind) = not_regular(&metadata.file_type()) {
        return Err(ReadError::NotAFile { file, kind });
    }
    if metadata.len() > MAX_REPORT_BYTES {
        return Err(ReadError::TooLarge { file });
    }
    let opened = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    opened
        .take(MAX_REPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_REPORT_BYTES {
        return Err(ReadError::TooLarge { file });
    }
    let text = String::from_utf8(bytes).map_err(|e| ReadError::NotAReport {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    parse(&file, &text)
}

/// What a file that is not a regular one is, for the message.
fn not_regular(kind: &std::fs::FileType) -> Option<&'static str> {
    if kind.is_file() {
        return None;
    }
    if kind.is_dir() {
        return Some("directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if kind.is_fifo() {
            return Some("FIFO");
        }
        if kind.is_char_device() || kind.is_block_device() {
            return Some("device");
        }
        if kind.is_socket() {
            return Some("socket");
        }
    }
    Some("special file")
}

/// Parses a report's text: JSON, then the schema version (so another version is refused as
/// such), then the model, then every case's status against its trials.
pub fn parse(file: &str, text: &str) -> Result<Named, ReadError> {
    let not_a_report = |reason: String| ReadError::NotAReport {
        file: file.to_owned(),
        reason,
    };
    let value: Value = serde_json::from_str(text).map_err(|e| not_a_report(e.to_string()))?;
    let version = value.get("schema_version").and_then(Value::as_u64);
    if version != Some(u64::from(SCHEMA_VERSION)) {
        return Err(ReadError::SchemaVersion {
            file: file.to_owned(),
            found: version.map_or_else(|| "none".to_owned(), |v| v.to_string()),
        });
    }
    let mut report: Report = serde_json::from_value(value).map_err(|e| not_a_report(e.to_string()))?;
    let rules = Rules::of(&report);
    for case in &mut report.cases {
        let (derived, score) = rules.derive(case);
        if derived != case.status {
            return Err(ReadError::Status {
                file: file.to_owned(),
                case: case.test_case_id.clone(),
                recorded: case.status,
                derived,
            });
        }
        // The score readers use (a baseline's) is the one the trials give.
        case.score = score;
    }
    Ok(Named {
        file: file.to_owned(),
        report,
    })
}

/// The report-wide settings the verdict rules need, as the report recorded them; a report of
/// an earlier version without them is read with today's defaults.
struct Rules {
    aggregate: verdict::Aggregate,
    confidence: f64,
    inconclusive: Inconclusive,
    max_drop: Option<f64>,
}

impl Rules {
    fn of(report: &Report) -> Rules {
        let policy = report.binding.policy.as_ref();
        Rules {
            aggregate: report.aggregate,
            confidence: policy.map_or(defaults::CONFIDENCE, |p| p.confidence),
            inconclusive: policy
                .and_then(|p| p.inconclusive.parse().ok())
                .unwrap_or(defaults::INCONCLUSIVE),
            max_drop: policy.and_then(|p| p.max_drop),
        }
    }

    /// The status and score a case's trials give: each trial judged from its score and error
    /// (a trial without a run result keeps its non-passing status), then the case rules, then
    /// the baseline comparison, as when the report was built.
    fn derive(&self, case: &CaseReport) -> (Status, Option<f64>) {
        let trials: Vec<TrialVerdict> = case
            .trials
            .iter()
            .map(|t| {
                let status = match t.status {
                    Status::Rejected | Status::Incomplete | Status::Cancelled => t.status,
                    _ => {
                        let run = FinishedRun {
                            score: t.score,
                            error: t.error.clone(),
                            ..FinishedRun::default()
                        };
                        verdict::judge_run(&run, case.threshold).0
                    }
                };
                TrialVerdict { status, score: t.score }
            })
            .collect();
        let certainty = Certainty {
            trials: case
                .trials_spec
                .as_deref()
                .and_then(|spec| spec.parse().ok())
                .unwrap_or(Trials::Fixed(u32::try_from(trials.len()).unwrap_or(u32::MAX).max(1))),
            confidence: self.confidence,
            inconclusive: self.inconclusive,
        };
        let judged = verdict::judge_case_with(&trials, self.aggregate, case.threshold, &certainty);
        let Some(record) = &case.regression else {
            let checked = verdict::apply_baseline(judged.status, judged.score, case.baseline_score, self.max_drop);
            return (checked.status, judged.score);
        };
        // The regression gate, from the baseline's trials the report recorded.
        let baseline = BaselineCase {
            scores: &record.baseline_scores,
            definition_digest: record.baseline_definition_digest.as_deref(),
        };
        let against = Against {
            entry: record.baseline_status.map(|status| (status, baseline)),
            score: case.baseline_score,
            margin: self.max_drop,
            digest: case.definition_digest.as_deref(),
        };
        let today: Vec<f64> = case.trials.iter().filter_map(|t| t.score).collect();
        let (checked, _) = regression::check((judged.status, judged.score), &today, against, &certainty);
        (checked.status, judged.score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::json;
    use crate::report::test_fixtures::{case, report};

    #[test]
    fn a_report_reads_back_with_its_statuses() {
        let written = report(Status::ALL.iter().map(|s| case(&format!("c-{s}"), *s)).collect());
        let named = parse("r.json", &json::render(&written)).expect("reads");
        assert_eq!(named.report.cases.len(), 6);
    }

    #[test]
    fn a_status_the_trials_do_not_give_is_refused_naming_file_and_case() {
        let mut failed = case("b", Status::Failed);
        failed.status = Status::Passed;
        let error = parse("r.json", &json::render(&report(vec![failed]))).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "r.json: test case b is recorded as passed, but its trials make it failed by the verdict rules: the report was edited or damaged"
        );
        let mut lifted = case("c", Status::Failed);
        lifted.status = Status::Passed;
        lifted.trials[0].status = Status::Passed;
        assert!(
            parse("r.json", &json::render(&report(vec![lifted]))).is_err(),
            "a trial's status is not trusted either"
        );
    }

    #[test]
    fn other_files_are_refused() {
        assert!(matches!(parse("a", "{"), Err(ReadError::NotAReport { .. })));
        assert!(matches!(
            parse("a", "{\"schema_version\": 2}"),
            Err(ReadError::SchemaVersion { .. })
        ));
        let dir = std::env::temp_dir();
        assert!(matches!(read(&dir), Err(ReadError::NotAFile { kind: "directory", .. })));
        #[cfg(unix)]
        assert!(matches!(
            read(Path::new("/dev/zero")),
            Err(ReadError::NotAFile { kind: "device", .. })
        ));
    }
}
