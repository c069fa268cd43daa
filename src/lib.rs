//! kapso-gate: runs Kapso agent test cases and turns their judge scores into a CI verdict.
//!
//! Data flows one way: `cli::Args` → `settings::Settings` → `plan` (the cases) → `scheduler`
//! (create, poll, deadline, cancellation, through `client` and `budget`) → `report::build`
//! (statuses from `verdict`) → renderers in `report`. The library never prints: progress goes
//! to an observer, results come back as a `Report`.

#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used))]

pub mod baseline;
pub mod budget;
pub mod cli;
pub mod client;
pub mod confidence;
pub mod config;
pub mod exit;
pub mod ids;
pub mod output;
pub mod plan;
pub mod report;
pub mod scheduler;
pub mod secret;
pub mod settings;
pub mod state;
pub mod verdict;

use client::{ClientConfig, KapsoClient};
use exit::Exit;
use plan::{Plan, PlannedCase, Selection};
use report::build::{self, CaseSpec, RunInfo};
use report::Report;
use scheduler::{Interrupt, Job, Schedule};
use settings::{CasePolicy, Settings};
use state::{SelectedCase, StateFile};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::time::Instant;
use verdict::Status;

/// What the observer hears while the gate runs.
#[derive(Debug)]
pub enum Progress<'a> {
    /// The selection is resolved; `runs` will be created or re-attached to.
    Planned {
        plan: &'a Plan,
        runs: usize,
        reattached: usize,
    },
    /// Something worth telling the user that does not stop the gate.
    Warning(&'a str),
    /// Something the scheduler did.
    Run(scheduler::Event<'a>),
}

fn client_for(settings: &Settings) -> Result<KapsoClient, client::BuildError> {
    let budget = Arc::new(budget::RateBudget::new(settings.rate_limit, settings.rate_window));
    let config = ClientConfig {
        base_url: settings.base_url.clone(),
        api_key: settings.api_key.clone(),
        request_timeout: settings.request_timeout,
    };
    KapsoClient::new(&config, budget)
}

fn selection(settings: &Settings) -> Selection<'_> {
    Selection {
        case_ids: &settings.case_ids,
        suite_ids: &settings.suite_ids,
        agent_ids: &settings.agent_ids,
        duplicates_already_dropped: settings.duplicates_dropped,
    }
}

/// Resolves the plan unless a stop signal comes first.
async fn resolve_plan(
    client: &KapsoClient,
    settings: &Settings,
    deadline: Instant,
    stop: &watch::Receiver<Option<Interrupt>>,
) -> Result<Plan, (Exit, String, Vec<PlannedCase>)> {
    let mut stop = stop.clone();
    tokio::select! {
        plan = plan::resolve(client, selection(settings), deadline) => plan.map_err(|e| {
            let known = if e.known.is_empty() { direct_cases(settings) } else { e.known };
            (e.exit, e.message, known)
        }),
        interrupt = wait_for_interrupt(&mut stop) => Err((
            interrupt_exit(interrupt),
            format!("cancelled by {} while resolving the selection", interrupt.name()),
            direct_cases(settings),
        )),
    }
}

/// Runs the gate: resolves the selection, runs every case, and returns the report. Every exit
/// path returns a report listing every case known at that point.
pub async fn run(
    settings: &Settings,
    stop: watch::Receiver<Option<Interrupt>>,
    observer: &mut dyn FnMut(Progress<'_>),
) -> Report {
    let started_at = SystemTime::now();
    let deadline = Instant::now() + settings.timeout;
    let info = |requests| RunInfo {
        threshold: settings.threshold,
        aggregate: settings.aggregate,
        trials: settings.trials,
        base_url: settings.base_url.to_string(),
        started_at,
        finished_at: SystemTime::now(),
        requests,
    };
    let client = match client_for(settings) {
        Ok(client) => client,
        Err(error) => {
            return gate_failure(
                &info(Default::default()),
                settings,
                direct_cases(settings),
                Exit::Usage,
                error.to_string(),
            )
        }
    };
    let plan = match resolve_plan(&client, settings, deadline, &stop).await {
        Ok(plan) => plan,
        Err((exit, message, known)) => {
            return gate_failure(&info(client.stats().snapshot()), settings, known, exit, message);
        }
    };
    let policies: Vec<CasePolicy> = plan.cases.iter().map(|c| settings.case_policy(&c.id)).collect();

    let mut warnings: Vec<String> = Vec::new();
    let mut state = None;
    let mut reattach = state::Reattach::default();
    if let Some(path) = &settings.state_file {
        let selected = plan
            .cases
            .iter()
            .zip(&policies)
            .map(|(case, policy)| SelectedCase {
                test_case_id: case.id.clone(),
                trials: policy.trials,
            })
            .collect();
        match StateFile::open(path, settings.base_url.as_str(), settings.threshold, selected) {
            Ok((file, found)) => {
                state = Some(file);
                reattach = found;
            }
            Err(message) => {
                return gate_failure(
                    &info(client.stats().snapshot()),
                    settings,
                    plan.cases,
                    Exit::Usage,
                    message,
                )
            }
        }
        for note in &reattach.notes {
            observer(Progress::Warning(note));
            warnings.push(note.clone());
        }
    }

    let mut jobs: Vec<Job> = Vec::new();
    for (case, (planned, policy)) in plan.cases.iter().zip(&policies).enumerate() {
        for trial in 0..policy.trials as usize {
            let existing_run = reattach
                .runs
                .iter()
                .find(|r| r.test_case_id == planned.id && r.trial == trial)
                .map(|r| r.run_id.clone());
            jobs.push(Job {
                case,
                trial,
                test_case_id: planned.id.clone(),
                existing_run,
            });
        }
    }
    let reattached = jobs.iter().filter(|j| j.existing_run.is_some()).count();
    observer(Progress::Planned {
        plan: &plan,
        runs: jobs.len(),
        reattached,
    });

    let schedule = Schedule {
        poll_interval: settings.poll_interval,
        deadline,
        concurrency: settings.concurrency,
        heartbeat: Duration::from_secs(30),
        learn_durations: settings.learn_durations,
    };
    // A state file that cannot be written is reported once, not once per run.
    let mut state_error: Option<String> = None;
    let outcomes = scheduler::run(&client, &jobs, &schedule, stop.clone(), &mut |event| {
        if let (scheduler::Event::RunCreated { job, run_id }, Some(file)) = (&event, state.as_mut()) {
            if let Err(message) = file.record(&job.test_case_id, job.trial, run_id) {
                if state_error.is_none() {
                    observer(Progress::Warning(&message));
                    state_error = Some(message);
                }
            }
        }
        observer(Progress::Run(event));
    })
    .await;
    warnings.extend(state_error);

    let cases = case_reports(settings, &plan, &policies, &jobs, &outcomes);
    let forced = (*stop.borrow()).map(interrupt_exit);
    build::report(&info(client.stats().snapshot()), cases, None, forced, warnings)
}

/// What the report builder needs to know of a case: the case and the policy that applies to it.
fn case_spec(case: PlannedCase, policy: &CasePolicy) -> CaseSpec {
    CaseSpec {
        case,
        threshold: policy.threshold,
        blocking: policy.blocking,
        note: policy.note.clone(),
    }
}

/// Judges every case from its trials' outcomes, and compares with the baseline.
fn case_reports(
    settings: &Settings,
    plan: &Plan,
    policies: &[CasePolicy],
    jobs: &[Job],
    outcomes: &[scheduler::TrialOutcome],
) -> Vec<report::CaseReport> {
    let mut per_case: Vec<Vec<report::TrialReport>> = vec![Vec::new(); plan.cases.len()];
    let mut learned_names: Vec<Option<String>> = vec![None; plan.cases.len()];
    for (job, outcome) in jobs.iter().zip(outcomes) {
        if let scheduler::TrialResult::Finished(run) = &outcome.result {
            if let Some(name) = run.test_case.as_ref().and_then(|c| c.name.clone()) {
                learned_names[job.case] = Some(name);
            }
        }
        per_case[job.case].push(build::trial_report(job.trial, outcome, policies[job.case].threshold));
    }
    plan.cases
        .iter()
        .zip(per_case)
        .zip(learned_names)
        .zip(policies)
        .map(|(((planned, trials), name), policy)| {
            let mut case = build::case_report(&case_spec(planned.clone(), policy), trials, settings.aggregate, name);
            let baseline = settings.baseline.as_ref().and_then(|b| b.score(&planned.id));
            let (status, delta, reason) = verdict::apply_baseline(case.status, case.score, baseline, settings.max_drop);
            case.baseline_score = baseline;
            case.delta = delta;
            if status != case.status {
                case.status = status;
                case.reason = reason;
            }
            case
        })
        .collect()
}

/// The result of `--dry-run`.
#[derive(Debug, Clone)]
pub struct DryRun {
    pub cases: Vec<DryRunCase>,
    /// Requests the dry run itself sent.
    pub requests_sent: u64,
    /// Suite and agent lookups a real run needs.
    pub lookups: usize,
    /// Runs a real run creates.
    pub runs: usize,
    pub rate_limit: u32,
    pub rate_window: Duration,
    pub exit: Exit,
    pub message: Option<String>,
}

impl DryRun {
    /// Requests a real run needs at the least: lookups, one creation and one poll per run.
    pub fn min_requests(&self) -> usize {
        self.lookups + 2 * self.runs
    }

    /// The least time those requests take under the rate budget.
    pub fn min_time(&self) -> Duration {
        min_time_under_budget(self.min_requests(), self.rate_limit, self.rate_window)
    }
}

/// One case of a dry run.
#[derive(Debug, Clone)]
pub struct DryRunCase {
    pub case: PlannedCase,
    pub policy: CasePolicy,
    /// `Err` when the case cannot be run: not found, key refused, or could not be checked.
    pub check: Result<(), plan::CheckFailure>,
}

/// `--dry-run`: resolves suites and agents, checks every case exists, and says what a real run
/// would take. Creates nothing. Exit 0, or 3 when a case does not exist.
pub async fn dry_run(settings: &Settings, stop: watch::Receiver<Option<Interrupt>>) -> DryRun {
    let deadline = Instant::now() + settings.timeout;
    let mut result = DryRun {
        cases: Vec::new(),
        requests_sent: 0,
        lookups: settings.suite_ids.len() + settings.agent_ids.len(),
        runs: 0,
        rate_limit: settings.rate_limit,
        rate_window: settings.rate_window,
        exit: Exit::Passed,
        message: None,
    };
    let client = match client_for(settings) {
        Ok(client) => client,
        Err(error) => {
            result.exit = Exit::Usage;
            result.message = Some(error.to_string());
            return result;
        }
    };
    let plan = match resolve_plan(&client, settings, deadline, &stop).await {
        Ok(plan) => plan,
        Err((exit, message, _)) => {
            result.exit = exit;
            result.message = Some(message);
            result.requests_sent = client.stats().snapshot().sent;
            return result;
        }
    };
    let checks = plan::check_cases(&client, &plan.cases, settings.concurrency, deadline).await;
    let mut statuses = Vec::new();
    for (case, check) in plan.cases.into_iter().zip(checks) {
        let policy = settings.case_policy(&case.id);
        result.runs += policy.trials as usize;
        let (case, check) = match check {
            Ok(name) => {
                statuses.push(Status::Passed);
                (
                    PlannedCase {
                        name: case.name.or(name),
                        ..case
                    },
                    Ok(()),
                )
            }
            Err(failure) => {
                statuses.push(if failure.exit == Exit::Rejected {
                    Status::Rejected
                } else {
                    Status::Incomplete
                });
                (case, Err(failure))
            }
        };
        result.cases.push(DryRunCase { case, policy, check });
    }
    result.exit = verdict::overall(statuses);
    result.requests_sent = client.stats().snapshot().sent;
    result
}

/// The earliest moment the last of `requests` can be sent when at most `limit` go out in any
/// `window`: the first `limit` go at once, and each later batch one window after the previous.
pub fn min_time_under_budget(requests: usize, limit: u32, window: Duration) -> Duration {
    if limit == 0 || requests == 0 {
        return Duration::ZERO;
    }
    let batches = (requests - 1) / limit as usize;
    window * u32::try_from(batches).unwrap_or(u32::MAX)
}

/// Waits until a stop is requested; never resolves if the sender is gone.
async fn wait_for_interrupt(stop: &mut watch::Receiver<Option<Interrupt>>) -> Interrupt {
    loop {
        if let Some(interrupt) = *stop.borrow_and_update() {
            return interrupt;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The exit a signal earns.
pub fn interrupt_exit(interrupt: Interrupt) -> Exit {
    match interrupt {
        Interrupt::Sigint => Exit::Interrupted,
        Interrupt::Sigterm => Exit::Terminated,
    }
}

fn direct_cases(settings: &Settings) -> Vec<PlannedCase> {
    settings
        .case_ids
        .iter()
        .map(|id| PlannedCase {
            id: id.clone(),
            ..PlannedCase::default()
        })
        .collect()
}

/// A report for a gate that stopped before running anything: every known case carries the
/// gate's status and message, so nothing selected goes missing from the reports.
fn gate_failure(info: &RunInfo, settings: &Settings, known: Vec<PlannedCase>, exit: Exit, message: String) -> Report {
    let status = match exit {
        Exit::Rejected => Status::Rejected,
        Exit::Interrupted | Exit::Terminated => Status::Cancelled,
        _ => Status::Incomplete,
    };
    let cases = known
        .into_iter()
        .map(|case| {
            let policy = settings.case_policy(&case.id);
            let spec = case_spec(case, &policy);
            let trial = report::TrialReport::without_result(0, status, None, Some(format!("not run: {message}")));
            build::case_report(&spec, vec![trial], settings.aggregate, None)
        })
        .collect();
    build::report(info, cases, Some(message), Some(exit), Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_time_under_a_sliding_window() {
        let minute = Duration::from_secs(60);
        assert_eq!(min_time_under_budget(100, 100, minute), Duration::ZERO);
        assert_eq!(min_time_under_budget(120, 100, minute), minute);
        assert_eq!(min_time_under_budget(201, 100, minute), minute * 2);
        assert_eq!(min_time_under_budget(5000, 0, minute), Duration::ZERO);
    }
}
