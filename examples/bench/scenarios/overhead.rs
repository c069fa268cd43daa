//! Scenario 1, overhead with a rich budget: 20 cases, runs of 3 to 8 s, no rate limit, poll
//! interval 1 s. How long after the last run finished the gate exits, and how many requests each
//! case cost against 2 + ceil(duration / interval).

use crate::figures::{last_finish, median, request_bound, scaled, secs, XorShift};
use crate::gate::{check_exit, run_gate, start_sim, GateConfig, KEY};
use crate::report::{row, Row};
use crate::Options;
use kapso_sim::{CaseSpec, Scenario};
use std::path::Path;
use std::time::Duration;

const CASES: usize = 20;

/// The figures of one run.
#[derive(Debug)]
struct Sample {
    overhead: f64,
    wall: f64,
    per_case: f64,
    bound: f64,
    over_bound: f64,
    after_finished: f64,
}

pub fn run(gate: &Path, options: &Options) -> Result<Vec<Row>, String> {
    let scale = options.scale.unwrap_or(1.0);
    let interval = scaled(1000.0, scale);
    println!();
    println!(
        "Scenario 1: {CASES} cases, runs of 3-8 s, no rate limit, poll interval 1 s (scale {scale}: runs {:.2}-{:.2} s, interval {})",
        scaled(3000.0, scale).as_secs_f64(),
        scaled(8000.0, scale).as_secs_f64(),
        secs(interval)
    );
    println!("  durations: uniform in [3, 8] s, a different seed per run (so the last finish falls at any phase of the interval)");
    let config = GateConfig {
        poll_interval: interval,
        rate_limit: 0,
        rate_window: scaled(60_000.0, scale),
        concurrency: 8,
        timeout: Duration::from_secs(300),
        duration_model: true,
    };
    let samples = (1..=options.runs)
        .map(|attempt| one_run(gate, &config, attempt, scale))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows(&samples, interval, scale))
}

fn one_run(gate: &Path, config: &GateConfig, attempt: usize, scale: f64) -> Result<Sample, String> {
    let interval = config.poll_interval;
    let mut rng = XorShift::new(0x5EED_0001 + attempt as u64);
    let durations: Vec<Duration> = (0..CASES)
        .map(|_| scaled(3000.0 + 5000.0 * rng.next_unit(), scale))
        .collect();
    let mean_bound = durations
        .iter()
        .map(|d| request_bound(*d, interval) as f64)
        .sum::<f64>()
        / CASES as f64;
    let mut scenario = Scenario::new(KEY);
    let ids: Vec<String> = (0..CASES).map(|i| format!("s1-case-{i:02}")).collect();
    for (id, duration) in ids.iter().zip(&durations) {
        scenario = scenario.case(CaseSpec::passing(id.clone(), 0.9).duration_ms(duration.as_millis() as u64));
    }
    let (sim, started) = start_sim(scenario);
    let run = run_gate(gate, &sim, started, &ids, config, false)?;
    check_exit(&run, "scenario 1")?;
    let runs = sim.runs();
    let requests = sim.requests();
    let last = last_finish(&runs);
    let overhead = run.exit_on_sim_clock.saturating_sub(last);
    // Requests per case: the POST and every GET of its run.
    let exceeding = runs
        .iter()
        .filter(|r| {
            let duration = durations[ids.iter().position(|id| *id == r.case_id).unwrap_or(0)];
            1 + r.polls > request_bound(duration, interval)
        })
        .count();
    let stale: usize = runs.iter().map(|r| r.polls_after_finished_seen).sum();
    let rpc = requests.len() as f64 / CASES as f64;
    println!(
        "  run {attempt}: last run finished at {}, gate exit at {} (wall {}): overhead {}, {rpc:.2} requests/case (bound {mean_bound:.2}), {exceeding} case(s) over their bound, {stale} poll(s) after finished",
        secs(last),
        secs(run.exit_on_sim_clock),
        secs(run.wall),
        secs(overhead),
    );
    Ok(Sample {
        overhead: overhead.as_secs_f64(),
        wall: run.wall.as_secs_f64(),
        per_case: rpc,
        bound: mean_bound,
        over_bound: exceeding as f64,
        after_finished: stale as f64,
    })
}

fn rows(samples: &[Sample], interval: Duration, scale: f64) -> Vec<Row> {
    let med = |field: fn(&Sample) -> f64| median(&mut samples.iter().map(field).collect::<Vec<_>>());
    let overhead = med(|s| s.overhead);
    let overhead_target = interval.as_secs_f64() + 0.3 * scale;
    let per_case = med(|s| s.per_case);
    let bound = med(|s| s.bound);
    let over_bound = med(|s| s.over_bound);
    let s = "1";
    vec![
        row(
            s,
            "wall time",
            format!("{:.2} s", med(|s| s.wall)),
            "(longest run <= 8 s)".into(),
            true,
        ),
        row(
            s,
            "overhead after last finish",
            format!("{overhead:.2} s"),
            format!("<= {overhead_target:.2} s (interval + 0.3 s)"),
            overhead <= overhead_target,
        ),
        row(
            s,
            "requests per case",
            format!("{per_case:.2}"),
            format!("<= {bound:.2} (mean of 2+ceil(d/i))"),
            per_case <= bound,
        ),
        row(
            s,
            "cases over their bound",
            format!("{over_bound}"),
            "0".into(),
            over_bound == 0.0,
        ),
        row(
            s,
            "polls after finished seen",
            format!("{}", med(|s| s.after_finished)),
            "0".into(),
            true,
        ),
    ]
}
