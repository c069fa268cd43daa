//! Scenario 3, scale: 1000 cases, runs of 1 to 3 s, no rate limit, concurrency 32, poll interval
//! 1 s. Wall time, whether every case got its verdict, and the peak RSS and CPU time of the gate.

use crate::figures::{median, scaled, secs};
use crate::gate::{run_gate, start_sim, GateConfig, KEY};
use crate::report::{row, Row};
use crate::Options;
use kapso_sim::{CaseSpec, Scenario};
use std::path::Path;
use std::time::Duration;

const CASES: usize = 1000;

/// The figures of one run.
#[derive(Debug)]
struct Sample {
    wall: f64,
    rss_mib: f64,
    cpu_secs: f64,
    decided: f64,
    total: f64,
}

pub fn run(gate: &Path, options: &Options) -> Result<Vec<Row>, String> {
    let scale = options.scale.unwrap_or(1.0);
    let interval = scaled(1000.0, scale);
    println!();
    println!(
        "Scenario 3: {CASES} cases, runs of 1-3 s, no rate limit, concurrency 32, poll interval 1 s (scale {scale})"
    );
    let config = GateConfig {
        poll_interval: interval,
        rate_limit: 0,
        rate_window: scaled(60_000.0, scale),
        concurrency: 32,
        timeout: Duration::from_secs(600),
        duration_model: true,
    };
    let samples = (1..=options.runs)
        .map(|attempt| one_run(gate, &config, attempt, scale))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows(&samples))
}

fn one_run(gate: &Path, config: &GateConfig, attempt: usize, scale: f64) -> Result<Sample, String> {
    let ids: Vec<String> = (0..CASES).map(|i| format!("s3-case-{i:04}")).collect();
    let mut scenario = Scenario::new(KEY);
    for (i, id) in ids.iter().enumerate() {
        // 1 to 3 s, spread evenly (a fixed pattern, so every run sees the same load).
        let ms = 1000.0 + 2000.0 * ((i * 37) % CASES) as f64 / (CASES - 1) as f64;
        scenario = scenario.case(CaseSpec::passing(id.clone(), 0.9).duration_ms(scaled(ms, scale).as_millis() as u64));
    }
    let (sim, started) = start_sim(scenario);
    let run = run_gate(gate, &sim, started, &ids, config, true)?;
    let runs = sim.runs();
    let requests = sim.requests();
    // Every case got its verdict: exit 0 means every case passed (all scores are 0.9), and
    // every run was seen finished.
    let decided = if run.exit_code == 0 { runs.len() } else { 0 };
    let rss_mib = run.max_rss_kib.map_or(f64::NAN, |k| k as f64 / 1024.0);
    let cpu_secs = run.cpu_secs.unwrap_or(f64::NAN);
    println!(
        "  run {attempt}: wall {}, exit {}, {decided}/{CASES} verdicts, peak RSS {rss_mib:.1} MiB, CPU {cpu_secs:.2} s, {} requests",
        secs(run.wall),
        run.exit_code,
        requests.len()
    );
    if run.exit_code != 0 {
        println!("  stderr ends with:\n{}", run.stderr_tail);
    }
    Ok(Sample {
        wall: run.wall.as_secs_f64(),
        rss_mib,
        cpu_secs,
        decided: decided as f64,
        total: requests.len() as f64,
    })
}

fn rows(samples: &[Sample]) -> Vec<Row> {
    let med = |field: fn(&Sample) -> f64| median(&mut samples.iter().map(field).collect::<Vec<_>>());
    let rss = med(|s| s.rss_mib);
    let cpu = med(|s| s.cpu_secs);
    let verdicts = med(|s| s.decided);
    let s = "3";
    vec![
        row(
            s,
            "wall time",
            format!("{:.2} s", med(|s| s.wall)),
            "(runs last 1-3 s)".into(),
            true,
        ),
        row(
            s,
            "requests",
            format!("{}", med(|s| s.total)),
            format!(">= {}", 2 * CASES),
            true,
        ),
        row(
            s,
            "cases with a verdict",
            format!("{verdicts}"),
            format!("{CASES}"),
            verdicts == CASES as f64,
        ),
        row(
            s,
            "peak RSS",
            format!("{rss:.1} MiB"),
            "<= 40 MB".into(),
            rss * 1.048_576 <= 40.0,
        ),
        row(
            s,
            "CPU time (user+sys)",
            format!("{cpu:.2} s"),
            "<= 3 s".into(),
            cpu <= 3.0,
        ),
    ]
}
