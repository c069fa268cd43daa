//! The run lifecycle: creates one Kapso run per trial, polls every unfinished run, and stops at
//! the deadline, on a stop signal, or when the key is refused. It owns time, the rate budget
//! and concurrency, and knows nothing about thresholds or report formats: it returns one raw
//! [`TrialOutcome`] per job and tells an observer what happens as it happens.

use crate::budget::Permit;
use crate::client::error::RequestError;
use crate::client::retry::{self, Disposition, Method};
use crate::client::wire::TestRun;
use crate::client::KapsoClient;
use backon::BackoffBuilder;
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

/// Why the gate was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    Sigint,
    Sigterm,
}

impl Interrupt {
    pub const fn name(self) -> &'static str {
        match self {
            Interrupt::Sigint => "SIGINT",
            Interrupt::Sigterm => "SIGTERM",
        }
    }
}

/// How a job ended, before any threshold is applied.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialResult {
    /// The run finished (completed or crashed): the verdict module judges it.
    Finished(Box<TestRun>),
    /// Kapso refused a request for it for good.
    Rejected(String),
    /// No verdict for a transient reason.
    Incomplete(String),
    /// Stopped by a signal before it was decided.
    Cancelled(String),
}

/// One job's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialOutcome {
    pub run_id: Option<String>,
    pub result: TrialResult,
    /// When the gate got the run ID (or re-attached).
    pub created_at: Option<SystemTime>,
    /// When the gate saw the run finished.
    pub seen_finished_at: Option<SystemTime>,
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

enum TaskResult {
    Created(usize, Result<TestRun, RequestError>),
    Polled(usize, Result<TestRun, RequestError>),
}

/// Learns how long runs take, so the first poll of a new run is not wasted when the budget is
/// scarce. Runs of one batch take similar times; the estimate is the smallest lower bound seen,
/// so a new run is first polled no later than the shortest run seen so far could have finished.
#[derive(Debug, Default)]
struct DurationModel {
    lower_bounds: Vec<Duration>,
}

impl DurationModel {
    const MIN_SAMPLES: usize = 3;

    fn record(&mut self, lower_bound: Duration) {
        self.lower_bounds.push(lower_bound);
    }

    fn first_poll_delay(&self, interval: Duration) -> Duration {
        if self.lower_bounds.len() < Self::MIN_SAMPLES {
            return interval;
        }
        let shortest = self.lower_bounds.iter().min().copied().unwrap_or_default();
        interval.max(shortest)
    }
}

/// Runs every job to an outcome. Returns outcomes in job order.
pub async fn run(
    client: &KapsoClient,
    jobs: &[Job],
    schedule: &Schedule,
    mut stop: watch::Receiver<Option<Interrupt>>,
    observer: &mut dyn FnMut(Event<'_>),
) -> Vec<TrialOutcome> {
    let started = Instant::now();
    let now = started;
    let mut slots: Vec<Slot> = jobs
        .iter()
        .map(|job| Slot {
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
        })
        .collect();
    let mut model = DurationModel::default();
    let mut tasks: JoinSet<TaskResult> = JoinSet::new();
    let mut pending = jobs.len();
    let mut next_heartbeat = started + schedule.heartbeat;
    // A closed stop channel means nobody can interrupt any more; stop watching it.
    let mut stop_open = true;

    while pending > 0 {
        let now = Instant::now();
        let has_capacity = tasks.len() < schedule.concurrency;
        let next_work = if has_capacity { next_work_at(&slots) } else { None };
        let work_due = next_work.is_some_and(|t| t <= now);
        let wake_at = next_work.filter(|t| *t > now).unwrap_or(schedule.deadline);

        tokio::select! {
            biased;
            changed = stop.changed(), if stop_open => {
                stop_open = changed.is_ok();
                let interrupt = if stop_open { *stop.borrow() } else { None };
                if let Some(interrupt) = interrupt {
                    tasks.abort_all();
                    finish_all(&mut slots, jobs, observer, &mut pending, |phase| cancelled_reason(phase, interrupt));
                    break;
                }
            }
            () = sleep_until(schedule.deadline) => {
                tasks.abort_all();
                finish_all(&mut slots, jobs, observer, &mut pending, deadline_reason);
                break;
            }
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                let Ok(result) = joined else { continue };
                if let Some(stop_reason) = handle(result, &mut slots, jobs, schedule, &mut model, client, observer, &mut pending) {
                    tasks.abort_all();
                    finish_all(&mut slots, jobs, observer, &mut pending, |_| TrialResult::Rejected(stop_reason.clone()));
                    break;
                }
            }
            permit = client.budget().acquire(), if work_due => {
                launch(permit, &mut slots, jobs, client, &mut tasks);
            }
            () = sleep_until(wake_at), if !work_due => {}
            () = sleep_until(next_heartbeat) => {
                observer(Event::Heartbeat { pending, elapsed: started.elapsed() });
                next_heartbeat += schedule.heartbeat;
            }
        }
    }

    slots
        .into_iter()
        .map(|slot| {
            slot.outcome.unwrap_or(TrialOutcome {
                run_id: None,
                result: TrialResult::Incomplete("no outcome recorded".into()),
                created_at: None,
                seen_finished_at: None,
            })
        })
        .collect()
}

/// When the next request may go: creations and polls that are waiting.
fn next_work_at(slots: &[Slot]) -> Option<Instant> {
    slots
        .iter()
        .filter_map(|slot| match &slot.phase {
            Phase::ToCreate { not_before } => Some(*not_before),
            Phase::Running { due, .. } => Some(*due),
            _ => None,
        })
        .min()
}

/// Spends `permit` on the most useful request now: creations first (a run not yet created
/// cannot finish), then the poll that has waited longest past its due time, so that a scarce
/// budget is shared fairly and no run starves.
fn launch(permit: Permit, slots: &mut [Slot], jobs: &[Job], client: &KapsoClient, tasks: &mut JoinSet<TaskResult>) {
    let now = Instant::now();
    let create = slots
        .iter()
        .position(|s| matches!(s.phase, Phase::ToCreate { not_before } if not_before <= now));
    let index = create.or_else(|| {
        slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s.phase {
                Phase::Running { due, .. } if due <= now => Some((due, i)),
                _ => None,
            })
            .min()
            .map(|(_, i)| i)
    });
    let Some(index) = index else { return };
    let client = client.clone();
    match std::mem::replace(&mut slots[index].phase, Phase::Done) {
        Phase::ToCreate { .. } => {
            slots[index].phase = Phase::Creating;
            let case_id = jobs[index].test_case_id.clone();
            tasks.spawn(async move { TaskResult::Created(index, client.create_run(permit, &case_id).await) });
        }
        Phase::Running { run_id, .. } => {
            slots[index].phase = Phase::Polling { run_id: run_id.clone() };
            tasks.spawn(async move { TaskResult::Polled(index, client.get_run(permit, &run_id).await) });
        }
        other => slots[index].phase = other,
    }
}

/// Applies one finished request. Returns a reason when every job must stop (401/402).
#[expect(
    clippy::too_many_arguments,
    reason = "the scheduler's state, passed explicitly rather than hidden in a struct"
)]
fn handle(
    result: TaskResult,
    slots: &mut [Slot],
    jobs: &[Job],
    schedule: &Schedule,
    model: &mut DurationModel,
    client: &KapsoClient,
    observer: &mut dyn FnMut(Event<'_>),
    pending: &mut usize,
) -> Option<String> {
    let now = Instant::now();
    let (index, method, outcome) = match result {
        TaskResult::Created(i, r) => (i, Method::Post, r),
        TaskResult::Polled(i, r) => (i, Method::Get, r),
    };
    let job = &jobs[index];
    let slot = &mut slots[index];
    let run_id = match &slot.phase {
        Phase::Polling { run_id } => Some(run_id.clone()),
        _ => None,
    };
    match outcome {
        Ok(run) => {
            slot.backoff = None;
            slot.failures = 0;
            if method == Method::Post {
                slot.created_local = Some(now);
                slot.created_at = Some(SystemTime::now());
                observer(Event::RunCreated { job, run_id: &run.id });
            }
            if run.is_finished() {
                if let Some(created) = slot.created_local {
                    model.record(
                        slot.last_unfinished_poll
                            .map_or(Duration::ZERO, |t| t.duration_since(created)),
                    );
                }
                let outcome = TrialOutcome {
                    // The run asked for, even if Kapso's answer names another.
                    run_id: Some(run_id.clone().unwrap_or_else(|| run.id.clone())),
                    result: TrialResult::Finished(Box::new(run)),
                    created_at: slot.created_at,
                    seen_finished_at: Some(SystemTime::now()),
                };
                decide(slot, job, outcome, observer, pending);
            } else {
                let delay = if method == Method::Post && schedule.learn_durations {
                    model.first_poll_delay(schedule.poll_interval)
                } else {
                    schedule.poll_interval
                };
                if method == Method::Get {
                    slot.last_unfinished_poll = Some(now);
                }
                slot.phase = Phase::Running {
                    run_id: run_id.clone().unwrap_or(run.id),
                    due: now + delay,
                };
            }
            None
        }
        Err(error) => {
            let disposition = retry::classify(method, &error);
            let mut give_up = |slot: &mut Slot, result: TrialResult| {
                let outcome = TrialOutcome {
                    run_id: run_id.clone(),
                    result,
                    created_at: slot.created_at,
                    seen_finished_at: None,
                };
                decide(slot, job, outcome, observer, pending);
            };
            match disposition {
                Disposition::StopAll => {
                    let reason = format!("Kapso refused the API key or account ({error}); no further requests were sent");
                    give_up(slot, TrialResult::Rejected(reason.clone()));
                    return Some(reason);
                }
                Disposition::Reject => give_up(slot, TrialResult::Rejected(error.to_string())),
                Disposition::GiveUp if method == Method::Post => give_up(
                    slot,
                    TrialResult::Incomplete(format!(
                        "creating the run failed ({error}); not retried because Kapso may have created it anyway, and a second run would spend credits again"
                    )),
                ),
                Disposition::GiveUp => give_up(slot, TrialResult::Incomplete(error.to_string())),
                Disposition::Retry { after } => {
                    slot.failures += 1;
                    let backoff = slot.backoff.get_or_insert_with(|| retry::backoff().build());
                    let delay = retry::next_delay(after, backoff.next());
                    let attempts = slot.failures;
                    match delay {
                        Some(delay) if now + delay < schedule.deadline => {
                            client.stats().record_retry();
                            observer(Event::Retrying { job, error: &error, after: delay });
                            slot.phase = match run_id.clone() {
                                Some(run_id) => Phase::Running { run_id, due: now + delay },
                                None => Phase::ToCreate { not_before: now + delay },
                            };
                        }
                        Some(_) => give_up(slot, TrialResult::Incomplete(format!("{error}; the deadline passes before a retry could be sent"))),
                        None => give_up(slot, TrialResult::Incomplete(format!("{error} (gave up after {attempts} attempts)"))),
                    }
                }
            }
            None
        }
    }
}

fn decide(slot: &mut Slot, job: &Job, outcome: TrialOutcome, observer: &mut dyn FnMut(Event<'_>), pending: &mut usize) {
    slot.phase = Phase::Done;
    observer(Event::Decided { job, outcome: &outcome });
    slot.outcome = Some(outcome);
    *pending -= 1;
}

/// Decides every undecided job with `reason(phase)`.
fn finish_all(
    slots: &mut [Slot],
    jobs: &[Job],
    observer: &mut dyn FnMut(Event<'_>),
    pending: &mut usize,
    reason: impl Fn(&Phase) -> TrialResult,
) {
    for (slot, job) in slots.iter_mut().zip(jobs) {
        if slot.outcome.is_some() {
            continue;
        }
        let run_id = match &slot.phase {
            Phase::Running { run_id, .. } | Phase::Polling { run_id } => Some(run_id.clone()),
            _ => None,
        };
        let outcome = TrialOutcome {
            run_id,
            result: reason(&slot.phase),
            created_at: slot.created_at,
            seen_finished_at: None,
        };
        decide(slot, job, outcome, observer, pending);
    }
}

fn deadline_reason(phase: &Phase) -> TrialResult {
    TrialResult::Incomplete(match phase {
        Phase::Running { run_id, .. } | Phase::Polling { run_id } => {
            format!("deadline passed; run {run_id} is still executing on Kapso")
        }
        Phase::Creating => "deadline passed while the run was being created".to_owned(),
        _ => "deadline passed before the run could be created".to_owned(),
    })
}

fn cancelled_reason(phase: &Phase, interrupt: Interrupt) -> TrialResult {
    let signal = interrupt.name();
    TrialResult::Cancelled(match phase {
        Phase::Running { run_id, .. } | Phase::Polling { run_id } => {
            format!("cancelled by {signal}; run {run_id} is still executing on Kapso")
        }
        Phase::Creating => format!("cancelled by {signal} while the run was being created; Kapso may have created it"),
        _ => format!("cancelled by {signal} before the run was created"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_poll_waits_for_the_shortest_run_seen() {
        let mut model = DurationModel::default();
        let interval = Duration::from_secs(2);
        assert_eq!(model.first_poll_delay(interval), interval);
        for secs in [9, 8, 10] {
            model.record(Duration::from_secs(secs));
        }
        assert_eq!(model.first_poll_delay(interval), Duration::from_secs(8));
        model.record(Duration::ZERO);
        assert_eq!(
            model.first_poll_delay(interval),
            interval,
            "never earlier than the interval"
        );
    }
}
