//! Scenario 2, a scarce budget: 60 cases, 10 s runs, the simulator enforcing 100 requests a
//! minute, poll interval 2 s. Wall time against the lower bound the budget allows, and the 429
//! responses (there should be none).

use crate::figures::{median, scaled, secs};
use crate::gate::{check_exit, run_gate, start_sim, GateConfig, KEY};
use crate::report::{row, Row};
use crate::Options;
use kapso_sim::{CaseSpec, Endpoint, Scenario};
use std::path::Path;
use std::time::Duration;

const CASES: usize = 60;
const LIMIT: u32 = 100;
/// At least one POST and one finishing GET per case.
const NEEDED: usize = 2 * CASES;

/// The figures of one run.
#[derive(Debug)]
struct Sample {
    wall: f64,
    limited: f64,
    total: f64,
    wasted: f64,
    stale: f64,
}

pub fn run(gate: &Path, options: &Options) -> Result<Vec<Row>, String> {
    let scale = options.scale.unwrap_or(0.25);
    let interval = scaled(2000.0, scale);
    let window = scaled(60_000.0, scale);
    let duration = scaled(10_000.0, scale);
    println!();
    println!(
        "Scenario 2: {CASES} cases, 10 s runs, simulator limit {LIMIT}/min, poll interval 2 s (scale {scale}: runs {}, window {}, interval {})",
        secs(duration),
        secs(window),
        secs(interval)
    );
    // Under a sliding window of LIMIT per `window`, request k (1-based) goes no sooner than
    // floor((k - 1) / LIMIT) windows.
    let budget_bound = window.mul_f64(((NEEDED - 1) / LIMIT as usize) as f64);
    let lower_bound = budget_bound.max(duration);
    println!(
        "  lower bound: max(longest run {}, request {NEEDED} under {LIMIT}/{} at {}) = {}",
        secs(duration),
        secs(window),
        secs(budget_bound),
        secs(lower_bound)
    );
    let config = GateConfig {
        poll_interval: interval,
        rate_limit: LIMIT,
        rate_window: window,
        concurrency: 8,
        timeout: Duration::from_secs(600),
        duration_model: true,
    };
    let samples = (1..=options.runs)
        .map(|attempt| one_run(gate, &config, attempt, duration, lower_bound))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows(&samples, lower_bound))
}

fn one_run(
    gate: &Path,
    config: &GateConfig,
    attempt: usize,
    duration: Duration,
    lower_bound: Duration,
) -> Result<Sample, String> {
    let ids: Vec<String> = (0..CASES).map(|i| format!("s2-case-{i:02}")).collect();
    let mut scenario = Scenario::new(KEY).rate_limit(LIMIT, config.rate_window.as_millis() as u64);
    for id in &ids {
        scenario = scenario.case(CaseSpec::passing(id.clone(), 0.9).duration_ms(duration.as_millis() as u64));
    }
    let (sim, started) = start_sim(scenario);
    let run = run_gate(gate, &sim, started, &ids, config, false)?;
    check_exit(&run, "scenario 2")?;
    let requests = sim.requests();
    let runs = sim.runs();
    let too_many = requests.iter().filter(|r| r.status == 429).count();
    // Polls that found the run unfinished: every GET but the one that saw it finished.
    let early_polls: usize = requests
        .iter()
        .filter(|r| r.endpoint == Endpoint::GetRun && r.status == 200)
        .count()
        .saturating_sub(runs.len());
    let stale: usize = runs.iter().map(|r| r.polls_after_finished_seen).sum();
    let ratio = run.wall.as_secs_f64() / lower_bound.as_secs_f64();
    println!(
        "  run {attempt}: wall {} ({ratio:.3} x bound), {} requests, {too_many} x 429, {early_polls} poll(s) of unfinished runs, exit at {} after spawn at {} (sim clock)",
        secs(run.wall),
        requests.len(),
        secs(run.exit_on_sim_clock),
        secs(run.spawn_on_sim_clock),
    );
    Ok(Sample {
        wall: run.wall.as_secs_f64(),
        limited: too_many as f64,
        total: requests.len() as f64,
        wasted: early_polls as f64,
        stale: stale as f64,
    })
}

fn rows(samples: &[Sample], lower_bound: Duration) -> Vec<Row> {
    let med = |field: fn(&Sample) -> f64| median(&mut samples.iter().map(field).collect::<Vec<_>>());
    let wall = med(|s| s.wall);
    let limited = med(|s| s.limited);
    let bound = lower_bound.as_secs_f64();
    let s = "2";
    vec![
        row(
            s,
            "wall time",
            format!("{wall:.2} s"),
            format!("<= {:.2} s (1.25 x {bound:.2} s bound)", 1.25 * bound),
            wall <= 1.25 * bound,
        ),
        row(
            s,
            "wall / lower bound",
            format!("{:.3}", wall / bound),
            "<= 1.25".into(),
            wall <= 1.25 * bound,
        ),
        row(s, "429 responses", format!("{limited}"), "0".into(), limited == 0.0),
        row(
            s,
            "requests",
            format!("{}", med(|s| s.total)),
            format!(">= {NEEDED}"),
            true,
        ),
        row(
            s,
            "polls of unfinished runs",
            format!("{}", med(|s| s.wasted)),
            "(fewer is better)".into(),
            true,
        ),
        row(
            s,
            "polls after finished seen",
            format!("{}", med(|s| s.stale)),
            "0".into(),
            true,
        ),
    ]
}
