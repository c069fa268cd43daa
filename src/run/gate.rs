//! The gate's run, end to end: resolve the selection, open the state file, run every trial
//! through the scheduler, and assemble the report. Every exit path returns a report that lists
//! every case known at that point. Progress goes to an observer; nothing here prints.

use crate::domain::case::PlannedCase;
use crate::domain::exit::Exit;
use crate::domain::outcome::{Interrupt, TrialOutcome};
use crate::input::cli::Args;
use crate::input::settings::Limit;
use crate::input::settings::{self, CasePolicy, Settings};
use crate::policy::regression_gate;
use crate::policy::verdict::{self, Aggregate, Certainty};
use crate::report::build::{self, CaseSpec, RunInfo};
use crate::report::{
    BaselineRecord, Binding, CaseReport, PolicyRecord, Report, RequestCounts, SampleRecord, SelectionRecord,
    ShardRecord, TrialReport,
};
use crate::run::budget::RateBudget;
use crate::run::client::{self, ClientConfig, KapsoClient, StatsSnapshot};
use crate::run::plan::{self, Plan, PlanError};
use crate::run::scheduler::{self, Job, Ran, Schedule, Wanted};
use crate::run::state::{Reattach, SelectedCase, StateError, StateFile};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::time::Instant;

/// How often a quiet run says it is still waiting: often enough that a CI log does not look
/// hung, rarely enough that a long run's log stays readable.
const HEARTBEAT: Duration = Duration::from_secs(30);

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
    /// What this invocation covers (its shard, the passes carried over), before runs start.
    Note(&'a str),
    /// Something the scheduler did.
    Run(scheduler::Event<'a>),
}

/// Runs the gate and returns the report.
pub async fn run(
    settings: &Settings,
    stop: watch::Receiver<Option<Interrupt>>,
    observer: &mut dyn FnMut(Progress<'_>),
) -> Report {
    let mut gate = Gate {
        settings,
        started_at: SystemTime::now(),
        deadline: Instant::now() + settings.connection.timeout,
        shard: settings.shard.map(|shard| ShardRecord {
            index: shard.index,
            total: shard.total,
            selected: None,
            selection_digest: None,
        }),
        sample: None,
        runs_created: 0,
        selection: None,
    };
    let client = match client_for(settings) {
        Ok(client) => client,
        Err(error) => return gate.stopped(None, direct_cases(settings), Exit::Usage, error.to_string()),
    };
    let plan = match resolve_plan(&client, settings, gate.deadline, &stop).await {
        Ok(plan) => plan,
        Err(e) => return gate.stopped(Some(&client), e.known, e.exit, e.message),
    };
    gate.selection = Some(selection_record(&plan));
    let (plan, sample) = sample_plan(settings, plan);
    gate.sample = sample;
    let (plan, shard) = shard_plan(settings, plan);
    gate.shard = shard;
    let mut warnings: Vec<String> = Vec::new();
    let (to_run, carried) = split_carried(settings, &plan);
    for note in notes(settings, &gate, &plan, &to_run) {
        observer(Progress::Note(&note));
    }
    if let Some(message) = cap_misfit(settings, &to_run) {
        return gate.stopped(Some(&client), plan.cases, Exit::Usage, message);
    }
    let (mut state, reattach) = match open_state(settings, &to_run) {
        Ok(opened) => opened,
        Err(error) => return gate.stopped(Some(&client), plan.cases, Exit::Usage, error.to_string()),
    };
    let trials_warnings = settings
        .policy
        .trials_warnings(to_run.cases.iter().map(|case| case.id.as_str()));
    for note in reattach.notes.iter().chain(&trials_warnings) {
        observer(Progress::Warning(note));
        warnings.push(note.clone());
    }
    let jobs = jobs(settings, &to_run, &reattach);
    observer(Progress::Planned {
        plan: &to_run,
        runs: jobs.len(),
        reattached: jobs.iter().filter(|j| j.existing_run.is_some()).count(),
    });

    let (ran, state_error) = run_jobs(
        &client,
        &gate,
        jobs,
        (&to_run, &reattach),
        state.as_mut(),
        stop.clone(),
        observer,
    )
    .await;
    warnings.extend(state_error);
    gate.runs_created = ran.runs_created as u64;
    warnings.extend(cap_warning(&to_run, &ran.cap_reached));

    let ran = case_reports(settings, &to_run, &ran);
    let cases = in_selection_order(carried, ran);
    let forced = (*stop.borrow()).map(verdict::interrupt_exit);
    let empty_shard = settings.shard.is_some() && cases.is_empty();
    let forced = forced.or(empty_shard.then(verdict::empty_shard_exit));
    build::report(&gate.info(Some(&client)), cases, None, forced, warnings)
}

/// Runs the jobs (and the trials they grow into) through the scheduler, recording each created
/// run in the state file. Returns the outcomes and, when the state file could not be written,
/// why (reported once, not once per run).
async fn run_jobs(
    client: &KapsoClient,
    gate: &Gate<'_>,
    jobs: Vec<Job>,
    (plan, reattach): (&Plan, &Reattach),
    mut state: Option<&mut StateFile>,
    stop: watch::Receiver<Option<Interrupt>>,
    observer: &mut dyn FnMut(Progress<'_>),
) -> (Ran, Option<String>) {
    let settings = gate.settings;
    let schedule = Schedule {
        poll_interval: settings.connection.poll_interval,
        deadline: gate.deadline,
        concurrency: settings.connection.concurrency,
        heartbeat: HEARTBEAT,
        learn_durations: settings.learn_durations,
        run_cap: settings.run_cap(),
    };
    let mut state_error: Option<String> = None;
    let mut more = next_trial(settings, plan, reattach);
    let mut record = |event: scheduler::Event<'_>| {
        if let (scheduler::Event::RunCreated { job, run_id }, Some(file)) = (&event, state.as_deref_mut()) {
            if let Err(error) = file.record(&job.test_case_id, job.trial, run_id) {
                if state_error.is_none() {
                    let message = error.to_string();
                    observer(Progress::Warning(&message));
                    state_error = Some(message);
                }
            }
        }
        observer(Progress::Run(event));
    };
    let outcomes = scheduler::run(client, jobs, &schedule, stop, &mut record, &mut more).await;
    (outcomes, state_error)
}

/// The invocation-wide facts of one run of the gate.
struct Gate<'a> {
    settings: &'a Settings,
    started_at: SystemTime,
    deadline: Instant,
    /// Known in full once the selection is resolved.
    shard: Option<ShardRecord>,
    sample: Option<SampleRecord>,
    runs_created: u64,
    /// The whole resolved selection, once it is.
    selection: Option<SelectionRecord>,
}

impl Gate<'_> {
    fn info(&self, client: Option<&KapsoClient>) -> RunInfo {
        let settings = self.settings;
        RunInfo {
            threshold: settings.policy.threshold,
            aggregate: settings.policy.aggregate,
            trials: settings.policy.trials.max(),
            base_url: settings.connection.base_url.to_string(),
            started_at: self.started_at,
            finished_at: SystemTime::now(),
            requests: client.map(|c| request_counts(c.stats().snapshot())).unwrap_or_default(),
            shard: self.shard.clone(),
            sample: self.sample.clone(),
            runs_created: self.runs_created,
            binding: binding(settings, self.selection.clone()),
        }
    }

    /// The report of a gate that stopped before running anything.
    fn stopped(&self, client: Option<&KapsoClient>, known: Vec<PlannedCase>, exit: Exit, message: String) -> Report {
        // Each shard reports only its own part of what is known, so merging finds no duplicates.
        let specs = known
            .into_iter()
            .filter(|case| self.settings.shard.is_none_or(|shard| shard.owns(&case.id)))
            .map(|case| case_spec(self.settings, case))
            .collect();
        build::stopped_report(&self.info(client), specs, self.settings.policy.aggregate, exit, message)
    }
}

/// The report for options that cannot be used: verdict `usage` (exit 2), no cases, and the
/// message, so the JSON, JUnit and GitHub outputs still say what went wrong. Only what is
/// safe to show is taken from the raw arguments.
pub fn usage_failure_report(message: &str, args: Option<&Args>) -> Report {
    let now = SystemTime::now();
    let (threshold, base_url) = settings::usage_context(args);
    let info = RunInfo {
        threshold,
        aggregate: Aggregate::default(),
        trials: 1,
        base_url,
        started_at: now,
        finished_at: now,
        requests: RequestCounts::default(),
        shard: None,
        sample: None,
        runs_created: 0,
        binding: Binding::default(),
    };
    build::stopped_report(&info, Vec::new(), Aggregate::default(), Exit::Usage, message.to_owned())
}

/// The one client of a run, with the one rate budget every request draws from: paced at the
/// configured limit, following the server's announced limit under `auto`.
pub(crate) fn client_for(settings: &Settings) -> Result<KapsoClient, client::BuildError> {
    let connection = &settings.connection;
    let (limit, share) = budget_limit(settings);
    let budget = Arc::new(RateBudget::shared(limit, connection.rate_window, share));
    let config = ClientConfig {
        base_url: connection.base_url.clone(),
        api_key: settings.api_key.clone(),
        redactor: settings.redactor.clone(),
        request_timeout: connection.request_timeout,
    };
    KapsoClient::new(&config, budget)
}

/// The limit this invocation follows, and how many gates share it. A shard spends only its
/// share of the key's limit (the config file's, the default, or what `auto` learns from the
/// server), because its siblings run at the same time on the same key; a limit given with
/// `--rate-limit` or `KAPSO_RATE_LIMIT` is taken as this invocation's own.
pub(crate) fn budget_limit(settings: &Settings) -> (Limit, u32) {
    let connection = &settings.connection;
    match settings.shard {
        Some(shard) if !connection.rate_limit_given => (connection.rate_limit, shard.total),
        _ => (connection.rate_limit, 1),
    }
}

pub(crate) fn request_counts(snapshot: StatsSnapshot) -> RequestCounts {
    RequestCounts {
        sent: snapshot.sent,
        retried: snapshot.retried,
        rate_limited: snapshot.rate_limited,
    }
}

/// Resolves the plan unless a stop signal comes first. On failure, the error carries the exit,
/// the message and the cases known so far (at least the ones named directly).
pub(crate) async fn resolve_plan(
    client: &KapsoClient,
    settings: &Settings,
    deadline: Instant,
    stop: &watch::Receiver<Option<Interrupt>>,
) -> Result<Plan, PlanError> {
    let mut stop = stop.clone();
    tokio::select! {
        plan = plan::resolve(client, &settings.selection, deadline) => plan.map_err(|mut e| {
            if e.known.is_empty() {
                e.known = direct_cases(settings);
            }
            e
        }),
        interrupt = wait_for_interrupt(&mut stop) => Err(PlanError {
            exit: verdict::interrupt_exit(interrupt),
            message: format!("cancelled by {} while resolving the selection", interrupt.name()),
            known: direct_cases(settings),
        }),
    }
}

/// Waits until a stop is requested; never resolves if the sender is gone.
pub async fn wait_for_interrupt(stop: &mut watch::Receiver<Option<Interrupt>>) -> Interrupt {
    loop {
        if let Some(interrupt) = *stop.borrow_and_update() {
            return interrupt;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Opens the state file, when one is asked for.
fn open_state(settings: &Settings, plan: &Plan) -> Result<(Option<StateFile>, Reattach), StateError> {
    let Some(path) = &settings.state_file else {
        return Ok((None, Reattach::default()));
    };
    let selected = plan
        .cases
        .iter()
        .map(|case| SelectedCase {
            test_case_id: case.id.clone(),
            trials: settings.case_policy(&case.id).trials.max(),
        })
        .collect();
    let connection = &settings.connection;
    StateFile::open(path, connection.base_url.as_str(), settings.policy.threshold, selected)
        .map(|(file, reattach)| (Some(file), reattach))
}

/// The sample of the resolved plan `--sample` runs (before any shard takes its part), and the
/// record every report carries when it left cases out.
pub(crate) fn sample_plan(settings: &Settings, plan: Plan) -> (Plan, Option<SampleRecord>) {
    let Some(size) = settings.sample else {
        return (plan, None);
    };
    let of = plan.cases.len();
    let (cases, left_out) = crate::run::sample::sample(plan.cases, size);
    let record = (!left_out.is_empty()).then_some(SampleRecord {
        size: cases.len(),
        of,
        left_out,
    });
    (Plan { cases, ..plan }, record)
}

/// Why the cases to run do not fit the run cap with their MIN trials, before anything is
/// created (re-attached runs are not subtracted: the rule is the dry run's).
pub(crate) fn cap_misfit(settings: &Settings, plan: &Plan) -> Option<String> {
    let cap = settings.run_cap()?;
    let needed: usize = plan
        .cases
        .iter()
        .map(|case| settings.case_policy(&case.id).trials.min() as usize)
        .sum();
    let share = settings
        .shard
        .zip(settings.max_runs)
        .map(|(shard, total)| format!("shard {}/{}'s share of {total}", shard.index, shard.total));
    crate::run::spend::min_runs_exceed_cap(needed, cap, share.as_deref())
}

/// The warning every report carries when the run cap left cases undecided.
fn cap_warning(plan: &Plan, cap_reached: &[usize]) -> Option<String> {
    if cap_reached.is_empty() {
        return None;
    }
    let ids: Vec<&str> = cap_reached.iter().map(|i| plan.cases[*i].id.as_str()).collect();
    Some(format!(
        "run cap reached (--max-runs): {} case(s) still undecided got no further trial: {}",
        ids.len(),
        ids.join(", ")
    ))
}

/// What a run's report is bound to: the commit, the selection, the verdict settings (their
/// digest, and what re-deriving a status needs) and the baseline.
fn binding(settings: &Settings, selection: Option<SelectionRecord>) -> Binding {
    let policy = &settings.policy;
    Binding {
        commit: settings.commit.clone(),
        selection,
        settings_digest: Some(settings.settings_digest.clone()),
        policy: Some(PolicyRecord {
            confidence: policy.confidence,
            inconclusive: policy.inconclusive.to_string(),
            max_drop: policy.max_drop,
        }),
        baseline: policy.baseline.as_ref().map(|baseline| BaselineRecord {
            max_age_ms: Some(u64::try_from(policy.baseline_max_age.as_millis()).unwrap_or(u64::MAX)),
            ..baseline.record()
        }),
    }
}

/// The whole resolved selection, as reports record it.
fn selection_record(plan: &Plan) -> SelectionRecord {
    let cases: Vec<String> = plan.cases.iter().map(|c| c.id.clone()).collect();
    SelectionRecord {
        digest: crate::input::shard::selection_digest(cases.iter().map(String::as_str)),
        cases,
    }
}

/// This shard's part of the resolved plan, and the record its report carries.
pub(crate) fn shard_plan(settings: &Settings, plan: Plan) -> (Plan, Option<ShardRecord>) {
    let Some(shard) = settings.shard else {
        return (plan, None);
    };
    let record = ShardRecord {
        index: shard.index,
        total: shard.total,
        selected: Some(plan.cases.len()),
        selection_digest: Some(crate::input::shard::selection_digest(
            plan.cases.iter().map(|c| c.id.as_str()),
        )),
    };
    let cases = plan.cases.into_iter().filter(|case| shard.owns(&case.id)).collect();
    (Plan { cases, ..plan }, Some(record))
}

/// The cases to run, and per case of `plan` the earlier pass carried over instead.
fn split_carried(settings: &Settings, plan: &Plan) -> (Plan, Vec<Option<CaseReport>>) {
    let carried: Vec<Option<CaseReport>> = plan
        .cases
        .iter()
        .map(|case| {
            let rerun = settings.rerun.as_ref()?;
            let policy = settings.case_policy(&case.id);
            rerun.carried(&case.id, policy.threshold, policy.blocking, policy.note)
        })
        .collect();
    let cases = plan
        .cases
        .iter()
        .zip(&carried)
        .filter(|(_, carried)| carried.is_none())
        .map(|(case, _)| case.clone())
        .collect();
    let to_run = Plan {
        cases,
        duplicates_dropped: plan.duplicates_dropped,
    };
    (to_run, carried)
}

/// The carried-over cases and the ones that ran, back in selection order.
fn in_selection_order(carried: Vec<Option<CaseReport>>, ran: Vec<CaseReport>) -> Vec<CaseReport> {
    let mut ran = ran.into_iter();
    carried
        .into_iter()
        .filter_map(|carried| carried.or_else(|| ran.next()))
        .collect()
}

/// What the user should know about the shard and the carried-over passes before runs start.
fn notes(settings: &Settings, gate: &Gate<'_>, plan: &Plan, to_run: &Plan) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(record) = &gate.shard {
        let (limit, share) = budget_limit(settings);
        let budget = match limit {
            Limit::Auto(_) if share > 1 => format!("a {share}th of the key's limit"),
            _ => format!(
                "at most {} requests per {}",
                crate::input::shard::share_of(limit.start(), share),
                humantime::format_duration(settings.connection.rate_window)
            ),
        };
        notes.push(format!(
            "shard {}: {} of the {} selected cases, {budget}",
            record.label(),
            plan.cases.len(),
            record.selected.unwrap_or_default(),
        ));
    }
    if let Some(sample) = &gate.sample {
        notes.push(format!("--sample: {}", sample.label()));
    }
    if let Some(cap) = settings.run_cap() {
        notes.push(format!("--max-runs: at most {cap} runs in this invocation"));
    }
    if settings.rerun.is_some() {
        notes.push(format!(
            "--rerun-failed: {} passed case(s) carried over, {} to run",
            plan.cases.len() - to_run.cases.len(),
            to_run.cases.len()
        ));
    }
    notes
}

/// One job per trial of every case, re-attaching to recorded runs, except to a run whose
/// failure `--rerun-failed` is re-running (the state file may be the one that recorded it).
fn jobs(settings: &Settings, plan: &Plan, reattach: &Reattach) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (case, planned) in plan.cases.iter().enumerate() {
        for trial in 0..settings.case_policy(&planned.id).trials.min() as usize {
            jobs.push(job(settings, plan, reattach, case, trial));
        }
    }
    jobs
}

/// Trial `trial` of case `case`, re-attached to the run the state file recorded for it (unless
/// `--rerun-failed` runs that case again).
fn job(settings: &Settings, plan: &Plan, reattach: &Reattach, case: usize, trial: usize) -> Job {
    let planned = &plan.cases[case];
    let being_rerun = |run_id: &str| settings.rerun.as_ref().is_some_and(|r| r.reruns(run_id));
    let existing_run = reattach
        .runs
        .iter()
        .find(|r| r.test_case_id == planned.id && r.trial == trial && !being_rerun(&r.run_id))
        .map(|r| r.run_id.clone());
    Job {
        case,
        trial,
        test_case_id: planned.id.clone(),
        existing_run,
    }
}

/// The next trial of a case whose trials so far are all decided: while MIN is not reached, or
/// for `MIN..MAX` while the verdict is uncertain and fewer than MAX runs exist (see
/// [`verdict::wants_more_trials`]). Trials grow one at a time, so a case never has more than
/// MAX runs, whatever was re-attached or retried.
fn next_trial<'a>(
    settings: &'a Settings,
    plan: &'a Plan,
    reattach: &'a Reattach,
) -> impl FnMut(usize, &[&TrialOutcome]) -> Option<Wanted> + 'a {
    move |case, decided| {
        let spec = case_spec(settings, plan.cases[case].clone());
        let verdicts: Vec<_> = decided
            .iter()
            .map(|outcome| verdict::trial_verdict(outcome, spec.threshold))
            .collect();
        let created = u32::try_from(decided.len()).unwrap_or(u32::MAX);
        if !verdict::wants_more_trials(&spec.certainty, created, &verdicts, spec.threshold)
            && !regression_wants_more(&spec, decided, &verdicts)
        {
            return None;
        }
        let scores: Vec<f64> = verdicts.iter().filter_map(|v| v.score).collect();
        Some(Wanted {
            job: job(settings, plan, reattach, case, decided.len()),
            distance: crate::run::spend::distance_to_decision(&scores, spec.certainty.confidence, spec.threshold),
        })
    }
}
/// Whether a `MIN..MAX` case gated by a baseline (`--max-drop`) wants another trial because
/// its regression decision is still open (see [`regression_gate::wants_more_trials`]).
fn regression_wants_more(spec: &CaseSpec, decided: &[&TrialOutcome], verdicts: &[verdict::TrialVerdict]) -> bool {
    let (Some(margin), Some(entry)) = (spec.max_drop, spec.baseline_entry.as_ref()) else {
        return false;
    };
    let digest = decided.iter().find_map(|outcome| match &outcome.result {
        crate::domain::outcome::TrialResult::Finished(run) => run.definition_digest.as_deref(),
        crate::domain::outcome::TrialResult::NoResult { .. } => None,
    });
    let today: Vec<f64> = verdicts.iter().filter_map(|v| v.score).collect();
    let baseline = entry.as_ref().map(crate::report::baseline::Entry::case);
    let regression = regression_gate::judge(baseline, digest, &today, margin, spec.certainty.confidence);
    let created = u32::try_from(decided.len()).unwrap_or(u32::MAX);
    regression_gate::wants_more_trials(
        &spec.certainty,
        created,
        verdicts,
        spec.threshold,
        &regression,
        baseline.map_or(0, |b| b.scores.len()),
    )
}

/// What the report builder needs to know of a case: the case, its policy and its baseline.
fn case_spec(settings: &Settings, case: PlannedCase) -> CaseSpec {
    let CasePolicy {
        threshold,
        blocking,
        note,
        trials,
    } = settings.case_policy(&case.id);
    let policy = &settings.policy;
    CaseSpec {
        certainty: Certainty {
            trials,
            confidence: policy.confidence,
            inconclusive: policy.inconclusive,
        },
        baseline: policy.baseline.as_ref().and_then(|b| b.score(&case.id)),
        baseline_entry: policy.baseline.as_ref().map(|b| b.entry(&case.id).cloned()),
        definition_digest: None,
        max_drop: policy.max_drop,
        case,
        threshold,
        blocking,
        note,
        cap_reached: false,
    }
}

/// Judges every case from its trials' outcomes.
fn case_reports(settings: &Settings, plan: &Plan, ran: &Ran) -> Vec<CaseReport> {
    let outcomes = &ran.outcomes;
    let mut per_case: Vec<Vec<TrialReport>> = vec![Vec::new(); plan.cases.len()];
    let mut learned_names: Vec<Option<String>> = vec![None; plan.cases.len()];
    let mut digests: Vec<Option<String>> = vec![None; plan.cases.len()];
    let mut in_trial_order: Vec<&(Job, TrialOutcome)> = outcomes.iter().collect();
    in_trial_order.sort_by_key(|(job, _)| (job.case, job.trial));
    for (job, outcome) in in_trial_order {
        if let crate::domain::outcome::TrialResult::Finished(run) = &outcome.result {
            if run.case_name.is_some() {
                learned_names[job.case] = run.case_name.clone();
            }
            // The first trial's definition is the one the case is recorded with.
            if digests[job.case].is_none() {
                digests[job.case] = run.definition_digest.clone();
            }
        }
        let threshold = settings.case_policy(&job.test_case_id).threshold;
        per_case[job.case].push(build::trial_report(job.trial, outcome, threshold));
    }
    plan.cases
        .iter()
        .enumerate()
        .zip(per_case)
        .zip(learned_names)
        .zip(digests)
        .map(|((((index, planned), trials), name), definition_digest)| {
            let spec = CaseSpec {
                cap_reached: ran.cap_reached.contains(&index),
                definition_digest,
                ..case_spec(settings, planned.clone())
            };
            build::case_report(&spec, trials, settings.policy.aggregate, name)
        })
        .collect()
}

/// The cases given by ID, for reports when the selection could not be resolved.
pub(crate) fn direct_cases(settings: &Settings) -> Vec<PlannedCase> {
    settings
        .selection
        .case_ids
        .iter()
        .map(|id| PlannedCase {
            id: id.clone(),
            ..PlannedCase::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_reports_hide_credentials() {
        let args = Args::parse_iter([
            "kapso-gate",
            "--threshold",
            "nope",
            "--base-url",
            "https://user:pw@example.com/api?token=1#x",
        ])
        .expect("clap accepts these");
        let report = usage_failure_report("bad", Some(&args));
        assert_eq!(report.verdict, Exit::Usage);
        assert_eq!(report.exit_code, 2);
        assert_eq!(report.base_url, "https://example.com/api");
        assert_eq!(report.threshold, crate::policy::defaults::THRESHOLD);
        assert_eq!(report.message.as_deref(), Some("bad"));
        assert!(report.cases.is_empty());
    }
}
