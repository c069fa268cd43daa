//! Builds the report model: the one place a report is assembled, from the plan, the policy
//! and the trials' raw outcomes, asking the verdict rules for every status. Also the one
//! constructor for a gate that stopped before running anything (a usage error, a suite that
//! cannot be resolved, a state file that cannot be read).

use super::baseline::Entry;
use super::model::{Binding, BoundRecord, BoundSide, Certainty as ReportCertainty, IntervalKind, IntervalRecord};
use super::model::{CaseReport, Counts, Report, RequestCounts, SampleRecord, ShardRecord, TrialReport, SCHEMA_VERSION};
use super::regression::{self, Against};
use crate::domain::case::PlannedCase;
use crate::domain::exit::Exit;
use crate::domain::outcome::{TrialOutcome, TrialResult};
use crate::domain::time::Timestamp;
use crate::policy::confidence::{Decision, Inconclusive};
use crate::policy::verdict::{self, Aggregate, Certainty, Status, TrialVerdict};
use std::time::SystemTime;

/// What a case was asked to do: the case, the policy that applies to it, and its baseline.
#[derive(Debug, Clone)]
pub struct CaseSpec {
    pub case: PlannedCase,
    pub threshold: f64,
    pub blocking: bool,
    pub note: Option<String>,
    /// The case's score in the baseline report, when there is one.
    pub baseline: Option<f64>,
    pub max_drop: Option<f64>,
    /// With `--baseline`: `Some`, holding the baseline's record of the case when it has one
    /// (what the regression gate compares); `None` without a baseline.
    pub baseline_entry: Option<Option<Entry>>,
    /// The fingerprint of the case's definition, as its runs embedded it.
    pub definition_digest: Option<String>,
    /// Its trials spec, the confidence and the inconclusive rule.
    pub certainty: Certainty,
    /// The case wanted another trial that the run cap (`--max-runs`) could not pay for.
    pub cap_reached: bool,
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
    pub requests: RequestCounts,
    /// The shard this run covers, when sharded.
    pub shard: Option<ShardRecord>,
    /// The sample this run covers, when `--sample` left cases out.
    pub sample: Option<SampleRecord>,
    /// Test runs created.
    pub runs_created: u64,
    /// The commit, selection, settings and baseline the report is bound to. The baseline's
    /// `age_ms` is filled in here, from `started_at`.
    pub binding: Binding,
}

/// Judges one trial.
pub fn trial_report(index: usize, outcome: &TrialOutcome, threshold: f64) -> TrialReport {
    let mut report = TrialReport::without_result(index, Status::Incomplete, outcome.run_id.clone(), None);
    match &outcome.result {
        TrialResult::Finished(run) => {
            let (status, reason) = verdict::judge_run(run, threshold);
            report.status = status;
            report.reason = reason;
            // A score out of range is errored, and its reason shows it as sent; the report's
            // score stays a value every reader can compare.
            report.score = run.score.filter(|s| verdict::comparable(*s));
            report.feedback = run.feedback.clone();
            report.error = run.error.clone();
            report.conversation = run.conversation.clone();
            report.started_at = run.started_at.clone();
            report.ended_at = run.ended_at.clone();
            report.duration_ms = Timestamp::between(run.started_at.as_ref(), run.ended_at.as_ref())
                .or_else(|| outcome.seen_finished_at?.duration_since(outcome.created_at?).ok())
                .map(|d| d.as_millis() as u64);
        }
        TrialResult::NoResult { kind, reason } => {
            report.status = verdict::failure_status(*kind);
            report.reason = Some(reason.clone());
        }
    }
    report
}

/// Combines a case's trials into its report entry, and compares it with its baseline score.
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
    let judged = verdict::judge_case_with(&verdicts, aggregate, spec.threshold, &spec.certainty);
    let rep = judged
        .representative
        .map(|i| trials[i].clone())
        .unwrap_or(TrialReport::without_result(0, judged.status, None, None));
    let (bound, failed_inconclusive) = sequential_facts(&judged, spec);
    let reason = match judged.status {
        Status::Passed => None,
        // Filled below from the certainty sentence, the one wording of a sequential verdict.
        Status::Failed if bound.is_some() => None,
        _ => judged.aggregate_reason.clone().or_else(|| rep.reason.clone()),
    };
    let (baseline, regression) = compare_with_baseline(spec, &judged, &trials);
    let (status, reason) = match baseline.reason {
        Some(why) => (baseline.status, Some(why)),
        None => (judged.status, reason),
    };
    let mut report = CaseReport {
        test_case_id: spec.case.id.clone(),
        name: spec.case.name.clone().or(learned_name),
        suite_id: spec.case.suite_id.clone(),
        suite_name: spec.case.suite_name.clone(),
        status,
        blocking: spec.blocking,
        note: spec.note.clone(),
        score: judged.score,
        threshold: spec.threshold,
        trials_spec: Some(spec.certainty.trials.to_string()),
        reason,
        feedback: rep.feedback,
        error: rep.error,
        run_id: rep.run_id,
        carried_over: false,
        interval: judged.interval.map(|i| IntervalRecord {
            lower: i.lower,
            upper: i.upper,
            confidence: spec.certainty.confidence,
            kind: if spec.certainty.trials.is_sequential() {
                IntervalKind::Sequential
            } else {
                IntervalKind::Fixed
            },
        }),
        decision: judged.decision.map(|decision| match decision {
            Decision::Undecided => ReportCertainty::Inconclusive,
            _ => ReportCertainty::Certain,
        }),
        bound,
        failed_inconclusive,
        started_at: rep.started_at,
        ended_at: rep.ended_at,
        duration_ms: rep.duration_ms,
        conversation: rep.conversation,
        score_spread: judged.spread,
        baseline_score: spec.baseline,
        delta: baseline.delta,
        definition_digest: spec.definition_digest.clone(),
        regression,
        trials,
    };
    if report.status == Status::Failed && report.reason.is_none() {
        report.reason = report.certainty_sentence();
    }
    if spec.cap_reached && judged.decision == Some(Decision::Undecided) {
        report.reason = Some(cap_reached_reason(report.reason.take(), report.trials.len()));
    }
    report
}

/// The baseline comparison of a judged case: with `--baseline`, the regression gate (which
/// applies the raw drop where it still decides); without one, nothing.
fn compare_with_baseline(
    spec: &CaseSpec,
    judged: &verdict::CaseVerdict,
    trials: &[TrialReport],
) -> (verdict::BaselineCheck, Option<super::model::RegressionRecord>) {
    let Some(entry) = &spec.baseline_entry else {
        return (
            verdict::apply_baseline(judged.status, judged.score, spec.baseline, spec.max_drop),
            None,
        );
    };
    let today: Vec<f64> = trials.iter().filter_map(|t| t.score).collect();
    let against = Against {
        entry: entry.as_ref().map(|e| (e.status, e.case())),
        score: spec.baseline,
        margin: spec.max_drop,
        digest: spec.definition_digest.as_deref(),
    };
    let (check, record) = regression::check((judged.status, judged.score), &today, against, &spec.certainty);
    (check, Some(record))
}

/// For a MIN..MAX case: the one bound its verdict rests on (the end its bets aimed at: lower
/// for a pass or a mean at or above the threshold, upper otherwise), and whether it failed
/// only for being inconclusive (`--inconclusive fail`).
fn sequential_facts(judged: &verdict::CaseVerdict, spec: &CaseSpec) -> (Option<BoundRecord>, bool) {
    let (Some(decision), Some(interval), Some(mean)) = (judged.decision, judged.interval, judged.score) else {
        return (None, false);
    };
    let lower = match decision {
        Decision::Pass => true,
        Decision::Fail => false,
        Decision::Undecided => mean >= spec.threshold,
    };
    let bound = BoundRecord {
        side: if lower { BoundSide::Lower } else { BoundSide::Upper },
        value: if lower { interval.lower } else { interval.upper },
        confidence: spec.certainty.confidence,
    };
    let failed_inconclusive = decision == Decision::Undecided && spec.certainty.inconclusive == Inconclusive::Fail;
    (Some(bound), failed_inconclusive)
}

/// Why a case the run cap stopped is undecided, followed by what `--inconclusive` made of it.
fn cap_reached_reason(reason: Option<String>, trials: usize) -> String {
    let plural = if trials == 1 { "" } else { "s" };
    match reason {
        Some(reason) => format!("run cap reached (--max-runs) after {trials} trial{plural}, still undecided: {reason}"),
        None => format!(
            "run cap reached (--max-runs) after {trials} trial{plural}, still undecided; passed by its mean score (--inconclusive estimate)"
        ),
    }
}

/// The final report. `forced_exit` (a signal's exit, or a gate-level failure) overrides the
/// verdict of the cases.
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
    warnings.extend(verdict::scale_warning(info.threshold, &scores));
    let statuses: Vec<(Status, bool)> = cases.iter().map(|c| (c.status, c.blocking)).collect();
    let (mut verdict, warning) = verdict::gate_exit(&statuses, forced_exit);
    warnings.extend(warning);
    let binding = bind_age(info);
    warnings.extend(stale_baseline_warning(&binding));
    let regression_summary = regression::summary(&cases);
    let mut message = message;
    if let Some(suite) = regression_summary
        .as_ref()
        .filter(|s| s.suite_regressed() && !matches!(verdict, Exit::Interrupted | Exit::Terminated | Exit::Usage))
    {
        // The suite rule fails the gate like a failed case (which already outranks every
        // other case status), telling why when no single case does.
        verdict = Exit::Failed;
        let sentence = suite
            .suite
            .as_ref()
            .map(|s| s.sentence(suite.margin))
            .unwrap_or_default();
        message.get_or_insert(format!(
            "the suite regressed against the baseline: its mean change is certainly more than --max-drop {} below ({sentence})",
            super::text::fmt_score(suite.margin)
        ));
    }
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
        started_at: Timestamp::from_system(info.started_at),
        finished_at: Timestamp::from_system(info.finished_at),
        duration_ms: info
            .finished_at
            .duration_since(info.started_at)
            .unwrap_or_default()
            .as_millis() as u64,
        base_url: info.base_url.clone(),
        shard: info.shard.clone(),
        sample: info.sample.clone(),
        binding,
        counts: Counts::from_cases(&cases),
        requests: info.requests,
        runs_created: info.runs_created,
        warnings,
        regression_summary,
        cases,
    }
}

/// The warning every report carries when the baseline is older than `--baseline-max-age`.
fn stale_baseline_warning(binding: &Binding) -> Option<String> {
    let baseline = binding.baseline.as_ref()?;
    let (age, max) = (baseline.age_ms?, baseline.max_age_ms?);
    (age > max).then(|| {
        let days = |ms: u64| super::text::fmt_age(std::time::Duration::from_millis(ms));
        format!(
            "the baseline is {} old, older than --baseline-max-age {}: record a newer one (commit {})",
            days(age),
            days(max),
            baseline.commit.as_deref().unwrap_or("unknown")
        )
    })
}

/// The report of a gate that stopped with `exit` before running anything: every known case
/// carries the status the verdict rules give such a stop, and the message, so nothing selected
/// goes missing from the reports. A usage error knows no cases.
pub fn stopped_report(
    info: &RunInfo,
    known: Vec<CaseSpec>,
    aggregate: Aggregate,
    exit: Exit,
    message: String,
) -> Report {
    let status = verdict::unrun_status(exit);
    let cases = known
        .iter()
        .map(|spec| {
            // Nothing ran, so there is no score to compare with the baseline.
            let spec = CaseSpec {
                baseline: None,
                max_drop: None,
                baseline_entry: None,
                ..spec.clone()
            };
            let trial = TrialReport::without_result(0, status, None, Some(format!("not run: {message}")));
            case_report(&spec, vec![trial], aggregate, None)
        })
        .collect();
    report(info, cases, Some(message), Some(exit), Vec::new())
}

/// Settles the report once the destinations are known: a passing gate that cannot write a
/// requested report becomes incomplete, with the problems as its message, before any
/// destination is written, so every report agrees with the exit code.
pub fn settle(mut report: Report, problems: &[impl std::fmt::Display]) -> Report {
    let verdict = verdict::with_missing_reports(report.verdict, !problems.is_empty());
    if verdict != report.verdict {
        report.verdict = verdict;
        report.exit_code = verdict.code();
        report.message = Some(format!(
            "every case passed, but a requested report could not be written: {}",
            problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
        ));
    }
    report
}

/// The binding, with the baseline's age at the start of this run.
fn bind_age(info: &RunInfo) -> Binding {
    let mut binding = info.binding.clone();
    if let Some(baseline) = binding.baseline.as_mut() {
        baseline.age_ms = Timestamp::parse(&baseline.recorded_at)
            .and_then(|recorded| info.started_at.duration_since(recorded.system_time()).ok())
            .map(|age| u64::try_from(age.as_millis()).unwrap_or(u64::MAX));
    }
    binding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::outcome::FinishedRun;

    fn finished(score: Option<f64>) -> TrialOutcome {
        TrialOutcome {
            run_id: Some("r1".into()),
            result: TrialResult::Finished(Box::new(FinishedRun {
                id: "r1".into(),
                score,
                started_at: Timestamp::parse("2026-01-01T10:00:00.000Z"),
                ended_at: Timestamp::parse("2026-01-01T12:00:12.500+02:00"),
                ..FinishedRun::default()
            })),
            created_at: None,
            seen_finished_at: None,
        }
    }

    #[test]
    fn timestamps_reach_the_report_as_kapso_wrote_them() {
        let trial = trial_report(0, &finished(Some(0.9)), 0.8);
        assert_eq!(trial.started_at.unwrap().as_str(), "2026-01-01T10:00:00.000Z");
        assert_eq!(trial.ended_at.unwrap().as_str(), "2026-01-01T12:00:12.500+02:00");
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
            baseline: None,
            max_drop: None,
            baseline_entry: None,
            definition_digest: None,
            certainty: Certainty {
                trials: crate::policy::confidence::Trials::Fixed(1),
                confidence: 0.95,
                inconclusive: crate::policy::confidence::Inconclusive::Estimate,
            },
            cap_reached: false,
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
