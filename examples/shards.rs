//! The shards benchmark: one gate over a selection against three shards of it run at
//! the same time, under one key's rate limit of 100 and of 1,000 requests a minute, with the
//! real `kapso-gate` binary against kapso-sim on 127.0.0.1. Prints the median wall time of each
//! against the lower bound, and the 429 responses.
//!
//! ```text
//! cargo run --release --example shards                 # 3 runs each, time scaled by 0.25
//! cargo run --release --example shards -- --runs 5 --scale 1
//! ```
//!
//! Options: `--runs N` (default 3), `--scale F` (multiplies run durations, the poll interval and
//! the 60 s rate window alike through the hidden `KAPSO_RATE_WINDOW` knob; default 0.25), and
//! `--no-build` (do not run `cargo build --release --bin kapso-gate` first).
//!
//! Setup: 120 cases, runs of 10 s, poll interval 2 s, concurrency 8. The key's limit is given
//! in a config file (`rate-limit = L`), so each of the three shards spends a third of it. The
//! lower bound is the same for both: every case needs a creation and a poll that sees it
//! finished, 240 requests that go out no faster than L per window, and no run finishes sooner
//! than its own duration after it was created.

use kapso_sim::{CaseSpec, Scenario, Sim};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "shared/release_binary.rs"]
mod release_binary;

const KEY: &str = "kg-shards-bench-key";
const CASES: usize = 120;
const SHARDS: u32 = 3;

#[derive(Debug)]
struct Options {
    runs: usize,
    scale: f64,
    build: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        runs: 3,
        scale: 0.25,
        build: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--runs" => {
                options.runs = value("--runs")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=20).contains(n))
                    .ok_or("--runs takes a number from 1 to 20")?;
            }
            "--scale" => {
                options.scale = value("--scale")?
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0 && *s <= 4.0)
                    .ok_or("--scale takes a number above 0, at most 4")?;
            }
            "--no-build" => options.build = false,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

fn main() {
    let result = parse_options().and_then(|options| {
        let gate = release_binary::locate(options.build, "shards bench")?;
        run_all(&gate, &options)
    });
    if let Err(error) = result {
        eprintln!("shards bench: {error}");
        std::process::exit(1);
    }
}

/// The timing of one configuration, scaled.
#[derive(Debug, Clone, Copy)]
struct Timing {
    run: Duration,
    poll: Duration,
    window: Duration,
}

fn run_all(gate: &Path, options: &Options) -> Result<(), String> {
    let scaled = |ms: f64| Duration::from_secs_f64(ms * options.scale / 1000.0);
    let timing = Timing {
        run: scaled(10_000.0),
        poll: scaled(2_000.0),
        window: scaled(60_000.0),
    };
    println!(
        "{CASES} cases, runs {}, poll every {}, rate window {} (scale {}), {} runs each, medians",
        secs(timing.run),
        secs(timing.poll),
        secs(timing.window),
        options.scale,
        options.runs
    );
    println!("| key limit | shards | wall | lower bound | wall / bound | 429s |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for limit in [100u32, 1000] {
        let requests = 2 * CASES;
        let budget_bound = timing.window.mul_f64(((requests - 1) / limit as usize) as f64);
        let bound = budget_bound.max(timing.run);
        for shards in [1, SHARDS] {
            let (mut walls, mut limited) = (Vec::new(), Vec::new());
            for _ in 0..options.runs {
                let (wall, too_many) = measure(gate, limit, shards, timing)?;
                walls.push(wall.as_secs_f64());
                limited.push(too_many as f64);
            }
            let wall = median(&mut walls);
            println!(
                "| {limit}/min | {shards} | {wall:.2} s | {:.2} s | {:.2} | {} |",
                bound.as_secs_f64(),
                wall / bound.as_secs_f64(),
                median(&mut limited)
            );
        }
    }
    Ok(())
}

/// One selection run as `shards` gates at once on a fresh simulator: the wall time from the
/// first spawn to the last exit, and the 429 responses the simulator sent.
fn measure(gate: &Path, limit: u32, shards: u32, timing: Timing) -> Result<(Duration, usize), String> {
    let ids: Vec<String> = (0..CASES).map(|i| format!("shard-bench-{i:03}")).collect();
    let mut scenario = Scenario::new(KEY).rate_limit(limit, timing.window.as_millis() as u64);
    for id in &ids {
        scenario = scenario.case(CaseSpec::passing(id.clone(), 0.9).duration_ms(timing.run.as_millis() as u64));
    }
    let sim = Sim::start(scenario);
    let work = std::env::temp_dir().join(format!("kapso-gate-shards-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let config = work.join("kapso-gate.toml");
    std::fs::write(&config, format!("rate-limit = {limit}\n")).map_err(|e| format!("cannot write the config: {e}"))?;
    let started = Instant::now();
    let children: Vec<Child> = (1..=shards)
        .map(|k| {
            spawn(
                gate,
                &sim,
                &config,
                &ids,
                timing,
                (shards > 1).then(|| format!("{k}/{shards}")),
            )
        })
        .collect::<Result<_, _>>()?;
    for mut child in children {
        let status = child.wait().map_err(|e| format!("gate did not finish: {e}"))?;
        if status.code() != Some(0) {
            return Err(format!("a gate exited {status}: every case should pass"));
        }
    }
    let wall = started.elapsed();
    let too_many = sim.requests().iter().filter(|r| r.status == 429).count();
    Ok((wall, too_many))
}

fn spawn(
    gate: &Path,
    sim: &Sim,
    config: &Path,
    ids: &[String],
    timing: Timing,
    shard: Option<String>,
) -> Result<Child, String> {
    let mut cmd = Command::new(gate);
    cmd.env_clear()
        .env("KAPSO_API_KEY", KEY)
        .env("KAPSO_BASE_URL", sim.base_url())
        .env("KAPSO_CONFIG", config)
        .env("KAPSO_POLL_INTERVAL", format!("{}ms", timing.poll.as_millis()))
        .env("KAPSO_RATE_WINDOW", format!("{}ms", timing.window.as_millis()))
        .env("KAPSO_TIMEOUT", "600s")
        .env("KAPSO_TEST_CASE_IDS", ids.join(","))
        .arg("-q")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(shard) = shard {
        cmd.env("KAPSO_SHARD", shard);
    }
    cmd.spawn().map_err(|e| format!("cannot start {}: {e}", gate.display()))
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}
