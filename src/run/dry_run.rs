//! `--dry-run`: resolves suites and agents, checks that every case exists, and says what a real
//! run would take. Creates nothing. Exit 0, or the exit the verdict rules give the failed checks;
//! a signal stops it at any point (exit 130/143).

use crate::domain::case::PlannedCase;
use crate::domain::exit::Exit;
use crate::domain::outcome::Interrupt;
use crate::input::settings::Settings;
use crate::policy::confidence::least_trials;
use crate::policy::verdict::{self, Status};
use crate::report::{DryRunCase, DryRunReport};
use crate::run::budget;
use crate::run::gate::{
    budget_limit, cap_misfit, client_for, resolve_plan, sample_plan, shard_plan, wait_for_interrupt,
};
use crate::run::plan;
use tokio::sync::watch;
use tokio::time::Instant;

/// Runs the dry run.
pub async fn dry_run(settings: &Settings, stop: watch::Receiver<Option<Interrupt>>) -> DryRunReport {
    let deadline = Instant::now() + settings.connection.timeout;
    let connection = &settings.connection;
    let selection = &settings.selection;
    let mut result = DryRunReport {
        cases: Vec::new(),
        requests_sent: 0,
        lookups: selection.suite_ids.len() + selection.agent_ids.len(),
        runs: 0,
        max_runs: 0,
        expected_runs: 0.0,
        run_cap: settings.run_cap(),
        sample: None,
        rate_limit: budget_limit(settings).0.start(),
        rate_window: connection.rate_window,
        min_time: Default::default(),
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
        Err(e) => {
            result.exit = e.exit;
            result.message = Some(e.message);
            result.requests_sent = client.stats().snapshot().sent;
            return result;
        }
    };
    // A shard's dry run checks and counts only its own cases, of the sample when there is one.
    let (plan, sample) = sample_plan(settings, plan);
    result.sample = sample;
    let (plan, _) = shard_plan(settings, plan);
    let misfit = cap_misfit(settings, &plan);
    let mut stopped = stop.clone();
    let checks = tokio::select! {
        checks = plan::check_cases(&client, &plan.cases, connection.concurrency, deadline) => checks,
        interrupt = wait_for_interrupt(&mut stopped) => {
            result.exit = verdict::interrupt_exit(interrupt);
            result.message = Some(format!("cancelled by {} while checking the cases", interrupt.name()));
            result.requests_sent = client.stats().snapshot().sent;
            return result;
        }
    };
    let statuses = add_checked_cases(settings, &mut result, plan.cases, checks);
    result.exit = if settings.shard.is_some() && statuses.is_empty() {
        verdict::empty_shard_exit()
    } else {
        verdict::overall(statuses)
    };
    if let Some(message) = misfit {
        result.exit = Exit::Usage;
        result.message = Some(message);
    }
    result.min_time = budget::min_time_under_budget(result.min_requests(), result.rate_limit, result.rate_window);
    result.requests_sent = client.stats().snapshot().sent;
    result
}

/// Each checked case into the dry run's report, with the runs its trials may need; the status
/// each check gives, for the dry run's exit.
fn add_checked_cases(
    settings: &Settings,
    result: &mut DryRunReport,
    cases: Vec<PlannedCase>,
    checks: Vec<plan::CaseCheck>,
) -> Vec<Status> {
    let mut statuses = Vec::new();
    for (case, check) in cases.into_iter().zip(checks) {
        let policy = settings.case_policy(&case.id);
        result.runs += policy.trials.min() as usize;
        result.max_runs += policy.trials.max() as usize;
        result.expected_runs +=
            crate::run::spend::expected_runs_per_case(policy.trials, settings.policy.confidence, policy.threshold);
        let (name, check) = match check {
            Ok(name) => (case.name.or(name), Ok(())),
            Err(failure) => (case.name, Err((failure.kind, failure.reason))),
        };
        statuses.push(match &check {
            Ok(()) => Status::Passed,
            Err((kind, _)) => verdict::failure_status(*kind),
        });
        result.cases.push(DryRunCase {
            test_case_id: case.id,
            name,
            trials: policy.trials,
            threshold: policy.threshold,
            least_trials: policy
                .trials
                .is_sequential()
                .then(|| least_trials(policy.threshold, settings.policy.confidence))
                .flatten(),
            blocking: policy.blocking,
            check,
        });
    }
    statuses
}
