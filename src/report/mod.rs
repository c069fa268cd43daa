//! Reports: the model, the one place it is built, a shared text module, and one pure renderer
//! per output format. Renderers read the model and `text`, never each other.

pub mod baseline;
pub mod build;
pub mod github;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod read;
pub mod regression;
pub mod rerun;
pub mod terminal;
pub mod text;

pub use model::{
    BaselineRecord, Binding, CaseReport, Counts, DryRunCase, DryRunReport, PolicyRecord, Report, RequestCounts,
    SampleRecord, SelectionRecord, ShardRecord, TrialReport, SCHEMA_VERSION,
};

/// Small deterministic reports for the renderers' exact-string tests.
#[cfg(test)]
pub(crate) mod test_fixtures {
    use super::model::{CaseReport, Counts, Report, TrialReport, SCHEMA_VERSION};
    use crate::domain::exit::Exit;
    use crate::domain::time::Timestamp;
    use crate::policy::verdict::{self, Aggregate, Status};

    fn stamp(text: &str) -> Timestamp {
        Timestamp::parse(text).expect("a fixture timestamp")
    }

    /// A case in the state `status` describes, named "Case {id}", threshold 0.8.
    pub fn case(id: &str, status: Status) -> CaseReport {
        let (score, reason, feedback, error) = match status {
            Status::Passed => (Some(0.9), None, Some("Good.".to_owned()), None),
            Status::Failed => (
                Some(0.5),
                Some("score 0.5 is below the threshold 0.8".to_owned()),
                Some("Wrong hours.".to_owned()),
                None,
            ),
            Status::Errored => (
                None,
                Some("Kapso reported an error: boom".to_owned()),
                None,
                Some("boom".to_owned()),
            ),
            Status::Rejected => (None, Some("HTTP 404: test case not found".to_owned()), None, None),
            Status::Incomplete => (None, Some("deadline reached".to_owned()), None, None),
            Status::Cancelled => (None, Some("cancelled by SIGINT".to_owned()), None, None),
        };
        let finished = matches!(status, Status::Passed | Status::Failed | Status::Errored);
        let run_id = finished.then(|| format!("run-{id}"));
        let conversation = finished.then(|| {
            serde_json::json!([
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"}
            ])
        });
        let trial = TrialReport {
            trial: 0,
            run_id: run_id.clone(),
            status,
            score,
            reason: reason.clone(),
            feedback: feedback.clone(),
            error: error.clone(),
            started_at: finished.then(|| stamp("2026-01-01T10:00:00.000Z")),
            ended_at: finished.then(|| stamp("2026-01-01T10:00:12.500Z")),
            duration_ms: finished.then_some(12_500),
            conversation: conversation.clone(),
        };
        CaseReport {
            test_case_id: id.to_owned(),
            name: Some(format!("Case {id}")),
            suite_id: None,
            suite_name: None,
            status,
            blocking: true,
            note: None,
            score,
            threshold: 0.8,
            trials_spec: None,
            reason,
            feedback,
            error,
            run_id,
            carried_over: false,
            interval: None,
            decision: None,
            bound: None,
            failed_inconclusive: false,
            started_at: trial.started_at.clone(),
            ended_at: trial.ended_at.clone(),
            duration_ms: trial.duration_ms,
            conversation,
            score_spread: None,
            baseline_score: None,
            delta: None,
            definition_digest: None,
            regression: None,
            trials: vec![trial],
        }
    }

    /// A finished report over `cases`, with the verdict the verdict rules give.
    pub fn report(cases: Vec<CaseReport>) -> Report {
        let verdict = verdict::overall(cases.iter().filter(|c| c.blocking).map(|c| c.status));
        Report {
            schema_version: SCHEMA_VERSION,
            tool: "kapso-gate".into(),
            version: "0.1.0".into(),
            verdict,
            exit_code: verdict.code(),
            message: None,
            threshold: 0.8,
            aggregate: Aggregate::Mean,
            trials: 1,
            started_at: stamp("2026-01-01T10:00:00.000Z"),
            finished_at: stamp("2026-01-01T10:00:20.000Z"),
            duration_ms: 20_000,
            base_url: "https://app.kapso.ai/api/v1".into(),
            shard: None,
            sample: None,
            binding: Default::default(),
            counts: Counts::from_cases(&cases),
            requests: Default::default(),
            runs_created: 0,
            warnings: Vec::new(),
            regression_summary: None,
            cases,
        }
    }

    /// A report for a gate that stopped before running anything.
    pub fn gate_failure(exit: Exit, message: &str) -> Report {
        let mut report = report(Vec::new());
        report.verdict = exit;
        report.exit_code = exit.code();
        report.message = Some(message.to_owned());
        report
    }
}
