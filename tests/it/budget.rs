//! The rate budget and the poll scheduler, end to end: the real gate against kapso-sim with a
//! scaled rate window (seconds instead of a minute). Every check reads the simulator's request
//! log or run records; the only timing checks are lower bounds (gaps that must be at least so
//! long).

use crate::support::{self, count_429, max_in_any_window};
use kapso_sim::{CaseSpec, Endpoint, Fault, FaultAction, LoggedRequest, RunRecord, Scenario, Sim};
use std::time::Duration;

/// A scenario with `n` cases `{prefix}-{i}` whose runs pass after `duration_ms(i)`.
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

/// Runs the gate on `ids` with extra environment variables; asserts that it passed.
fn run_gate(sim: &Sim, ids: &[String], env: &[(&str, &str)]) -> support::Finished {
    let mut cmd = support::gate(&sim.base_url());
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = support::run(cmd.args(ids));
    assert_eq!(out.code, 0, "the gate should pass every case\n{}", out.all_output());
    out
}

/// Requests sorted by arrival.
fn log(sim: &Sim) -> Vec<LoggedRequest> {
    let mut requests = sim.requests();
    requests.sort_by_key(|r| r.at);
    requests
}

/// Every run was created once, polled at least once, and never polled after a response showed
/// it finished.
fn assert_runs_well_polled(runs: &[RunRecord], cases: usize) {
    assert_eq!(runs.len(), cases, "one run per case: {runs:#?}");
    for run in runs {
        assert!(run.polls >= 1, "run of {} was never polled: {run:?}", run.case_id);
        assert_eq!(
            run.polls_after_finished_seen, 0,
            "run of {} was polled after it was seen finished: {run:?}",
            run.case_id
        );
    }
}

fn summary(requests: &[LoggedRequest]) -> String {
    requests
        .iter()
        .map(|r| format!("{:>6} ms {:>3} {:?} {}", r.at.as_millis(), r.status, r.endpoint, r.path))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn requests_never_exceed_the_budget_in_any_window() {
    let window = Duration::from_millis(2000);
    let (scenario, ids) = cases(Scenario::new(support::KEY), "w", 14, |_| 1500);
    let sim = Sim::start(scenario.rate_limit(10, 2000));
    run_gate(&sim, &ids, &[("KAPSO_RATE_LIMIT", "10"), ("KAPSO_RATE_WINDOW", "2s")]);
    let requests = log(&sim);
    assert_eq!(count_429(&requests), 0, "no 429 expected:\n{}", summary(&requests));
    let most = max_in_any_window(&requests, window);
    assert!(
        most <= 10,
        "{most} requests within one 2 s window:\n{}",
        summary(&requests)
    );
    assert_runs_well_polled(&sim.runs(), ids.len());
    // 14 creations and 14 finishing polls need 28 requests: at 10 per window, at least two
    // windows pass.
    let last = requests.last().expect("requests").at;
    assert!(last >= 2 * window, "the last request came at {last:?}");
}

#[test]
fn a_request_held_up_on_its_way_does_not_let_later_ones_overrun_the_window() {
    // The second request reaches the server 600 ms after it was sent (a stalled process, a slow
    // connection): far beyond the budget's margin. Counted from its permit, it arrives bunched
    // with the requests permitted a window after it, and the server refuses the eleventh.
    let window = Duration::from_millis(2000);
    let (scenario, ids) = cases(Scenario::new(support::KEY), "late", 14, |_| 1500);
    let held_up = Fault::on(Endpoint::CreateRun)
        .case("late-1")
        .then(FaultAction::late(600));
    let sim = Sim::start(scenario.rate_limit(10, 2000).fault(held_up));
    run_gate(&sim, &ids, &[("KAPSO_RATE_LIMIT", "10"), ("KAPSO_RATE_WINDOW", "2s")]);
    let requests = log(&sim);
    assert_eq!(count_429(&requests), 0, "no 429 expected:\n{}", summary(&requests));
    let most = max_in_any_window(&requests, window);
    assert!(
        most <= 10,
        "{most} requests within one 2 s window:\n{}",
        summary(&requests)
    );
    assert_runs_well_polled(&sim.runs(), ids.len());
}

#[test]
fn a_scarce_budget_is_shared_fairly_among_pending_runs() {
    // 8 runs that each want 10 polls a second share 10 requests a second: none may starve.
    let (scenario, ids) = cases(Scenario::new(support::KEY), "f", 8, |_| 3000);
    let sim = Sim::start(scenario.rate_limit(10, 1000));
    run_gate(&sim, &ids, &[("KAPSO_RATE_LIMIT", "10"), ("KAPSO_RATE_WINDOW", "1s")]);
    let requests = log(&sim);
    assert_eq!(count_429(&requests), 0, "no 429 expected:\n{}", summary(&requests));
    assert!(max_in_any_window(&requests, Duration::from_secs(1)) <= 10);
    let runs = sim.runs();
    assert_runs_well_polled(&runs, ids.len());
    let polls: Vec<usize> = runs.iter().map(|r| r.polls).collect();
    let (min, max) = (*polls.iter().min().expect("runs"), *polls.iter().max().expect("runs"));
    // Each window's slots beyond one poll per run go to whichever runs answered first, so the
    // counts differ somewhat; but no run gets less than half the polls of the luckiest one.
    assert!(
        max <= 2 * min,
        "polls per run {polls:?} are not spread fairly:\n{}",
        summary(&requests)
    );
    // No run waits while the others are polled over and over: each run's next poll (and its
    // first) comes within two rounds of polls of all the runs.
    let gets: Vec<&str> = requests
        .iter()
        .filter(|r| r.endpoint == Endpoint::GetRun)
        .map(|r| r.path.as_str())
        .collect();
    let two_rounds = 2 * runs.len();
    for run in &runs {
        let suffix = format!("/{}", run.id);
        let mut previous = None;
        for (i, _) in gets.iter().enumerate().filter(|(_, p)| p.ends_with(&suffix)) {
            let others = previous.map_or(i, |p: usize| i - p - 1);
            assert!(
                others <= two_rounds,
                "run of {} waited while {others} other polls were sent:\n{}",
                run.case_id,
                summary(&requests)
            );
            previous = Some(i);
        }
    }
}

#[test]
fn finished_runs_are_never_polled_again() {
    let (scenario, ids) = cases(Scenario::new(support::KEY), "n", 10, |i| 200 + 100 * i as u64);
    let sim = Sim::start(scenario);
    run_gate(&sim, &ids, &[("KAPSO_RATE_LIMIT", "0")]);
    assert_runs_well_polled(&sim.runs(), ids.len());
}

/// A 429 with `Retry-After: 1` on the first poll; returns the log and when the 429 arrived.
fn retry_after_scenario(concurrency: &str) -> (Vec<LoggedRequest>, Duration) {
    let too_many = FaultAction::status_with(
        429,
        r#"{"error":"Too Many Requests","message":"Simulated"}"#,
        &[("Retry-After", "1")],
    );
    let (scenario, ids) = cases(Scenario::new(support::KEY), "p", 4, |_| 1500);
    let sim = Sim::start(scenario.fault(Fault::on(Endpoint::GetRun).then(too_many)));
    run_gate(
        &sim,
        &ids,
        &[("KAPSO_RATE_LIMIT", "0"), ("KAPSO_CONCURRENCY", concurrency)],
    );
    assert_runs_well_polled(&sim.runs(), ids.len());
    let requests = log(&sim);
    assert_eq!(count_429(&requests), 1, "{}", summary(&requests));
    let at = requests.iter().find(|r| r.status == 429).expect("the 429").at;
    (requests, at)
}

#[test]
fn retry_after_pauses_every_request_not_just_the_one_that_got_it() {
    // One request at a time: when the 429 arrives nothing else is in flight, and the polls of
    // the three other runs are due, so anything sent before the pause ends is a violation.
    let (requests, at) = retry_after_scenario("1");
    let next = requests.iter().find(|r| r.at > at).expect("requests after the 429").at;
    assert!(
        next - at >= Duration::from_millis(900),
        "a request arrived {:?} after the 429 with Retry-After: 1:\n{}",
        next - at,
        summary(&requests)
    );
}

#[test]
fn retry_after_pauses_requests_already_due_on_other_connections() {
    // With 8 requests in flight allowed, the other runs' polls may already be on their way when
    // the 429 arrives (allowed within 250 ms); nothing new may start until the pause ends.
    let (requests, at) = retry_after_scenario("8");
    let during: Vec<&LoggedRequest> = requests
        .iter()
        .filter(|r| r.at > at + Duration::from_millis(250) && r.at < at + Duration::from_millis(900))
        .collect();
    assert!(
        during.is_empty(),
        "{} request(s) during the pause:\n{}",
        during.len(),
        summary(&requests)
    );
}

#[test]
fn a_server_limit_below_the_configured_one_slows_the_gate_down() {
    // The gate is told 100 per second; the server allows 4 and says so in X-RateLimit-Limit.
    let (scenario, ids) = cases(Scenario::new(support::KEY), "l", 6, |_| 300);
    let sim = Sim::start(scenario.rate_limit(4, 1000));
    run_gate(
        &sim,
        &ids,
        &[
            ("KAPSO_RATE_LIMIT", "100"),
            ("KAPSO_RATE_WINDOW", "1s"),
            ("KAPSO_CONCURRENCY", "2"),
        ],
    );
    let requests = log(&sim);
    // Only the first requests, sent before any response told the limit, could overrun it.
    assert!(
        count_429(&requests) <= 1,
        "{} responses were 429:\n{}",
        count_429(&requests),
        summary(&requests)
    );
    assert_runs_well_polled(&sim.runs(), ids.len());
    let last = requests.last().expect("requests").at;
    assert!(
        last >= Duration::from_secs(2),
        "12 requests at 4 a second cannot end before 2 s, yet the last came at {last:?}"
    );
}

#[test]
fn creation_is_not_starved_by_polling_under_a_scarce_budget() {
    // 15 creations at 6 per second, while every created run wants 10 polls a second.
    let (scenario, ids) = cases(Scenario::new(support::KEY), "c", 15, |_| 500);
    let sim = Sim::start(scenario.rate_limit(6, 1000));
    run_gate(
        &sim,
        &ids,
        &[
            ("KAPSO_RATE_LIMIT", "6"),
            ("KAPSO_RATE_WINDOW", "1s"),
            ("KAPSO_CONCURRENCY", "4"),
        ],
    );
    let requests = log(&sim);
    assert_eq!(count_429(&requests), 0, "{}", summary(&requests));
    let last_post = requests
        .iter()
        .rposition(|r| r.endpoint == Endpoint::CreateRun)
        .expect("creations");
    let gets_before = requests[..last_post]
        .iter()
        .filter(|r| r.endpoint == Endpoint::GetRun)
        .count();
    assert!(
        gets_before <= 3,
        "{gets_before} polls went before the last creation:\n{}",
        summary(&requests)
    );
    assert_runs_well_polled(&sim.runs(), ids.len());
}

#[test]
fn creation_goes_first_when_requests_are_slow() {
    // Each creation takes 60 ms and only two requests fly at once: polls come due long before
    // the last run is created, yet creating goes first.
    let (scenario, ids) = cases(Scenario::new(support::KEY), "s", 12, |_| 400);
    let sim = Sim::start(scenario.fault(Fault::on(Endpoint::CreateRun).times(12, FaultAction::delay(60))));
    run_gate(&sim, &ids, &[("KAPSO_RATE_LIMIT", "0"), ("KAPSO_CONCURRENCY", "2")]);
    let requests = log(&sim);
    let last_post = requests
        .iter()
        .rposition(|r| r.endpoint == Endpoint::CreateRun)
        .expect("creations");
    let gets_before = requests[..last_post]
        .iter()
        .filter(|r| r.endpoint == Endpoint::GetRun)
        .count();
    assert!(
        gets_before <= 1,
        "{gets_before} polls went before the last creation:\n{}",
        summary(&requests)
    );
    assert_runs_well_polled(&sim.runs(), ids.len());
}

/// A pending run is polled no more often than `--poll-interval`: between two GETs of one run at
/// least the interval passes (the next poll is due an interval after the last answer).
#[test]
fn a_run_is_never_polled_more_often_than_the_interval() {
    let (scenario, ids) = cases(Scenario::new(support::KEY), "paced", 4, |i| 1_000 + 200 * i as u64);
    let sim = Sim::start(scenario);
    run_gate(
        &sim,
        &ids,
        &[("KAPSO_POLL_INTERVAL", "300ms"), ("KAPSO_RATE_LIMIT", "0")],
    );
    for run in sim.runs() {
        let polls: Vec<Duration> = log(&sim)
            .iter()
            .filter(|r| r.endpoint == Endpoint::GetRun && r.path.ends_with(&run.id))
            .map(|r| r.at)
            .collect();
        assert!(polls.len() >= 2, "run {} was polled {} times", run.id, polls.len());
        for pair in polls.windows(2) {
            assert!(
                pair[1] - pair[0] >= Duration::from_millis(300),
                "run {} polled {:?} apart",
                run.id,
                pair[1] - pair[0]
            );
        }
    }
}
