//! Scenario 4, "waves": an A/B test of the duration model (the first poll of a run created once
//! 3 runs have finished waits for the shortest run seen). 250 cases, runs of 40 to 50 s, gate
//! and simulator limit 100 requests a minute, poll interval 5 s, concurrency 8, each seed run
//! with the model on and off (`KAPSO_NO_DURATION_MODEL=1`); the variant 4b refuses half the
//! cases once with 503 and `Retry-After: 60 s` under a 1200/min budget, so that a second wave
//! is created after the first has finished.

use crate::figures::{median, retry_after_secs, scaled, secs, XorShift};
use crate::gate::{check_exit, run_gate, start_sim, GateConfig, KEY};
use crate::report::{row, Row};
use crate::Options;
use kapso_sim::{CaseSpec, Endpoint, Fault, FaultAction, LoggedRequest, RunRecord, Scenario};
use std::path::Path;
use std::time::Duration;

/// One configuration of the waves scenario, before scaling.
#[derive(Debug, Clone)]
struct Waves {
    name: &'static str,
    cases: usize,
    /// Run durations are uniform in [min_ms, max_ms].
    min_ms: f64,
    max_ms: f64,
    /// Requests per (scaled) minute, for the simulator and the gate alike.
    limit: u32,
    interval_ms: f64,
    concurrency: usize,
    /// The last `delayed` cases get one 503 with `Retry-After: delay_ms` on their first
    /// creation, so that they are created once the first runs have finished (0: none).
    delayed: usize,
    delay_ms: f64,
}

/// What one gate process of scenario 4 did.
#[derive(Debug, Clone, Copy)]
struct WavesRun {
    wall: f64,
    requests: f64,
    /// Polls (answered 200) that found the run unfinished.
    wasted: f64,
    limited: f64,
    /// Lower bound of the wall time for this seed.
    bound: f64,
    /// Runs created after 3 runs had been seen finished: the only runs the model can affect.
    eligible: f64,
}

pub fn run(gate: &Path, options: &Options) -> Result<Vec<Row>, String> {
    let scale = options.scale.unwrap_or(0.25);
    let base = Waves {
        name: "4",
        cases: 250,
        min_ms: 40_000.0,
        max_ms: 50_000.0,
        limit: 100,
        interval_ms: 5000.0,
        concurrency: 8,
        delayed: 0,
        delay_ms: 0.0,
    };
    // The model only acts on runs created after 3 runs were seen finished, and creations always
    // go before polls: under any budget every creation is sent before the first poll, so in
    // the base case it never acts. The favourable variant gives it a second wave: half the
    // cases are refused once with a 503 and `Retry-After: 60 s` (Kapso overloaded), so they are
    // created after the first wave has finished, under a budget of 1200/min. Measured: at the
    // default scale the first wave's on-schedule polls (about 1250) exhaust the budget before
    // the Retry-After ends, so the second wave is still created before any finish is seen and
    // the model again has nothing to act on; at `--scale 0.05` the second wave does form.
    let variant = Waves {
        name: "4b",
        limit: 1200,
        delayed: 125,
        delay_ms: 60_000.0,
        ..base.clone()
    };
    let mut rows = waves(gate, options, &base, scale)?;
    rows.append(&mut waves(gate, options, &variant, scale)?);
    Ok(rows)
}

fn waves(gate: &Path, options: &Options, setup: &Waves, scale: f64) -> Result<Vec<Row>, String> {
    print_setup(setup, scale);
    let (on, off) = measure(gate, options, setup, scale)?;
    Ok(rows(setup, &on, &off))
}

fn print_setup(setup: &Waves, scale: f64) {
    let window = scaled(60_000.0, scale);
    let interval = scaled(setup.interval_ms, scale);
    let cases = setup.cases;
    let limit = setup.limit;
    println!();
    println!(
        "Scenario {}: waves, {cases} cases, runs of {:.0}-{:.0} s, simulator and gate limit {limit}/min, poll interval {:.0} s, concurrency {} (scale {scale}: runs {:.2}-{:.2} s, window {}, interval {})",
        setup.name,
        setup.min_ms / 1000.0,
        setup.max_ms / 1000.0,
        setup.interval_ms / 1000.0,
        setup.concurrency,
        scaled(setup.min_ms, scale).as_secs_f64(),
        scaled(setup.max_ms, scale).as_secs_f64(),
        secs(window),
        secs(interval),
    );
    if setup.delayed > 0 {
        println!(
            "  the last {} cases are refused once with 503 and Retry-After {} s (scaled), making a second wave",
            setup.delayed,
            retry_after_secs(setup.delay_ms, scale)
        );
    }
    println!("  each seed runs twice, duration model on and off (KAPSO_NO_DURATION_MODEL=1), in alternating order");
}

/// Every seed with the model on and off, in alternating order: the runs with it on, then off.
fn measure(
    gate: &Path,
    options: &Options,
    setup: &Waves,
    scale: f64,
) -> Result<(Vec<WavesRun>, Vec<WavesRun>), String> {
    let cases = setup.cases;
    let mut on: Vec<WavesRun> = Vec::new();
    let mut off: Vec<WavesRun> = Vec::new();
    for attempt in 1..=options.runs {
        let mut rng = XorShift::new(0x5EED_0004 + attempt as u64);
        let durations: Vec<Duration> = (0..cases)
            .map(|_| scaled(setup.min_ms + (setup.max_ms - setup.min_ms) * rng.next_unit(), scale))
            .collect();
        let order = if attempt % 2 == 1 { [true, false] } else { [false, true] };
        for model in order {
            let run = waves_run(gate, setup, &durations, scale, model)?;
            println!(
                "  seed {attempt}, model {:<3}: wall {:.2} s ({:.3} x bound {:.2} s), {} requests, {} poll(s) of unfinished runs, {} x 429, {} run(s) created after 3 were seen finished",
                if model { "on" } else { "off" },
                run.wall,
                run.wall / run.bound,
                run.bound,
                run.requests,
                run.wasted,
                run.limited,
                run.eligible,
            );
            if model {
                on.push(run);
            } else {
                off.push(run);
            }
        }
    }
    Ok((on, off))
}

fn rows(setup: &Waves, on: &[WavesRun], off: &[WavesRun]) -> Vec<Row> {
    let cases = setup.cases;
    let (wall_on, wall_off) = (med(on, |r| r.wall), med(off, |r| r.wall));
    let (req_on, req_off) = (med(on, |r| r.requests), med(off, |r| r.requests));
    let (wasted_on, wasted_off) = (med(on, |r| r.wasted), med(off, |r| r.wasted));
    let (limited_on, limited_off) = (med(on, |r| r.limited), med(off, |r| r.limited));
    let bound = med(on, |r| r.bound);
    let wall_ratio = wall_on / wall_off;
    let wasted_ratio = if wasted_off > 0.0 { wasted_on / wasted_off } else { 1.0 };
    println!(
        "  medians: model on / off: wall {wall_on:.2} s / {wall_off:.2} s (bound {bound:.2} s), requests {req_on} / {req_off}, polls of unfinished runs {wasted_on} / {wasted_off}, 429 {limited_on} / {limited_off}"
    );
    let verdict = verdict(on, off, wall_ratio, wasted_ratio);
    println!(
        "  verdict: {verdict}; on/off: wall {wall_ratio:.3}, polls of unfinished runs {wasted_ratio:.3}, requests {:.3}",
        req_on / req_off
    );
    let s = setup.name;
    vec![
        row(
            s,
            "wall time, model on / off",
            format!("{wall_on:.2} / {wall_off:.2} s"),
            format!("lower bound {bound:.2} s"),
            true,
        ),
        row(
            s,
            "wall on / off",
            format!("{wall_ratio:.3}"),
            "< 0.97 = measurable gain".into(),
            true,
        ),
        row(
            s,
            "requests, model on / off",
            format!("{req_on} / {req_off}"),
            format!(">= {}", 2 * cases),
            true,
        ),
        row(
            s,
            "unfinished polls, on / off",
            format!("{wasted_on} / {wasted_off}"),
            format!("on/off {wasted_ratio:.3}"),
            true,
        ),
        row(
            s,
            "429 responses, on / off",
            format!("{limited_on} / {limited_off}"),
            "0".into(),
            limited_on == 0.0 && limited_off == 0.0,
        ),
        row(s, "duration model verdict", verdict, String::new(), true),
    ]
}

/// The median of `field` over `runs`.
fn med(runs: &[WavesRun], field: fn(&WavesRun) -> f64) -> f64 {
    median(&mut runs.iter().map(field).collect::<Vec<_>>())
}

/// Whether the model helped, in words. Measurable: at least 3 % of the wall time and more than
/// the spread between seeds, or at least 10 % (and 5) fewer polls of unfinished runs.
fn verdict(on: &[WavesRun], off: &[WavesRun], wall_ratio: f64, wasted_ratio: f64) -> String {
    let (wall_on, wall_off) = (med(on, |r| r.wall), med(off, |r| r.wall));
    let (wasted_on, wasted_off) = (med(on, |r| r.wasted), med(off, |r| r.wasted));
    let eligible_on = med(on, |r| r.eligible);
    // Per-seed differences, so that a small but consistent effect is not lost in the spread.
    let wall_gains: Vec<f64> = on.iter().zip(off).map(|(a, b)| b.wall - a.wall).collect();
    let spread = {
        let mut walls: Vec<f64> = off.iter().map(|r| r.wall).collect();
        walls.sort_by(f64::total_cmp);
        walls.last().copied().unwrap_or(0.0) - walls.first().copied().unwrap_or(0.0)
    };
    let wall_helps = wall_ratio <= 0.97 && wall_off - wall_on > spread.max(0.0) && wall_gains.iter().all(|g| *g > 0.0);
    let polls_help = wasted_off - wasted_on >= (0.1 * wasted_off).max(5.0);
    match (wall_helps, polls_help) {
        (true, true) => format!(
            "the model helps: {:.1} % less wall time, {} fewer polls of unfinished runs",
            100.0 * (1.0 - wall_ratio),
            wasted_off - wasted_on
        ),
        (false, true) => format!(
            "the model saves {} polls of unfinished runs ({:.0} %), but no measurable wall time",
            wasted_off - wasted_on,
            100.0 * (1.0 - wasted_ratio)
        ),
        (true, false) => format!("the model helps: {:.1} % less wall time", 100.0 * (1.0 - wall_ratio)),
        (false, false) => format!(
            "no measurable effect (median {eligible_on} run(s) created after 3 were seen finished, the only runs it can affect)"
        ),
    }
}

fn waves_run(gate: &Path, setup: &Waves, durations: &[Duration], scale: f64, model: bool) -> Result<WavesRun, String> {
    let window = scaled(60_000.0, scale);
    let interval = scaled(setup.interval_ms, scale);
    let cases = setup.cases;
    let limit = setup.limit;
    let ids: Vec<String> = (0..cases).map(|i| format!("s4-case-{i:03}")).collect();
    let mut scenario = Scenario::new(KEY).rate_limit(limit, window.as_millis() as u64);
    for (id, duration) in ids.iter().zip(durations) {
        scenario = scenario.case(CaseSpec::passing(id.clone(), 0.9).duration_ms(duration.as_millis() as u64));
    }
    for id in ids.iter().skip(cases - setup.delayed.min(cases)) {
        scenario = scenario.fault(
            Fault::on(Endpoint::CreateRun)
                .case(id.clone())
                .then(FaultAction::status_with(
                    503,
                    "{}",
                    &[("Retry-After", &retry_after_secs(setup.delay_ms, scale).to_string())],
                )),
        );
    }
    let config = GateConfig {
        poll_interval: interval,
        rate_limit: limit,
        rate_window: window,
        concurrency: setup.concurrency,
        timeout: Duration::from_secs(600),
        duration_model: model,
    };
    let (sim, started) = start_sim(scenario);
    let run = run_gate(gate, &sim, started, &ids, &config, false)?;
    check_exit(&run, &format!("scenario {}", setup.name))?;
    let requests = sim.requests();
    let runs = sim.runs();
    let limited = requests.iter().filter(|r| r.status == 429).count();
    let wasted = requests
        .iter()
        .filter(|r| r.endpoint == Endpoint::GetRun && r.status == 200)
        .count()
        .saturating_sub(runs.len());
    let eligible = eligible(&runs, &requests);
    let bound = lower_bound(setup, durations, scale);
    Ok(WavesRun {
        wall: run.wall.as_secs_f64(),
        requests: requests.len() as f64,
        wasted: wasted as f64,
        limited: limited as f64,
        bound: bound.as_secs_f64(),
        eligible: eligible as f64,
    })
}

/// Runs created after 3 runs had been seen finished (a run is seen finished by its first
/// answered GET at or after its finish): the only runs the model can affect.
fn eligible(runs: &[RunRecord], requests: &[LoggedRequest]) -> usize {
    let mut seen: Vec<Duration> = runs
        .iter()
        .filter_map(|run| {
            let finish = run.finishes_at?;
            let suffix = format!("/test_runs/{}", run.id);
            requests
                .iter()
                .filter(|r| r.endpoint == Endpoint::GetRun && r.status == 200 && r.at >= finish)
                .find(|r| r.path.split('?').next().is_some_and(|p| p.ends_with(&suffix)))
                .map(|r| r.at)
        })
        .collect();
    seen.sort();
    seen.get(2)
        .map_or(0, |third| runs.iter().filter(|r| r.created_at > *third).count())
}

/// The lower bound of the wall time for one seed: lookups (none: the cases are given by ID) and
/// 2 requests per case under the sliding window; the last wave of creations plus the shortest
/// run; the longest run; a delayed case's Retry-After plus its run.
fn lower_bound(setup: &Waves, durations: &[Duration], scale: f64) -> Duration {
    let window = scaled(60_000.0, scale);
    let cases = setup.cases;
    let batches = |requests: usize| ((requests - 1) / setup.limit as usize) as f64;
    let shortest = durations.iter().min().copied().unwrap_or_default();
    let longest = durations.iter().max().copied().unwrap_or_default();
    // A delayed case is created no sooner than its Retry-After.
    let delayed_longest = durations[cases - setup.delayed.min(cases)..]
        .iter()
        .max()
        .map_or(Duration::ZERO, |d| {
            Duration::from_secs(retry_after_secs(setup.delay_ms, scale)) + *d
        });
    window
        .mul_f64(batches(2 * cases + setup.delayed))
        .max(window.mul_f64(batches(cases)) + shortest)
        .max(longest)
        .max(delayed_longest)
}
