//! kapso-gate: runs Kapso agent test cases and turns their judge scores into a CI verdict.
//!
//! Data flows one way: `cli::Args` → `settings::Settings` → `plan` (the cases) → `scheduler`
//! (create, poll, deadline, cancellation, through `client` and `budget`) → `report::build`
//! (statuses from `verdict`) → renderers in `report`. The library never prints: progress goes
//! to an observer, results come back as a `Report`.

#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used))]

pub mod budget;
pub mod cli;
pub mod client;
pub mod exit;
pub mod ids;
pub mod output;
pub mod plan;
pub mod report;
pub mod scheduler;
pub mod secret;
pub mod settings;
pub mod verdict;

use client::{ClientConfig, KapsoClient};
use exit::Exit;
use plan::{Plan, PlannedCase};
use report::build::{self, CaseSpec, RunInfo};
use report::Report;
use scheduler::{Interrupt, Job, Schedule};
use settings::Settings;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::time::Instant;
use verdict::{Aggregate, Status};

/// What the observer hears while the gate runs.
#[derive(Debug)]
pub enum Progress<'a> {
    /// The selection is resolved; `runs` will be created.
    Planned { plan: &'a Plan, runs: usize },
    /// Something the scheduler did.
    Run(scheduler::Event<'a>),
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
    let budget = Arc::new(budget::RateBudget::new(settings.rate_limit, settings.rate_window));
    let config = ClientConfig {
        base_url: settings.base_url.clone(),
        api_key: settings.api_key.clone(),
        request_timeout: settings.request_timeout,
    };
    let info = |requests| RunInfo {
        threshold: settings.threshold,
        aggregate: Aggregate::Mean,
        trials: 1,
        base_url: settings.base_url.to_string(),
        started_at,
        finished_at: SystemTime::now(),
        requests,
    };
    let client = match KapsoClient::new(&config, budget) {
        Ok(client) => client,
        Err(error) => {
            return gate_failure(
                &info(Default::default()),
                settings,
                Vec::new(),
                Exit::Usage,
                error.to_string(),
            )
        }
    };

    let resolved = {
        let mut stop = stop.clone();
        tokio::select! {
            plan = plan::resolve(&client, &settings.case_ids, &settings.suite_ids, settings.duplicates_dropped, deadline) => Some(plan),
            interrupt = wait_for_interrupt(&mut stop) => {
                let exit = interrupt_exit(interrupt);
                let cases = direct_cases(settings);
                return gate_failure(&info(client.stats().snapshot()), settings, cases, exit, format!("cancelled by {} while resolving test suites", interrupt.name()));
            }
        }
    };
    let plan = match resolved {
        Some(Ok(plan)) => plan,
        Some(Err(error)) => {
            let known = if error.known.is_empty() {
                direct_cases(settings)
            } else {
                error.known.clone()
            };
            return gate_failure(
                &info(client.stats().snapshot()),
                settings,
                known,
                error.exit,
                error.message,
            );
        }
        None => unreachable_plan(),
    };

    let jobs: Vec<Job> = plan
        .cases
        .iter()
        .enumerate()
        .map(|(case, planned)| Job {
            case,
            trial: 0,
            test_case_id: planned.id.clone(),
            existing_run: None,
        })
        .collect();
    observer(Progress::Planned {
        plan: &plan,
        runs: jobs.len(),
    });

    let schedule = Schedule {
        poll_interval: settings.poll_interval,
        deadline,
        concurrency: settings.concurrency,
        heartbeat: Duration::from_secs(30),
    };
    let outcomes = scheduler::run(&client, &jobs, &schedule, stop.clone(), &mut |event| {
        observer(Progress::Run(event))
    })
    .await;

    let mut per_case: Vec<Vec<report::TrialReport>> = vec![Vec::new(); plan.cases.len()];
    let mut learned_names: Vec<Option<String>> = vec![None; plan.cases.len()];
    for (job, outcome) in jobs.iter().zip(&outcomes) {
        if let scheduler::TrialResult::Finished(run) = &outcome.result {
            if let Some(name) = run.test_case.as_ref().and_then(|c| c.name.clone()) {
                learned_names[job.case] = Some(name);
            }
        }
        per_case[job.case].push(build::trial_report(job.trial, outcome, settings.threshold));
    }
    let cases = plan
        .cases
        .iter()
        .zip(per_case)
        .zip(learned_names)
        .map(|((planned, trials), name)| {
            let spec = CaseSpec {
                case: planned.clone(),
                threshold: settings.threshold,
                blocking: true,
            };
            build::case_report(&spec, trials, Aggregate::Mean, name)
        })
        .collect();
    let forced = (*stop.borrow()).map(interrupt_exit);
    build::report(&info(client.stats().snapshot()), cases, None, forced, Vec::new())
}

fn unreachable_plan() -> Plan {
    Plan::default()
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
            let spec = CaseSpec {
                case,
                threshold: settings.threshold,
                blocking: true,
            };
            let trial = report::TrialReport {
                trial: 0,
                run_id: None,
                status,
                score: None,
                reason: Some(format!("not run: {message}")),
                feedback: None,
                error: None,
                started_at: None,
                ended_at: None,
                duration_ms: None,
                conversation: None,
            };
            build::case_report(&spec, vec![trial], Aggregate::Mean, None)
        })
        .collect();
    build::report(info, cases, Some(message), Some(exit), Vec::new())
}
