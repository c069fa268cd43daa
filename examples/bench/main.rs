//! The benchmark: drives the real `kapso-gate` binary against kapso-sim (started in this process
//! on 127.0.0.1) and prints, per scenario, the median figures next to their bound or target.
//!
//! ```text
//! cargo run --release --example bench                      # scenarios 1-3, 3 runs each
//! cargo run --release --example bench -- --scenario 4      # duration model A/B, ~10 min
//! cargo run --release --example bench -- --scenario 2 --runs 5 --scale 1
//! ```
//!
//! Scenarios (`--scenario N`, repeatable):
//! 1. Overhead with a rich budget: 20 cases, runs of 3 to 8 s, no rate limit, poll interval 1 s:
//!    overhead (gate exit minus the moment the last run finished, on the simulator's clock) and
//!    requests per case against 2 + ceil(duration / interval).
//! 2. A scarce budget: 60 cases, 10 s runs, the simulator enforcing 100 requests a minute, poll
//!    interval 2 s: wall time against the lower bound, and the 429 responses.
//! 3. Scale: 1000 cases, 1 to 3 s runs, no rate limit, concurrency 32, poll interval 1 s: wall
//!    time, peak RSS and CPU time of the gate process.
//! 4. "Waves", an A/B test of the duration model (the first poll of a run created once 3 runs
//!    have finished waits for the shortest run seen): 250 cases, runs of 40 to 50 s, gate and
//!    simulator limit 100 requests a minute, poll interval 5 s, concurrency 8, each seed run
//!    with the model on and off (`KAPSO_NO_DURATION_MODEL=1`): wall time, requests, polls of
//!    unfinished runs, 429s, against the lower bound. Creations always go before polls, so
//!    every run is created before the first poll and the model has nothing to act on; the
//!    variant 4b, chosen to favour it, refuses half the cases once with 503 and
//!    `Retry-After: 60 s` under a 1200/min budget, so that a second wave is created after the
//!    first has finished.
//!
//! Modules: `gate` locates, runs and times one gate process, `usage` measures its peak RSS and
//! CPU time, `figures` holds the arithmetic (medians, scaling, seeded durations, bounds),
//! `scenarios` the four scenarios, and `report` prints the figures and the README table.

mod figures;
mod gate;
#[path = "../shared/release_binary.rs"]
mod release_binary;
mod report;
mod scenarios;
mod usage;

use clap::Parser;

/// Benchmark of kapso-gate against kapso-sim on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(
    name = "bench",
    override_usage = "cargo run --release --example bench -- [--runs N] [--scenario 1|2|3|4]... [--scale F] [--no-build]",
    after_help = "default: scenarios 1, 2 and 3; scenario 4 (duration model on/off, about 10 minutes at --runs 3) only when asked for"
)]
pub struct Options {
    /// Runs per scenario, from 1 to 50; the figures are their medians.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = parse_runs)]
    pub runs: usize,
    /// A scenario to run, 1 to 4 (repeatable; default 1, 2 and 3).
    #[arg(long = "scenario", value_name = "1|2|3|4", value_parser = clap::value_parser!(u8).range(1..=4))]
    pub scenarios: Vec<u8>,
    /// Multiplies every simulated duration, the rate window and the poll interval alike, from
    /// 0.01 to 10 (default 1 for scenarios 1 and 3, 0.25 for scenarios 2 and 4).
    #[arg(long, value_name = "F", value_parser = parse_scale)]
    pub scale: Option<f64>,
    /// Do not run `cargo build --release --bin kapso-gate` first.
    #[arg(long)]
    pub no_build: bool,
}

fn parse_runs(value: &str) -> Result<usize, String> {
    value
        .parse()
        .ok()
        .filter(|n| (1..=50).contains(n))
        .ok_or_else(|| "expected a number from 1 to 50".to_owned())
}

fn parse_scale(value: &str) -> Result<f64, String> {
    value
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && (0.01..=10.0).contains(s))
        .ok_or_else(|| "expected a number from 0.01 to 10".to_owned())
}

fn main() {
    let mut options = Options::parse();
    if options.scenarios.is_empty() {
        options.scenarios = vec![1, 2, 3];
    }
    options.scenarios.dedup();
    let gate = release_binary::locate(!options.no_build, "bench").unwrap_or_else(|message| fail(&message, 2));
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "kapso-gate benchmark: {} ({} cores), {} run(s) per scenario, medians",
        gate.display(),
        cores,
        options.runs
    );
    println!(
        "time measurement: {}",
        if usage::time_available() {
            "/usr/bin/time"
        } else {
            "/proc polling"
        }
    );
    let mut rows = Vec::new();
    for &scenario in &options.scenarios {
        match scenarios::run(scenario, &gate, &options) {
            Ok(mut r) => rows.append(&mut r),
            Err(message) => fail(&format!("scenario {scenario} failed: {message}"), 1),
        }
    }
    report::print_table(&rows, options.runs, cores);
}

fn fail(message: &str, code: i32) -> ! {
    eprintln!("bench: {message}");
    std::process::exit(code);
}
