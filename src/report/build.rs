//! Builds the report model from the plan and the scheduler's raw outcomes, asking the verdict
//! module for every status.

use super::model::{CaseReport, Counts, Report, TrialReport, SCHEMA_VERSION};
use crate::client::StatsSnapshot;
use crate::exit::Exit;
use crate::plan::PlannedCase;
use crate::scheduler::{TrialOutcome, TrialResult};
use crate::verdict::{self, Aggregate, Status, TrialVerdict};
use std::time::{Duration, SystemTime};

/// What a case was asked to do.
#[derive(Debug, Clone)]
pub struct CaseSpec {
    pub case: PlannedCase,
    pub threshold: f64,
    pub blocking: bool,
    pub note: Option<String>,
}

/// The invocation-wide facts the report records.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub threshold: f64,
    pub aggregate: Aggregate,
    pub trials: u32,
    pub base_url: String,
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
    pub requests: StatsSnapshot,
}

/// Judges one trial.
pub fn trial_report(index: usize, outcome: &TrialOutcome, threshold: f64) -> TrialReport {
    let mut report = TrialReport::without_result(index, Status::Incomplete, outcome.run_id.clone(), None);
    match &outcome.result {
        TrialResult::Finished(run) => {
            let (status, reason) = verdict::judge_run(run, threshold);
            report.status = status;
            report.reason = reason;
            report.score = run.score;
            report.feedback = run.feedback.clone();
            report.error = run.error.clone();
            report.conversation = run.conversation.clone();
            report.started_at = run.started_at.clone();
            report.ended_at = run.ended_at.clone();
            report.duration_ms = server_duration(run.started_at.as_deref(), run.ended_at.as_deref())
                .or_else(|| outcome.seen_finished_at?.duration_since(outcome.created_at?).ok())
                .map(|d| d.as_millis() as u64);
        }
        TrialResult::Rejected(reason) => {
            report.status = Status::Rejected;
            report.reason = Some(reason.clone());
        }
        TrialResult::Incomplete(reason) => {
            report.status = Status::Incomplete;
            report.reason = Some(reason.clone());
        }
        TrialResult::Cancelled(reason) => {
            report.status = Status::Cancelled;
            report.reason = Some(reason.clone());
        }
    }
    report
}

/// Combines a case's trials into its report entry.
pub fn case_report(
    spec: &CaseSpec,
    trials: Vec<TrialReport>,
    aggregate: Aggregate,
    learned_name: Option<String>,
) -> CaseReport {
    let verdicts: Vec<TrialVerdict> = trials
        .iter()
        .map(|t| TrialVerdict {
            status: t.status,
            score: t.score,
        })
        .collect();
    let (status, score) = verdict::judge_case(&verdicts, aggregate, spec.threshold);
    let scores: Vec<f64> = trials.iter().filter_map(|t| t.score).collect();
    let spread = (scores.len() > 1).then(|| {
        let max = scores.iter().copied().fold(f64::MIN, f64::max);
        let min = scores.iter().copied().fold(f64::MAX, f64::min);
        max - min
    });
    // The trial that explains the case: the first with the case's status, else the lowest score.
    let representative = trials
        .iter()
        .find(|t| t.status == status)
        .or_else(|| {
            trials
                .iter()
                .filter(|t| t.score.is_some())
                .min_by(|a, b| a.score.unwrap_or(0.0).total_cmp(&b.score.unwrap_or(0.0)))
        })
        .or(trials.first())
        .cloned();
    let reason = match (status, &representative) {
        (Status::Passed, _) => None,
        (Status::Failed, _) if trials.len() > 1 => score.map(|s| {
            format!(
                "{} score {} of {} trials is below the threshold {}",
                aggregate.name(),
                verdict::fmt_score(s),
                trials.len(),
                verdict::fmt_score(spec.threshold)
            )
        }),
        (_, Some(t)) => t.reason.clone(),
        (_, None) => None,
    };
    let rep = representative.unwrap_or(TrialReport::without_result(0, status, None, None));
    CaseReport {
        test_case_id: spec.case.id.clone(),
        name: spec.case.name.clone().or(learned_name),
        suite_id: spec.case.suite_id.clone(),
        suite_name: spec.case.suite_name.clone(),
        status,
        blocking: spec.blocking,
        note: spec.note.clone(),
        score,
        threshold: spec.threshold,
        reason,
        feedback: rep.feedback,
        error: rep.error,
        run_id: rep.run_id,
        started_at: rep.started_at,
        ended_at: rep.ended_at,
        duration_ms: rep.duration_ms,
        conversation: rep.conversation,
        score_spread: spread,
        baseline_score: None,
        delta: None,
        trials,
    }
}

/// The final report. `interrupt` (a signal's exit) overrides the verdict of the cases.
pub fn report(
    info: &RunInfo,
    cases: Vec<CaseReport>,
    message: Option<String>,
    forced_exit: Option<Exit>,
    mut warnings: Vec<String>,
) -> Report {
    let scores: Vec<f64> = cases
        .iter()
        .flat_map(|c| c.trials.iter().filter_map(|t| t.score))
        .collect();
    if let Some(warning) = verdict::scale_warning(info.threshold, &scores) {
        warnings.push(warning);
    }
    let verdict =
        forced_exit.unwrap_or_else(|| verdict::overall(cases.iter().filter(|c| c.blocking).map(|c| c.status)));
    let all_quarantined = forced_exit.is_none() && !cases.is_empty() && cases.iter().all(|c| !c.blocking);
    let verdict = if all_quarantined {
        warnings.push(format!(
            "every selected case is non-blocking (quarantined), so the gate cannot fail: {} of {} did not pass",
            cases
                .iter()
                .filter(|c| c.status != crate::verdict::Status::Passed)
                .count(),
            cases.len()
        ));
        Exit::Passed
    } else {
        verdict
    };
    Report {
        schema_version: SCHEMA_VERSION,
        tool: "kapso-gate".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        verdict,
        exit_code: verdict.code(),
        message,
        threshold: info.threshold,
        aggregate: info.aggregate,
        trials: info.trials,
        started_at: rfc3339(info.started_at),
        finished_at: rfc3339(info.finished_at),
        duration_ms: info
            .finished_at
            .duration_since(info.started_at)
            .unwrap_or_default()
            .as_millis() as u64,
        base_url: info.base_url.clone(),
        counts: Counts::from_cases(&cases),
        requests: info.requests,
        warnings,
        cases,
    }
}

pub fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// Duration from Kapso's own timestamps, when both parse.
fn server_duration(started: Option<&str>, ended: Option<&str>) -> Option<Duration> {
    let parse = |s: &str| {
        let normalised = s.trim().replace("+00:00", "Z");
        humantime::parse_rfc3339_weak(&normalised).ok()
    };
    parse(ended?)?.duration_since(parse(started?)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::wire::TestRun;

    fn finished(score: Option<f64>) -> TrialOutcome {
        TrialOutcome {
            run_id: Some("r1".into()),
            result: TrialResult::Finished(Box::new(TestRun {
                id: "r1".into(),
                score,
                execution_completed: Some(true),
                started_at: Some("2026-01-01T10:00:00.000Z".into()),
                ended_at: Some("2026-01-01T10:00:12.500+00:00".into()),
                ..TestRun::default()
            })),
            created_at: None,
            seen_finished_at: None,
        }
    }

    #[test]
    fn trial_durations_come_from_kapso_timestamps() {
        let trial = trial_report(0, &finished(Some(0.9)), 0.8);
        assert_eq!(trial.status, Status::Passed);
        assert_eq!(trial.duration_ms, Some(12_500));
    }

    #[test]
    fn case_carries_the_explaining_trial() {
        let spec = CaseSpec {
            case: PlannedCase {
                id: "c1".into(),
                ..PlannedCase::default()
            },
            threshold: 0.8,
            blocking: true,
            note: None,
        };
        let trials = vec![
            trial_report(0, &finished(Some(0.9)), 0.8),
            trial_report(1, &finished(None), 0.8),
        ];
        let case = case_report(&spec, trials, Aggregate::Mean, Some("Refund".into()));
        assert_eq!(case.status, Status::Errored);
        assert_eq!(case.reason.as_deref(), Some("finished without a score"));
        assert_eq!(case.display_name(), "Refund");
    }
}
