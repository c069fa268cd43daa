//! The rate budget at its edges, end to end against kapso-sim: Retry-After is authoritative
//! (issue 11, point 2), a refused key costs exactly one request (issue 11, point 4), and paced
//! spending under every server window, polls at or after their interval, and `--rate-limit auto`
//! (issue 13). Every check reads the simulator's request log; the only timing checks are gaps
//! between logged arrivals, never the gate's own speed.

mod support;

use kapso_sim::{CaseSpec, Endpoint, Fault, FaultAction, LoggedRequest, Scenario, Sim};
use std::time::Duration;

/// A scenario with `n` passing cases `{prefix}-{i}` whose runs take `duration_ms(i)`.
fn cases(
    mut scenario: Scenario,
    prefix: &str,
    n: usize,
    duration_ms: impl Fn(usize) -> u64,
) -> (Scenario, Vec<String>) {
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        scenario = scenario.case(CaseSpec::passing(id.clone(), 0.9).duration_ms(duration_ms(i)));
    }
    (scenario, ids)
}

/// Requests sorted by arrival.
fn log(sim: &Sim) -> Vec<LoggedRequest> {
    let mut requests = sim.requests();
    requests.sort_by_key(|r| r.at);
    requests
}

fn summary(requests: &[LoggedRequest]) -> String {
    requests
        .iter()
        .map(|r| format!("{:>6} ms {:>3} {:?} {}", r.at.as_millis(), r.status, r.endpoint, r.path))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// Issue 11, point 2: Retry-After is authoritative

/// The pair Kapso sends with a 429: wait 2 s, nothing remains in the window.
fn too_many_requests() -> FaultAction {
    FaultAction::status_with(
        429,
        r#"{"error":"Too Many Requests","message":"Simulated"}"#,
        &[
            ("Retry-After", "2"),
            ("X-RateLimit-Limit", "100"),
            ("X-RateLimit-Remaining", "0"),
        ],
    )
}

/// The wait a `-v` retry line announces ("... in 2.0s: ..."), in seconds.
fn announced_wait(stderr: &str) -> f64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("retrying"))
        .unwrap_or_else(|| panic!("no retry line on stderr:\n{stderr}"));
    let after_in = line
        .split(" in ")
        .nth(1)
        .unwrap_or_else(|| panic!("no wait in {line:?}"));
    let wait = after_in.split(':').next().unwrap_or_default().trim();
    let seconds = wait
        .strip_suffix("ms")
        .and_then(|ms| ms.parse::<f64>().ok().map(|ms| ms / 1000.0))
        .or_else(|| wait.strip_suffix('s').and_then(|s| s.parse::<f64>().ok()));
    seconds.unwrap_or_else(|| panic!("cannot read the wait {wait:?} in {line:?}"))
}

#[test]
fn retry_after_with_nothing_remaining_waits_the_announced_time_not_a_window() {
    // A minute's window and a 10 s deadline: a gate that takes Remaining: 0 as "the window is
    // full from now" waits about 61 s and misses the deadline.
    let (scenario, ids) = cases(Scenario::new(support::KEY), "ra", 3, |_| 300);
    let sim = Sim::start(scenario.fault(Fault::on(Endpoint::GetRun).then(too_many_requests())));
    let mut cmd = support::gate(&sim.base_url());
    cmd.env("KAPSO_TIMEOUT", "10s").env("KAPSO_CONCURRENCY", "1").arg("-v");
    let out = support::run_within(cmd.args(&ids), Duration::from_secs(60));
    support::assert_code(&out, 0);
    let requests = log(&sim);
    let refused = requests.iter().find(|r| r.status == 429).expect("the simulated 429").at;
    let next = requests
        .iter()
        .find(|r| r.at > refused)
        .unwrap_or_else(|| panic!("nothing after the 429:\n{}", summary(&requests)))
        .at;
    let gap = next - refused;
    assert!(
        gap >= Duration::from_secs(2),
        "a request came {gap:?} after a 429 with Retry-After: 2:\n{}",
        summary(&requests)
    );
    assert!(
        gap < Duration::from_secs(30),
        "the next request waited {gap:?}, about a window, not the 2 s the server announced:\n{}",
        summary(&requests)
    );
    let wait = announced_wait(&out.stderr);
    assert!(
        (1.9..=3.0).contains(&wait),
        "the retry line announces {wait} s, but the server asked for 2 s:\n{}",
        out.stderr
    );
}
