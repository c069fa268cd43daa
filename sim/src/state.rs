//! The simulator's mutable record of what happened: the request log, the runs created so far
//! and how far each fault's action list has been consumed. Also the public snapshot types
//! ([`LoggedRequest`], [`RunRecord`]) that tests read back.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::rate_limit::Limiter;
use crate::scenario::{Endpoint, Scenario, TrialSpec};

/// One request as the simulator received it.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    /// Raw path as received, including the query, without scheme and host even when the
    /// request target was absolute-form.
    pub path: String,
    /// Lowercased names, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Arrival time since the simulator started.
    pub at: Duration,
    /// Status sent (also when only the head and part of the body were sent); 0 when the
    /// connection was closed without a response.
    pub status: u16,
    pub endpoint: Endpoint,
}

impl LoggedRequest {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One run created through the API.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub id: String,
    pub case_id: String,
    /// 0-based index among the runs of this case.
    pub trial: usize,
    pub run_now: bool,
    /// Since the simulator started.
    pub created_at: Duration,
    /// `None` when `run_now` was false or the trial never finishes.
    pub finishes_at: Option<Duration>,
    /// GET requests addressed to this run (all of them, whatever their outcome).
    pub polls: usize,
    /// GET requests received after a GET already returned the finished state.
    pub polls_after_finished_seen: usize,
}

/// A run plus what the simulator needs to compute its state.
#[derive(Debug)]
pub(crate) struct Run {
    pub record: RunRecord,
    pub trial: TrialSpec,
    pub thread_id: String,
    /// A complete, well-formed response has shown this run finished.
    pub finished_seen: bool,
}

/// Shared by all connections; the mutex is never held across an await.
#[derive(Debug)]
pub(crate) struct Shared {
    pub scenario: Scenario,
    pub started: Instant,
    pub started_wall: SystemTime,
    /// Mixed into generated ids so that two simulators do not hand out the same ids.
    pub id_seed: u64,
    state: Mutex<State>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub log: Vec<LoggedRequest>,
    pub runs: Vec<Run>,
    pub run_by_id: HashMap<String, usize>,
    pub runs_per_case: HashMap<String, usize>,
    /// Index of the next action of each scenario fault.
    pub fault_cursors: Vec<usize>,
    pub limiter: Option<Limiter>,
}

impl Shared {
    pub fn new(scenario: Scenario) -> Self {
        let started_wall = SystemTime::now();
        let id_seed = started_wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32);
        let state = State {
            log: Vec::new(),
            runs: Vec::new(),
            run_by_id: HashMap::new(),
            runs_per_case: HashMap::new(),
            fault_cursors: vec![0; scenario.faults.len()],
            limiter: scenario.rate_limit.clone().map(Limiter::new),
        };
        Self {
            scenario,
            started: Instant::now(),
            started_wall,
            id_seed,
            state: Mutex::new(state),
        }
    }

    /// Time since start.
    pub fn now(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking handler must not take the whole simulator down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.lock().log.clone()
    }

    pub fn runs(&self) -> Vec<RunRecord> {
        self.lock().runs.iter().map(|r| r.record.clone()).collect()
    }
}

impl State {
    pub fn run_mut(&mut self, id: &str) -> Option<&mut Run> {
        self.run_by_id.get(id).map(|&i| &mut self.runs[i])
    }
}
