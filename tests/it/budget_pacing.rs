//! The rate budget at its edges, end to end against kapso-sim: Retry-After is authoritative, a
//! refused key costs exactly one request, paced spending fits every server window, polls come at
//! or after their interval, and `--rate-limit auto` follows the server. Every check reads the simulator's request log; the only timing checks are gaps
//! between logged arrivals, never the gate's own speed.

use crate::support::{self, count_429, max_in_any_window};

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
// Retry-After is authoritative

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
    // A minute's window and a 40 s deadline: a gate that takes Remaining: 0 as "the window is
    // full from now" waits about 61 s and misses the deadline, while the gate that waits the
    // 2 s it was told needs about 3 s, so even a starved machine meets it.
    let (scenario, ids) = cases(Scenario::new(support::KEY), "ra", 3, |_| 300);
    let sim = Sim::start(scenario.fault(Fault::on(Endpoint::GetRun).then(too_many_requests())));
    let mut cmd = support::gate(&sim.base_url());
    cmd.env("KAPSO_TIMEOUT", "40s").env("KAPSO_CONCURRENCY", "1").arg("-v");
    let out = support::run_within(cmd.args(&ids), Duration::from_secs(120));
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
    // The alternative is a window (61 s); a stall cannot stretch 2 s to 30 s.
    assert!(
        gap < Duration::from_secs(30),
        "the next request waited {gap:?}, about a window, not the 2 s the server announced:\n{}",
        summary(&requests)
    );
    // The announced wait is computed from the Retry-After and the budget, not measured: no
    // load can move it.
    let wait = announced_wait(&out.stderr);
    assert!(
        (1.9..=3.0).contains(&wait),
        "the retry line announces {wait} s, but the server asked for 2 s:\n{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// A refused key costs one request

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
    // The counterpart: after the first success, creations do not wait for one another. The
    // first creation takes 300 ms, the others 3 s each, so one at a time each would arrive at
    // least 3 s after the one before: a bound no stall of a busy machine comes near, where
    // fanned-out creations arrive milliseconds apart.
    let slow = Fault::on(Endpoint::CreateRun)
        .then(FaultAction::delay(300))
        .times(7, FaultAction::delay(3_000));
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
    // (one at a time, it would arrive at least 3 s later).
    let gap = posts[2] - posts[1];
    assert!(
        gap < Duration::from_secs(3),
        "creation 3 arrived {gap:?} after creation 2: they went one at a time"
    );
    assert!(
        posts[1] - posts[0] >= Duration::from_millis(300),
        "the first creation did not go alone"
    );
}

// ---------------------------------------------------------------------------------------------
// Paced spending, polls at or after their interval, the server's own limit

/// A 6 s window standing for Kapso's minute, with 60 requests in it: one every 100 ms.
const WINDOW_MS: u64 = 6_000;
const LIMIT: u32 = 60;
const POLL_MS: u64 = 300;

/// Runs 16 cases of 2 s (they want far more polls than the budget allows) against `rate`, with
/// the gate capped at [`LIMIT`] per [`WINDOW_MS`]; asserts the pass and returns the log.
fn paced_run(rate: kapso_sim::RateLimit) -> Vec<LoggedRequest> {
    let (scenario, ids) = cases(Scenario::new(support::KEY), "pace", 16, |i| 2_000 + 50 * i as u64);
    let sim = Sim::start(scenario.rate_limit_with(rate));
    let mut cmd = support::gate(&sim.base_url());
    cmd.env("KAPSO_RATE_LIMIT", LIMIT.to_string())
        .env("KAPSO_RATE_WINDOW", format!("{WINDOW_MS}ms"))
        .env("KAPSO_POLL_INTERVAL", format!("{POLL_MS}ms"));
    support::assert_code(&support::run_within(cmd.args(&ids), Duration::from_secs(60)), 0);
    let requests = log(&sim);
    assert_no_early_poll(&requests, &sim.runs(), Duration::from_millis(POLL_MS));
    requests
}

/// No run is polled sooner than the interval after its creation or its previous poll.
fn assert_no_early_poll(requests: &[LoggedRequest], runs: &[kapso_sim::RunRecord], interval: Duration) {
    let mut last_seen: std::collections::HashMap<&str, Duration> =
        runs.iter().map(|run| (run.id.as_str(), run.created_at)).collect();
    for r in requests
        .iter()
        .filter(|r| r.endpoint == Endpoint::GetRun && r.status != 429)
    {
        let run = r.path.rsplit('/').next().unwrap_or_default();
        let previous = last_seen
            .get_mut(run)
            .unwrap_or_else(|| panic!("a poll of unknown run {run}"));
        let gap = r.at - *previous;
        assert!(
            gap >= interval,
            "run {run} polled {gap:?} after its creation or previous poll:\n{}",
            summary(requests)
        );
        *previous = r.at;
    }
}

/// The budget's share of `window`, as a server counting in that window allows it.
fn share(window: Duration) -> usize {
    (u128::from(LIMIT) * window.as_millis() / u128::from(WINDOW_MS)) as usize
}

#[test]
fn paced_spending_fits_a_sliding_minute_and_ten_second_windows() {
    // The server announces the budget per minute but counts in windows a sixth as long (ten
    // seconds of a minute): a gate that spends its minute's budget in bursts is refused.
    let short = Duration::from_millis(WINDOW_MS / 6);
    let rate = kapso_sim::RateLimit {
        limit: LIMIT / 6,
        window_ms: WINDOW_MS / 6,
        announce: Some(kapso_sim::Announce {
            limit: LIMIT,
            window_ms: WINDOW_MS,
        }),
        ..kapso_sim::RateLimit::default()
    };
    let requests = paced_run(rate);
    assert_eq!(count_429(&requests), 0, "{}", summary(&requests));
    for window in [
        Duration::from_millis(WINDOW_MS),
        Duration::from_millis(WINDOW_MS / 2),
        short,
    ] {
        let most = max_in_any_window(&requests, window);
        assert!(
            most <= share(window),
            "{most} requests within {window:?}, more than {}:\n{}",
            share(window),
            summary(&requests)
        );
    }
}

#[test]
fn paced_spending_fits_a_fixed_window_and_a_token_bucket() {
    for mode in [kapso_sim::RateMode::Fixed, kapso_sim::RateMode::TokenBucket] {
        let rate = kapso_sim::RateLimit {
            limit: LIMIT,
            window_ms: WINDOW_MS,
            mode,
            // A bucket that holds ten seconds' worth (of a minute) of requests; its headers
            // announce the plan per minute, as the fixed window's do.
            bucket: Some(LIMIT / 6),
            announce: (mode == kapso_sim::RateMode::TokenBucket).then_some(kapso_sim::Announce {
                limit: LIMIT,
                window_ms: WINDOW_MS,
            }),
            ..kapso_sim::RateLimit::default()
        };
        let requests = paced_run(rate);
        assert_eq!(count_429(&requests), 0, "{mode:?}:\n{}", summary(&requests));
        let most = max_in_any_window(&requests, Duration::from_millis(WINDOW_MS));
        assert!(most <= LIMIT as usize, "{mode:?}: {most} within a window");
    }
}

#[test]
fn a_numeric_rate_limit_is_never_exceeded_even_when_the_server_announces_more() {
    let (scenario, ids) = cases(Scenario::new(support::KEY), "cap", 12, |_| 1_500);
    let sim = Sim::start(scenario.rate_limit(1_000, 2_000));
    let mut cmd = support::gate(&sim.base_url());
    cmd.env("KAPSO_RATE_LIMIT", "20").env("KAPSO_RATE_WINDOW", "2s");
    support::assert_code(&support::run_within(cmd.args(&ids), Duration::from_secs(60)), 0);
    let requests = log(&sim);
    assert!(
        requests.iter().any(|r| r.status == 201),
        "the server announced 1000 on every answer"
    );
    for (window, most_allowed) in [(Duration::from_secs(2), 20), (Duration::from_secs(4), 40)] {
        let most = max_in_any_window(&requests, window);
        assert!(
            most <= most_allowed,
            "{most} requests within {window:?} under --rate-limit 20 per 2 s:\n{}",
            summary(&requests)
        );
    }
}

#[test]
fn auto_follows_a_server_that_raises_its_limit_from_its_first_answer() {
    // Kapso's minute; auto starts at 100 per minute, which sends 16 requests at once and then
    // nothing for ten seconds (each slot is held 62 s * 16 / 100). The server allows 300: a
    // gate that follows it from the first answer sends 50 at once. The bound is that pause,
    // not a throughput floor: 17 local requests take milliseconds, however busy the machine.
    let rate = kapso_sim::RateLimit {
        limit: 300,
        window_ms: 60_000,
        ..kapso_sim::RateLimit::default()
    };
    let (scenario, ids) = cases(Scenario::new(support::KEY), "up", 30, |_| 200);
    let sim = Sim::start(scenario.rate_limit_with(rate));
    let mut cmd = support::gate(&sim.base_url());
    cmd.env("KAPSO_CONCURRENCY", "4");
    support::assert_code(&support::run_within(cmd.args(&ids), Duration::from_secs(120)), 0);
    let requests = log(&sim);
    assert_eq!(count_429(&requests), 0, "{}", summary(&requests));
    assert!(requests.len() > 16, "{}", summary(&requests));
    let seventeenth = requests[16].at - requests[0].at;
    assert!(
        seventeenth < Duration::from_secs(9),
        "the 17th request came {seventeenth:?} after the first: the gate kept the starting 100 a minute:\n{}",
        summary(&requests)
    );
}

#[test]
fn auto_follows_a_server_that_raises_then_lowers_its_limit() {
    // Our window is 2 s; auto starts at 100 per window. The server announces 300 for its first
    // 400 requests, then 20. Forty runs polled every 50 ms want far more than either. That the
    // gate goes up is shown above without a throughput floor; here, that it comes down.
    let window = Duration::from_secs(2);
    let rate = kapso_sim::RateLimit {
        limit: 300,
        window_ms: 2_000,
        changes: vec![kapso_sim::LimitChange {
            after_requests: 400,
            limit: 20,
        }],
        ..kapso_sim::RateLimit::default()
    };
    let (scenario, ids) = cases(Scenario::new(support::KEY), "auto", 40, |_| 6_000);
    let sim = Sim::start(scenario.rate_limit_with(rate));
    let mut cmd = support::gate(&sim.base_url());
    cmd.env("KAPSO_RATE_WINDOW", "2s")
        .env("KAPSO_POLL_INTERVAL", "50ms")
        .env("KAPSO_CONCURRENCY", "4");
    support::assert_code(&support::run_within(cmd.args(&ids), Duration::from_secs(120)), 0);
    let requests = log(&sim);
    let (_, after) = requests.split_at(400.min(requests.len()));
    // Down: once the first window under the new limit has passed (the server still counts
    // the requests of the old pace in it), no window holds more than the new limit.
    let switch = after.first().expect("requests after the change").at;
    let settled: Vec<LoggedRequest> = after.iter().filter(|r| r.at >= switch + window).cloned().collect();
    let most_after = max_in_any_window(&settled, window);
    assert!(
        most_after <= 20,
        "{most_after} requests in a window after the server lowered its limit to 20:\n{}",
        summary(&settled)
    );
    assert_eq!(count_429(&settled), 0, "{}", summary(&settled));
}
