//! The run lifecycle: creates one Kapso run per trial, polls every unfinished run, and stops at
//! the deadline, on a stop signal, or when the key is refused. It owns time, the rate budget
//! and concurrency, and knows nothing about thresholds or report formats: it returns one raw
//! [`TrialOutcome`] per job and tells an observer what happens as it happens. It also keeps
//! the run cap (`--max-runs`): every run that exists or may exist counts against it, and when
//! the cap cannot pay for every extra trial wanted, they go to the cases nearest a decision.

mod duration_model;

use crate::domain::outcome::{FailureKind, Interrupt, TrialOutcome, TrialResult};
use crate::domain::time::Timestamp;
use crate::run::budget::Permit;
use crate::run::client::error::RequestError;
use crate::run::client::retry::{self, Disposition, Method};
use crate::run::client::wire::TestRun;
use crate::run::client::KapsoClient;
use backon::BackoffBuilder;
use duration_model::DurationModel;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

/// One run to obtain: a trial of a test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Index of the case in the plan.
    pub case: usize,
    /// 0-based trial number within the case.
    pub trial: usize,
    pub test_case_id: String,
    /// A run created by an earlier invocation to re-attach to instead of creating one.
    pub existing_run: Option<String>,
}

/// What the observer is told while the scheduler works.
#[derive(Debug)]
pub enum Event<'a> {
    /// A run was created for `job`.
    RunCreated { job: &'a Job, run_id: &'a str },
    /// A request for `job` failed and will be sent again after `after`.
    Retrying {
        job: &'a Job,
        error: &'a RequestError,
        after: Duration,
    },
    /// `job` is decided.
    Decided { job: &'a Job, outcome: &'a TrialOutcome },
    /// Periodic sign of life while runs are pending.
    Heartbeat { pending: usize, elapsed: Duration },
}

/// Timing and concurrency.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub poll_interval: Duration,
    pub deadline: Instant,
    pub concurrency: usize,
    pub heartbeat: Duration,
    /// Use what finished runs took to time a new run's first poll.
    pub learn_durations: bool,
    /// The most runs to create (`--max-runs`); the initial jobs must fit in it.
    pub run_cap: Option<usize>,
}

/// A case's next trial, as [`NextTrial`] asks for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub job: Job,
    /// How far the case is from a certain decision (see [`crate::run::spend`]): under a contended
    /// cap, the smallest distances get their trial first.
    pub distance: f64,
}

/// What the scheduler did.
#[derive(Debug)]
pub struct Ran {
    /// Each job with its outcome, in the order the jobs were added.
    pub outcomes: Vec<(Job, TrialOutcome)>,
    /// The cases (plan indices) that wanted another trial the run cap could not pay for.
    pub cap_reached: Vec<usize>,
    /// Runs Kapso confirmed created (re-attached runs are not counted).
    pub runs_created: usize,
}

#[derive(Debug)]
enum Phase {
    /// Not created yet; may be sent from `not_before`.
    ToCreate {
        not_before: Instant,
    },
    Creating,
    /// Created and not finished; next poll due at `due`.
    Running {
        run_id: String,
        due: Instant,
    },
    Polling {
        run_id: String,
    },
    Done,
}

impl Phase {
    fn run_id(&self) -> Option<&str> {
        match self {
            Phase::Running { run_id, .. } | Phase::Polling { run_id } => Some(run_id),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Slot {
    phase: Phase,
    /// Retry delays for the current failing streak; `None` while requests succeed.
    backoff: Option<backon::ExponentialBackoff>,
    failures: u32,
    created_local: Option<Instant>,
    created_at: Option<SystemTime>,
    /// Last poll that found the run unfinished (a lower bound of its duration).
    last_unfinished_poll: Option<Instant>,
    outcome: Option<TrialOutcome>,
}

impl Slot {
    fn new(job: &Job, now: Instant) -> Slot {
        Slot {
            phase: match &job.existing_run {
                Some(run_id) => Phase::Running {
                    run_id: run_id.clone(),
                    due: now,
                },
                None => Phase::ToCreate { not_before: now },
            },
            backoff: None,
            failures: 0,
            created_local: job.existing_run.as_ref().map(|_| now),
            created_at: job.existing_run.as_ref().map(|_| SystemTime::now()),
            last_unfinished_poll: None,
            outcome: None,
        }
    }
}

impl Slot {
    /// How long after its creation the run was last seen unfinished, while it is pending.
    fn seen_unfinished(&self) -> Option<Duration> {
        match self.phase {
            Phase::Running { .. } | Phase::Polling { .. } => {
                Some(self.last_unfinished_poll?.duration_since(self.created_local?))
            }
            _ => None,
        }
    }
}

enum TaskResult {
    Created(usize, Result<TestRun, RequestError>),
    Polled(usize, Result<TestRun, RequestError>),
}

/// Asked, when every trial of a case so far is decided, for the case's next trial: the case's
/// index and its decided outcomes in trial order; `None` ends the case. This is how trials
/// `MIN..MAX` grow one at a time while the verdict is uncertain.
pub type NextTrial<'n> = dyn FnMut(usize, &[&TrialOutcome]) -> Option<Wanted> + 'n;

/// Runs every job, and every job `next_trial` adds within the run cap, to an outcome.
pub async fn run(
    client: &KapsoClient,
    jobs: Vec<Job>,
    schedule: &Schedule,
    stop: watch::Receiver<Option<Interrupt>>,
    observer: &mut dyn FnMut(Event<'_>),
    next_trial: &mut NextTrial<'_>,
) -> Ran {
    Scheduler::new(client, jobs, schedule, observer, next_trial)
        .run(stop)
        .await
}

/// The scheduler's state while it runs.
struct Scheduler<'a, 'o> {
    client: &'a KapsoClient,
    jobs: Vec<Job>,
    schedule: &'a Schedule,
    observer: &'o mut dyn FnMut(Event<'_>),
    next_trial: &'o mut NextTrial<'a>,
    /// Set once every undecided job is being ended (deadline, signal, refused key): no case
    /// gets another trial then.
    stopping: bool,
    slots: Vec<Slot>,
    model: DurationModel,
    tasks: JoinSet<TaskResult>,
    pending: usize,
    /// Runs that exist or may exist, plus creations still to send: what the cap is charged.
    spent: usize,
    /// Next trials asked for and held until the cap's rationing can rank them.
    waiting: Vec<Wanted>,
    cap_reached: Vec<usize>,
    runs_created: usize,
}

impl<'a, 'o> Scheduler<'a, 'o> {
    fn new(
        client: &'a KapsoClient,
        jobs: Vec<Job>,
        schedule: &'a Schedule,
        observer: &'o mut dyn FnMut(Event<'_>),
        next_trial: &'o mut NextTrial<'a>,
    ) -> Self {
        let now = Instant::now();
        Scheduler {
            client,
            slots: jobs.iter().map(|job| Slot::new(job, now)).collect(),
            pending: jobs.len(),
            spent: jobs.iter().filter(|job| job.existing_run.is_none()).count(),
            waiting: Vec::new(),
            cap_reached: Vec::new(),
            runs_created: 0,
            jobs,
            schedule,
            observer,
            next_trial,
            stopping: false,
            model: DurationModel::default(),
            tasks: JoinSet::new(),
        }
    }

    async fn run(mut self, mut stop: watch::Receiver<Option<Interrupt>>) -> Ran {
        let started = Instant::now();
        let mut next_heartbeat = started + self.schedule.heartbeat;
        // A closed stop channel means nobody can interrupt any more; stop watching it.
        let mut stop_open = true;
        let deadline = self.schedule.deadline;

        while self.pending > 0 {
            let now = Instant::now();
            let has_capacity = self.tasks.len() < self.client.fan_out(self.schedule.concurrency);
            let next_work = if has_capacity { self.next_work_at() } else { None };
            let work_due = next_work.is_some_and(|t| t <= now);
            let wake_at = next_work.filter(|t| *t > now).unwrap_or(deadline);

            tokio::select! {
                biased;
                changed = stop.changed(), if stop_open => {
                    stop_open = changed.is_ok();
                    let interrupt = if stop_open { *stop.borrow() } else { None };
                    if let Some(interrupt) = interrupt {
                        self.finish_all(|phase| cancelled_reason(phase, interrupt));
                        break;
                    }
                }
                () = sleep_until(deadline) => {
                    self.finish_all(deadline_reason);
                    break;
                }
                Some(joined) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    let Ok(result) = joined else { continue };
                    if let Some(stop_reason) = self.handle(result) {
                        self.finish_all(|_| TrialResult::NoResult {
                            kind: FailureKind::KeyRefused,
                            reason: stop_reason.clone(),
                        });
                        break;
                    }
                }
                permit = self.client.budget().acquire(), if work_due => self.launch(permit),
                () = sleep_until(wake_at), if !work_due => {}
                () = sleep_until(next_heartbeat) => {
                    (self.observer)(Event::Heartbeat { pending: self.pending, elapsed: started.elapsed() });
                    next_heartbeat += self.schedule.heartbeat;
                }
            }
        }

        let outcomes = self
            .jobs
            .into_iter()
            .zip(self.slots)
            .map(|(job, slot)| {
                let outcome = slot.outcome.unwrap_or_else(|| {
                    TrialOutcome::no_result(None, FailureKind::Unavailable, "no outcome recorded".into())
                });
                (job, outcome)
            })
            .collect();
        let mut cap_reached = self.cap_reached;
        cap_reached.sort_unstable();
        Ran {
            outcomes,
            cap_reached,
            runs_created: self.runs_created,
        }
    }

    /// When the next request may go: creations and polls that are waiting.
    fn next_work_at(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|slot| match &slot.phase {
                Phase::ToCreate { not_before } => Some(*not_before),
                Phase::Running { due, .. } => Some(*due),
                _ => None,
            })
            .min()
    }

    /// Spends `permit` on the most useful request now: creations first (a run not yet created
    /// cannot finish), then the poll most likely to find its run finished.
    fn launch(&mut self, permit: Permit) {
        let now = Instant::now();
        let create = self
            .slots
            .iter()
            .position(|s| matches!(s.phase, Phase::ToCreate { not_before } if not_before <= now));
        let index = create.or_else(|| self.best_poll(now));
        let Some(index) = index else { return };
        let client = self.client.clone();
        let slot = &mut self.slots[index];
        match std::mem::replace(&mut slot.phase, Phase::Done) {
            Phase::ToCreate { .. } => {
                slot.phase = Phase::Creating;
                let case_id = self.jobs[index].test_case_id.clone();
                self.tasks
                    .spawn(async move { TaskResult::Created(index, client.create_run(permit, &case_id).await) });
            }
            Phase::Running { run_id, .. } => {
                slot.phase = Phase::Polling { run_id: run_id.clone() };
                self.tasks
                    .spawn(async move { TaskResult::Polled(index, client.get_run(permit, &run_id).await) });
            }
            other => slot.phase = other,
        }
    }

    /// The due poll most likely to pay off: the run most likely to have finished since it was
    /// last seen unfinished, judged from the durations of finished runs. Until a run has
    /// finished, and between equals, the poll that has waited longest past its due time goes
    /// first, so that when the budget cannot poll every run at the interval, the intervals
    /// stretch evenly.
    fn best_poll(&self, now: Instant) -> Option<usize> {
        let due: Vec<usize> = (0..self.slots.len())
            .filter(|i| matches!(self.slots[*i].phase, Phase::Running { due, .. } if due <= now))
            .collect();
        let estimate = (due.len() > 1 && self.model.has_data()).then(|| {
            let going: Vec<Duration> = self.slots.iter().filter_map(Slot::seen_unfinished).collect();
            self.model.estimate(&going)
        });
        let mut best: Option<(f64, Instant, usize)> = None;
        for i in due {
            let slot = &self.slots[i];
            let Phase::Running { due, .. } = slot.phase else {
                continue;
            };
            let likely = match (&estimate, slot.created_local) {
                (Some(estimate), Some(created)) => {
                    estimate.finished_since(slot.seen_unfinished().unwrap_or_default(), now.duration_since(created))
                }
                _ => 0.0,
            };
            if best.is_none_or(|(p, d, _)| likely > p || (likely == p && due < d)) {
                best = Some((likely, due, i));
            }
        }
        best.map(|(_, _, i)| i)
    }

    /// Applies one finished request. Returns a reason when every job must stop (401/402).
    fn handle(&mut self, result: TaskResult) -> Option<String> {
        let (index, method, outcome) = match result {
            TaskResult::Created(i, r) => (i, Method::Post, r),
            TaskResult::Polled(i, r) => (i, Method::Get, r),
        };
        match outcome {
            Ok(run) => {
                self.on_answer(index, method, run);
                None
            }
            Err(error) => self.on_error(index, method, &error),
        }
    }

    /// A run came back: it is finished, or its next poll is scheduled.
    fn on_answer(&mut self, index: usize, method: Method, run: TestRun) {
        let now = Instant::now();
        let job = &self.jobs[index];
        let slot = &mut self.slots[index];
        let asked_for = slot.phase.run_id().map(str::to_owned);
        slot.backoff = None;
        slot.failures = 0;
        if method == Method::Post {
            self.runs_created += 1;
            slot.created_local = Some(now);
            slot.created_at = Some(SystemTime::now());
            (self.observer)(Event::RunCreated { job, run_id: &run.id });
        }
        if run.is_finished() {
            if let Some(created) = slot.created_local {
                let lower_bound = slot
                    .last_unfinished_poll
                    .map_or(Duration::ZERO, |t| t.duration_since(created));
                // How long the run took by Kapso's own clock, when it says.
                let server = Timestamp::between(run.started_at.as_ref(), run.ended_at.as_ref());
                self.model.record(server.unwrap_or(lower_bound));
            }
            let outcome = TrialOutcome {
                // The run asked for, even if Kapso's answer names another.
                run_id: Some(asked_for.unwrap_or_else(|| run.id.clone())),
                result: TrialResult::Finished(Box::new(run.into_finished())),
                created_at: slot.created_at,
                seen_finished_at: Some(SystemTime::now()),
            };
            self.decide(index, outcome);
            return;
        }
        let delay = if method == Method::Post && self.schedule.learn_durations {
            self.model.first_poll_delay(self.schedule.poll_interval)
        } else {
            self.schedule.poll_interval
        };
        if method == Method::Get {
            slot.last_unfinished_poll = Some(now);
        }
        slot.phase = Phase::Running {
            run_id: asked_for.unwrap_or(run.id),
            due: now + delay,
        };
    }

    /// A request failed: retry it, or decide the job. Returns a reason when every job must stop.
    fn on_error(&mut self, index: usize, method: Method, error: &RequestError) -> Option<String> {
        let disposition = retry::classify(method, error);
        // Every disposition but `GiveUp` means Kapso surely did not create the run; a retry
        // charges the cap again when it is scheduled.
        if method == Method::Post && disposition != Disposition::GiveUp {
            self.spent -= 1;
        }
        let (kind, reason) = match disposition {
            Disposition::StopAll => {
                let reason = format!("Kapso refused the API key or account ({error}); no further requests were sent");
                self.give_up(index, FailureKind::KeyRefused, reason.clone());
                return Some(reason);
            }
            Disposition::Reject => (retry::failure_kind(method, error), error.to_string()),
            Disposition::GiveUp if method == Method::Post => (
                FailureKind::Unavailable,
                format!(
                    "creating the run failed ({error}); not retried because Kapso may have created it anyway, and a second run would spend credits again"
                ),
            ),
            Disposition::GiveUp => (FailureKind::Unavailable, error.to_string()),
            Disposition::Retry { after } => match self.schedule_retry(index, error, after) {
                Ok(()) => return None,
                Err(reason) => (FailureKind::Unavailable, reason),
            },
        };
        self.give_up(index, kind, reason);
        None
    }

    /// Schedules the next attempt of a failed request, or says why there is none.
    fn schedule_retry(&mut self, index: usize, error: &RequestError, after: Option<Duration>) -> Result<(), String> {
        let now = Instant::now();
        let slot = &mut self.slots[index];
        slot.failures += 1;
        let backoff = slot.backoff.get_or_insert_with(|| retry::backoff().build());
        let Some(delay) = retry::next_delay(after, backoff.next()) else {
            return Err(format!("{error} (gave up after {} attempts)", slot.failures));
        };
        // The retry goes when both its own delay and the shared budget allow: say that time.
        let delay = delay.max(self.client.budget().ready_at(now).duration_since(now));
        if now + delay >= self.schedule.deadline {
            return Err(format!("{error}; the deadline passes before a retry could be sent"));
        }
        self.client.stats().record_retry();
        if slot.phase.run_id().is_none() {
            self.spent += 1;
        }
        slot.phase = match slot.phase.run_id() {
            Some(run_id) => Phase::Running {
                run_id: run_id.to_owned(),
                due: now + delay,
            },
            None => Phase::ToCreate {
                not_before: now + delay,
            },
        };
        (self.observer)(Event::Retrying {
            job: &self.jobs[index],
            error,
            after: delay,
        });
        Ok(())
    }

    fn give_up(&mut self, index: usize, kind: FailureKind, reason: String) {
        let slot = &self.slots[index];
        let outcome = TrialOutcome {
            created_at: slot.created_at,
            ..TrialOutcome::no_result(slot.phase.run_id().map(str::to_owned), kind, reason)
        };
        self.decide(index, outcome);
    }

    fn decide(&mut self, index: usize, outcome: TrialOutcome) {
        let slot = &mut self.slots[index];
        slot.phase = Phase::Done;
        (self.observer)(Event::Decided {
            job: &self.jobs[index],
            outcome: &outcome,
        });
        slot.outcome = Some(outcome);
        self.pending -= 1;
        if !self.stopping {
            self.extend(self.jobs[index].case);
            self.grant();
        }
    }

    /// Asks for the next trial of `case` once every trial it has is decided, and schedules it.
    fn extend(&mut self, case: usize) {
        let mut decided: Vec<(usize, &TrialOutcome)> = Vec::new();
        for (job, slot) in self.jobs.iter().zip(&self.slots).filter(|(job, _)| job.case == case) {
            match &slot.outcome {
                Some(outcome) => decided.push((job.trial, outcome)),
                None => return,
            }
        }
        decided.sort_by_key(|(trial, _)| *trial);
        let outcomes: Vec<&TrialOutcome> = decided.into_iter().map(|(_, outcome)| outcome).collect();
        if let Some(wanted) = (self.next_trial)(case, &outcomes) {
            self.waiting.push(wanted);
        }
    }

    /// Schedules the next trials asked for, within the run cap. While the cap can pay for
    /// every waiting trial and one more for each case still busy, they all go at once;
    /// otherwise they wait until no trial is in flight, and then the cases nearest a decision
    /// get one trial each while the cap lasts; the rest have reached the cap.
    fn grant(&mut self) {
        if self.waiting.is_empty() {
            return;
        }
        let Some(cap) = self.schedule.run_cap else {
            for wanted in std::mem::take(&mut self.waiting) {
                self.add(wanted.job);
            }
            return;
        };
        let remaining = cap.saturating_sub(self.spent);
        let busy = self.busy_cases();
        if remaining < self.waiting.len() + busy && busy > 0 {
            return;
        }
        let mut waiting = std::mem::take(&mut self.waiting);
        waiting.sort_by(|a, b| crate::run::spend::nearest_first((a.distance, a.job.case), (b.distance, b.job.case)));
        let refused = waiting.split_off(remaining.min(waiting.len()));
        self.cap_reached.extend(refused.iter().map(|wanted| wanted.job.case));
        for wanted in waiting {
            self.add(wanted.job);
        }
    }

    /// Cases with a trial not yet decided (each may ask for one more).
    fn busy_cases(&self) -> usize {
        let mut cases: Vec<usize> = self
            .jobs
            .iter()
            .zip(&self.slots)
            .filter(|(_, slot)| slot.outcome.is_none())
            .map(|(job, _)| job.case)
            .collect();
        cases.sort_unstable();
        cases.dedup();
        cases.len()
    }

    fn add(&mut self, job: Job) {
        if job.existing_run.is_none() {
            self.spent += 1;
        }
        self.slots.push(Slot::new(&job, Instant::now()));
        self.jobs.push(job);
        self.pending += 1;
    }

    /// Aborts every request in flight and decides every undecided job with `reason(phase)`.
    fn finish_all(&mut self, reason: impl Fn(&Phase) -> TrialResult) {
        self.stopping = true;
        self.tasks.abort_all();
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            if slot.outcome.is_some() {
                continue;
            }
            let outcome = TrialOutcome {
                run_id: slot.phase.run_id().map(str::to_owned),
                result: reason(&slot.phase),
                created_at: slot.created_at,
                seen_finished_at: None,
            };
            self.decide(index, outcome);
        }
    }
}

fn deadline_reason(phase: &Phase) -> TrialResult {
    let reason = match phase {
        Phase::Running { run_id, .. } | Phase::Polling { run_id } => {
            format!("deadline passed; run {run_id} is still executing on Kapso")
        }
        Phase::Creating => "deadline passed while the run was being created".to_owned(),
        _ => "deadline passed before the run could be created".to_owned(),
    };
    TrialResult::NoResult {
        kind: FailureKind::Unavailable,
        reason,
    }
}

fn cancelled_reason(phase: &Phase, interrupt: Interrupt) -> TrialResult {
    let signal = interrupt.name();
    let reason = match phase {
        Phase::Running { run_id, .. } | Phase::Polling { run_id } => {
            format!("cancelled by {signal}; run {run_id} is still executing on Kapso")
        }
        Phase::Creating => format!("cancelled by {signal} while the run was being created; Kapso may have created it"),
        _ => format!("cancelled by {signal} before the run was created"),
    };
    TrialResult::NoResult {
        kind: FailureKind::Cancelled,
        reason,
    }
}
