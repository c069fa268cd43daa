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

// ---------------------------------------------------------------------------------------------
// Issue 11, point 4: a refused key costs one request

/// Runs the gate over 50 cases with `key` and extra arguments; returns the exit code and the
/// simulator's log.
fn refused_gate(scenario: Scenario, key: &str, extra: &[&str]) -> (support::Finished, Vec<LoggedRequest>) {
    let (scenario, ids) = cases(scenario, "k", 50, |_| 200);
    let sim = Sim::start(scenario);
    let mut cmd = support::gate(&sim.base_url());
    cmd.env("KAPSO_API_KEY", key).env("KAPSO_CONCURRENCY", "16");
    let out = support::run_within(cmd.args(extra).args(&ids), Duration::from_secs(60));
    (out, log(&sim))
}

#[test]
fn a_wrong_key_costs_exactly_one_request() {
    let (out, requests) = refused_gate(Scenario::new(support::KEY), "kg-wrong-key", &[]);
    support::assert_code(&out, 3);
    assert_eq!(requests.len(), 1, "{}", summary(&requests));
    assert_eq!(requests[0].status, 401);
}

#[test]
fn an_account_without_credits_costs_exactly_one_request() {
    let no_credits = Fault::on(Endpoint::CreateRun).times(50, FaultAction::status(402));
    let (out, requests) = refused_gate(Scenario::new(support::KEY).fault(no_credits), support::KEY, &[]);
    support::assert_code(&out, 3);
    assert_eq!(requests.len(), 1, "{}", summary(&requests));
    assert_eq!(requests[0].status, 402);
}

#[test]
fn a_dry_run_with_a_wrong_key_costs_exactly_one_request() {
    let (out, requests) = refused_gate(Scenario::new(support::KEY), "kg-wrong-key", &["--dry-run"]);
    support::assert_code(&out, 3);
    assert_eq!(requests.len(), 1, "{}", summary(&requests));
    assert_eq!(requests[0].endpoint, Endpoint::GetCase);
}

#[test]
fn a_dry_run_refused_for_credits_costs_exactly_one_request() {
    let no_credits = Fault::on(Endpoint::GetCase).times(50, FaultAction::status(402));
    let scenario = Scenario::new(support::KEY).fault(no_credits);
    let (out, requests) = refused_gate(scenario, support::KEY, &["--dry-run"]);
    support::assert_code(&out, 3);
    assert_eq!(requests.len(), 1, "{}", summary(&requests));
}

#[test]
fn once_the_key_works_requests_fan_out_again() {
    // The counterpart: after the first success, creations do not wait for one another. Each
    // creation takes 300 ms, so 8 creations one at a time would span 2.1 s of arrivals.
    let slow = Fault::on(Endpoint::CreateRun).times(8, FaultAction::delay(300));
    let (scenario, ids) = cases(Scenario::new(support::KEY).fault(slow), "fan", 8, |_| 100);
    let sim = Sim::start(scenario);
    let mut cmd = support::gate(&sim.base_url());
    cmd.env("KAPSO_CONCURRENCY", "8").env("KAPSO_RATE_LIMIT", "0");
    support::assert_code(&support::run_within(cmd.args(&ids), Duration::from_secs(60)), 0);
    let posts: Vec<Duration> = log(&sim)
        .iter()
        .filter(|r| r.endpoint == Endpoint::CreateRun)
        .map(|r| r.at)
        .collect();
    assert_eq!(posts.len(), 8);
    // The second creation waits for the first answer; the third does not wait for the second
    // (one at a time, it would arrive at least 300 ms later).
    let gap = posts[2] - posts[1];
    assert!(
        gap < Duration::from_millis(300),
        "creation 3 arrived {gap:?} after creation 2: they went one at a time"
    );
    assert!(
        posts[1] - posts[0] >= Duration::from_millis(300),
        "the first creation did not go alone"
    );
}
