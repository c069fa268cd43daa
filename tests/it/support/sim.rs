//! The simulated side of a test: the usual passing case and what kapso-sim recorded.

use kapso_sim::{CaseSpec, LoggedRequest, Sim};
use std::time::Duration;

/// Short enough to keep the tests fast, long enough for at least one unfinished poll.
pub const RUN_MS: u64 = 30;

/// A case whose every run scores `score` after [`RUN_MS`].
pub fn case(id: &str, score: f64) -> CaseSpec {
    CaseSpec::passing(id, score).duration_ms(RUN_MS)
}

/// The run creations the simulator received.
pub fn posts(sim: &Sim) -> Vec<LoggedRequest> {
    sim.requests().into_iter().filter(|r| r.method == "POST").collect()
}

/// How many runs the simulator created for `case_id`.
pub fn runs_of(sim: &Sim, case_id: &str) -> usize {
    sim.runs().iter().filter(|r| r.case_id == case_id).count()
}

/// The most requests that arrived within any sliding window of `window` (a request at `t`
/// counts in every window `(t' - window, t']` with `t <= t'`, as the simulator counts).
pub fn max_in_any_window(requests: &[LoggedRequest], window: Duration) -> usize {
    let times: Vec<Duration> = requests.iter().map(|r| r.at).collect();
    let mut start = 0;
    let mut most = 0;
    for (end, &t) in times.iter().enumerate() {
        while times[start] + window <= t {
            start += 1;
        }
        most = most.max(end + 1 - start);
    }
    most
}

/// The 429 answers among `requests`.
pub fn count_429(requests: &[LoggedRequest]) -> usize {
    requests.iter().filter(|r| r.status == 429).count()
}
