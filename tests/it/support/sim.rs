//! The simulated side of a test: the usual passing case and what kapso-sim recorded.

use kapso_sim::{CaseSpec, LoggedRequest, Sim};

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
