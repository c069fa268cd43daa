//! The benchmark of issue 3: drives the real `kapso-gate` binary against kapso-sim (started in
//! this process on 127.0.0.1) and prints, per scenario, the median figures next to their bound
//! or target.
//!
//! ```text
//! cargo run --release --example bench                      # scenarios 1-3, 3 runs each
//! cargo run --release --example bench -- --scenario 4      # duration model A/B, ~10 min
//! cargo run --release --example bench -- --scenario 2 --runs 5 --scale 1
//! ```
//!
//! Options: `--runs N` (default 3), `--scenario 1|2|3|4` (repeatable; default 1, 2 and 3:
//! scenario 4 is opt-in because it takes about 10 minutes), `--scale F` (multiplies every
//! simulated duration, the rate window and the poll interval alike; default 1 for scenarios 1
//! and 3, 0.25 for scenarios 2 and 4), `--no-build` (do not run
//! `cargo build --release --bin kapso-gate` first).
//!
//! Scenarios (issue 3):
//! 1. 20 cases, runs of 3 to 8 s, no rate limit, poll interval 1 s: overhead (gate exit minus
//!    the moment the last run finished, on the simulator's clock) and requests per case against
//!    2 + ceil(duration / interval).
//! 2. 60 cases, 10 s runs, the simulator enforcing 100 requests a minute, poll interval 2 s:
//!    wall time against the lower bound, and the 429 responses.
//! 3. 1000 cases, 1 to 3 s runs, no rate limit, concurrency 32, poll interval 1 s: wall time,
//!    peak RSS and CPU time of the gate process.
//! 4. "Waves", an A/B test of the duration model (the first poll of a run created once 3 runs
//!    have finished waits for the shortest run seen): 250 cases, runs of 40 to 50 s, gate and
//!    simulator limit 100 requests a minute, poll interval 5 s, concurrency 8, each seed run
//!    with the model on and off (`KAPSO_NO_DURATION_MODEL=1`): wall time, requests, polls of
//!    unfinished runs, 429s, against the lower bound. Creations always go before polls, so
//!    every run is created before the first poll and the model has nothing to act on; the
//!    variant 4b, chosen to favour it, refuses half the cases once with 503 and
//!    `Retry-After: 60 s` under a 1200/min budget, so that a second wave is created after the
//!    first has finished.

use kapso_sim::{CaseSpec, Endpoint, Fault, FaultAction, RunRecord, Scenario, Sim};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "kg-bench-key";
/// Hard limit for one gate process, whatever the scale: the bench always stops by itself.
const GATE_HARD_LIMIT: Duration = Duration::from_secs(600);

#[derive(Debug)]
struct Options {
    runs: usize,
    scenarios: Vec<u8>,
    scale: Option<f64>,
    build: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        runs: 3,
        scenarios: Vec::new(),
        scale: None,
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
                    .filter(|n| (1..=50).contains(n))
                    .ok_or("--runs takes a number from 1 to 50")?;
            }
            "--scenario" => {
                let n: u8 = value("--scenario")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=4).contains(n))
                    .ok_or("--scenario takes 1, 2, 3 or 4")?;
                options.scenarios.push(n);
            }
            "--scale" => {
                let scale: f64 = value("--scale")?
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && (0.01..=10.0).contains(s))
                    .ok_or("--scale takes a number from 0.01 to 10")?;
                options.scale = Some(scale);
            }
            "--no-build" => options.build = false,
            "-h" | "--help" => {
                println!("usage: cargo run --release --example bench -- [--runs N] [--scenario 1|2|3|4]... [--scale F] [--no-build]");
                println!("  default: scenarios 1, 2 and 3; scenario 4 (duration model on/off, about 10 minutes at --runs 3) only when asked for");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if options.scenarios.is_empty() {
        options.scenarios = vec![1, 2, 3];
    }
    options.scenarios.dedup();
    Ok(options)
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("bench: {message}");
            std::process::exit(2);
        }
    };
    let gate = match locate_gate(options.build) {
        Ok(gate) => gate,
        Err(message) => {
            eprintln!("bench: {message}");
            std::process::exit(2);
        }
    };
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "kapso-gate benchmark: {} ({} cores), {} run(s) per scenario, medians",
        gate.display(),
        cores,
        options.runs
    );
    println!(
        "time measurement: {}",
        if time_available() {
            "/usr/bin/time"
        } else {
            "/proc polling"
        }
    );

    let mut rows: Vec<Row> = Vec::new();
    for scenario in &options.scenarios {
        let result = match scenario {
            1 => scenario_1(&gate, &options),
            2 => scenario_2(&gate, &options),
            3 => scenario_3(&gate, &options),
            _ => scenario_4(&gate, &options),
        };
        match result {
            Ok(mut r) => rows.append(&mut r),
            Err(message) => {
                eprintln!("bench: scenario {scenario} failed: {message}");
                std::process::exit(1);
            }
        }
    }

    println!();
    println!("README table (medians of {} runs, {} cores):", options.runs, cores);
    println!();
    println!("| scenario | figure | median | bound / target | result |");
    println!("| --- | --- | --- | --- | --- |");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            row.scenario,
            row.figure,
            row.value,
            row.target,
            if row.pass { "PASS" } else { "MISS" }
        );
    }
    let misses = rows.iter().filter(|r| !r.pass).count();
    println!();
    println!("{} of {} targets met", rows.len() - misses, rows.len());
}

/// One line of the summary.
#[derive(Debug)]
struct Row {
    scenario: String,
    figure: &'static str,
    value: String,
    target: String,
    pass: bool,
}

fn row(scenario: &str, figure: &'static str, value: String, target: String, pass: bool) -> Row {
    println!(
        "  {figure:<28} {value:>14}   {target:<36} {}",
        if pass { "PASS" } else { "MISS" }
    );
    Row {
        scenario: scenario.to_owned(),
        figure,
        value,
        target,
        pass,
    }
}

// ---------------------------------------------------------------------------------------------
// Locating and running the gate

fn locate_gate(build: bool) -> Result<PathBuf, String> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    if build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        eprintln!("bench: cargo build --release --bin kapso-gate");
        let status = Command::new(cargo)
            .args(["build", "--release", "--bin", "kapso-gate"])
            .current_dir(manifest_dir)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("`cargo build --release --bin kapso-gate` failed".into());
        }
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate the bench executable: {e}"))?;
    // target/release/examples/bench -> target/release/kapso-gate
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate the target directory")?;
    let gate = dir.join(format!("kapso-gate{}", std::env::consts::EXE_SUFFIX));
    if gate.is_file() {
        Ok(gate)
    } else {
        Err(format!(
            "{} is missing: run `cargo build --release` first (or drop --no-build)",
            gate.display()
        ))
    }
}

fn time_available() -> bool {
    Path::new("/usr/bin/time").is_file()
        && Command::new("/usr/bin/time")
            .args(["-f", "%M", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// The gate's settings for one run.
#[derive(Debug, Clone)]
struct GateConfig {
    poll_interval: Duration,
    rate_limit: u32,
    rate_window: Duration,
    concurrency: usize,
    timeout: Duration,
    /// `false` sets `KAPSO_NO_DURATION_MODEL=1`.
    duration_model: bool,
}

/// What one gate process did.
#[derive(Debug)]
struct GateRun {
    exit_code: i32,
    /// From spawn to exit.
    wall: Duration,
    /// Exit, as time since the simulator started.
    exit_on_sim_clock: Duration,
    /// Spawn, as time since the simulator started.
    spawn_on_sim_clock: Duration,
    /// Peak RSS in KiB, when measured.
    max_rss_kib: Option<u64>,
    /// User + system CPU seconds, when measured.
    cpu_secs: Option<f64>,
    stderr_tail: String,
}

/// Runs the gate on `case_ids` against `sim` (started at `sim_started`). With `measure`, peak
/// RSS and CPU time are measured (through /usr/bin/time when present, else by polling /proc).
fn run_gate(
    gate: &Path,
    sim: &Sim,
    sim_started: Instant,
    case_ids: &[String],
    config: &GateConfig,
    measure: bool,
) -> Result<GateRun, String> {
    let work = std::env::temp_dir().join(format!("kapso-gate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let time_out = work.join("time.txt");
    let stderr_path = work.join("stderr.txt");
    let _ = std::fs::remove_file(&time_out);
    let use_time = measure && time_available();

    let mut cmd = if use_time {
        let mut cmd = Command::new("/usr/bin/time");
        cmd.arg("-o").arg(&time_out).args(["-f", "%M %U %S"]).arg(gate);
        cmd
    } else {
        Command::new(gate)
    };
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| format!("cannot create stderr file: {e}"))?;
    cmd.env_clear()
        .env("KAPSO_API_KEY", KEY)
        .env("KAPSO_BASE_URL", sim.base_url())
        .env("KAPSO_POLL_INTERVAL", format!("{}ms", config.poll_interval.as_millis()))
        .env("KAPSO_RATE_LIMIT", config.rate_limit.to_string())
        .env("KAPSO_RATE_WINDOW", format!("{}ms", config.rate_window.as_millis()))
        .env("KAPSO_CONCURRENCY", config.concurrency.to_string())
        .env("KAPSO_TIMEOUT", format!("{}ms", config.timeout.as_millis()))
        .env("KAPSO_TEST_CASE_IDS", case_ids.join(","))
        .arg("--quiet")
        .current_dir(&work)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);

    if !config.duration_model {
        cmd.env("KAPSO_NO_DURATION_MODEL", "1");
    }
    let spawned = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", gate.display()))?;
    let mut polled_rss: Option<u64> = None;
    let mut polled_cpu: Option<f64> = None;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("wait failed: {e}"))? {
            break status;
        }
        if spawned.elapsed() > GATE_HARD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the gate ran longer than {GATE_HARD_LIMIT:?} and was killed"));
        }
        if measure && !use_time {
            if let Some((rss, cpu)) = proc_sample(child.id()) {
                polled_rss = Some(polled_rss.unwrap_or(0).max(rss));
                polled_cpu = Some(cpu);
            }
            std::thread::sleep(Duration::from_millis(50));
        } else {
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    let exited = Instant::now();
    let (max_rss_kib, cpu_secs) = if use_time {
        parse_time_output(&std::fs::read_to_string(&time_out).unwrap_or_default())
    } else {
        (polled_rss, polled_cpu)
    };
    let stderr_text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let stderr_tail: String = stderr_text
        .lines()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    Ok(GateRun {
        exit_code: status.code().unwrap_or(-1),
        wall: exited - spawned,
        exit_on_sim_clock: exited.saturating_duration_since(sim_started),
        spawn_on_sim_clock: spawned.saturating_duration_since(sim_started),
        max_rss_kib,
        cpu_secs,
        stderr_tail,
    })
}

/// `%M %U %S` as /usr/bin/time writes it (possibly after a "Command exited with" line).
fn parse_time_output(text: &str) -> (Option<u64>, Option<f64>) {
    let Some(line) = text.lines().rev().find(|l| !l.trim().is_empty()) else {
        return (None, None);
    };
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields.as_slice() {
        [rss, user, sys] => {
            let rss = rss.parse().ok();
            let cpu = user
                .parse::<f64>()
                .ok()
                .zip(sys.parse::<f64>().ok())
                .map(|(u, s)| u + s);
            (rss, cpu)
        }
        _ => (None, None),
    }
}

/// VmHWM (KiB) and utime + stime (seconds, assuming 100 clock ticks per second) of `pid`.
fn proc_sample(pid: u32) -> Option<(u64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the full line, 12 and 13 after "pid (comm) ".
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((hwm, (utime + stime) / 100.0))
}

fn start_sim(scenario: Scenario) -> (Sim, Instant) {
    // The simulator's clock starts inside `Sim::start`, just after this instant.
    let before = Instant::now();
    let sim = Sim::start(scenario);
    (sim, before)
}

fn scaled(ms: f64, scale: f64) -> Duration {
    Duration::from_secs_f64(ms * scale / 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn check_exit(run: &GateRun, what: &str) -> Result<(), String> {
    if run.exit_code == 0 {
        Ok(())
    } else {
        Err(format!(
            "{what}: the gate exited with {} instead of 0; stderr ends with:\n{}",
            run.exit_code, run.stderr_tail
        ))
    }
}

fn last_finish(runs: &[RunRecord]) -> Duration {
    runs.iter().filter_map(|r| r.finishes_at).max().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Scenario 1

fn scenario_1(gate: &Path, options: &Options) -> Result<Vec<Row>, String> {
    const CASES: usize = 20;
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
    let (mut overheads, mut walls, mut per_case, mut bounds, mut over_bound, mut after_finished) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for attempt in 1..=options.runs {
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
        let run = run_gate(gate, &sim, started, &ids, &config, false)?;
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
        overheads.push(overhead.as_secs_f64());
        walls.push(run.wall.as_secs_f64());
        per_case.push(rpc);
        bounds.push(mean_bound);
        over_bound.push(exceeding as f64);
        after_finished.push(stale as f64);
    }
    let overhead = median(&mut overheads);
    let overhead_target = interval.as_secs_f64() + 0.3 * scale;
    let per_case = median(&mut per_case);
    let bound = median(&mut bounds);
    let over_bound = median(&mut over_bound);
    let s = "1";
    Ok(vec![
        row(
            s,
            "wall time",
            format!("{:.2} s", median(&mut walls)),
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
            format!("{}", median(&mut after_finished)),
            "0".into(),
            true,
        ),
    ])
}

/// A small deterministic generator, so every bench run sees reproducible durations.
#[derive(Debug)]
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        let mut rng = Self(seed.max(1));
        // Nearby seeds start alike; a few rounds decorrelate them.
        for _ in 0..8 {
            rng.next_unit();
        }
        rng
    }

    /// Uniform in [0, 1].
    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / ((1u64 << 53) - 1) as f64
    }
}

/// 2 + ceil(duration / interval).
fn request_bound(duration: Duration, interval: Duration) -> usize {
    2 + duration.as_nanos().div_ceil(interval.as_nanos()) as usize
}

// ---------------------------------------------------------------------------------------------
// Scenario 2

fn scenario_2(gate: &Path, options: &Options) -> Result<Vec<Row>, String> {
    const CASES: usize = 60;
    const LIMIT: u32 = 100;
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
    // At least one POST and one finishing GET per case; under a sliding window of LIMIT per
    // `window`, request k (1-based) goes no sooner than floor((k - 1) / LIMIT) windows.
    let needed = 2 * CASES;
    let budget_bound = window.mul_f64(((needed - 1) / LIMIT as usize) as f64);
    let lower_bound = budget_bound.max(duration);
    println!(
        "  lower bound: max(longest run {}, request {needed} under {LIMIT}/{} at {}) = {}",
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
    let (mut walls, mut limited, mut totals, mut wasted, mut stale_polls) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for attempt in 1..=options.runs {
        let ids: Vec<String> = (0..CASES).map(|i| format!("s2-case-{i:02}")).collect();
        let mut scenario = Scenario::new(KEY).rate_limit(LIMIT, window.as_millis() as u64);
        for id in &ids {
            scenario = scenario.case(CaseSpec::passing(id.clone(), 0.9).duration_ms(duration.as_millis() as u64));
        }
        let (sim, started) = start_sim(scenario);
        let run = run_gate(gate, &sim, started, &ids, &config, false)?;
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
        walls.push(run.wall.as_secs_f64());
        limited.push(too_many as f64);
        totals.push(requests.len() as f64);
        wasted.push(early_polls as f64);
        stale_polls.push(stale as f64);
    }
    let wall = median(&mut walls);
    let limited = median(&mut limited);
    let bound = lower_bound.as_secs_f64();
    let s = "2";
    Ok(vec![
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
            format!("{}", median(&mut totals)),
            format!(">= {needed}"),
            true,
        ),
        row(
            s,
            "polls of unfinished runs",
            format!("{}", median(&mut wasted)),
            "(fewer is better)".into(),
            true,
        ),
        row(
            s,
            "polls after finished seen",
            format!("{}", median(&mut stale_polls)),
            "0".into(),
            true,
        ),
    ])
}

// ---------------------------------------------------------------------------------------------
// Scenario 3

fn scenario_3(gate: &Path, options: &Options) -> Result<Vec<Row>, String> {
    const CASES: usize = 1000;
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
    let (mut walls, mut rss, mut cpu, mut verdicts, mut totals) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for attempt in 1..=options.runs {
        let ids: Vec<String> = (0..CASES).map(|i| format!("s3-case-{i:04}")).collect();
        let mut scenario = Scenario::new(KEY);
        for (i, id) in ids.iter().enumerate() {
            // 1 to 3 s, spread evenly (a fixed pattern, so every run sees the same load).
            let ms = 1000.0 + 2000.0 * ((i * 37) % CASES) as f64 / (CASES - 1) as f64;
            scenario =
                scenario.case(CaseSpec::passing(id.clone(), 0.9).duration_ms(scaled(ms, scale).as_millis() as u64));
        }
        let (sim, started) = start_sim(scenario);
        let run = run_gate(gate, &sim, started, &ids, &config, true)?;
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
        walls.push(run.wall.as_secs_f64());
        rss.push(rss_mib);
        cpu.push(cpu_secs);
        verdicts.push(decided as f64);
        totals.push(requests.len() as f64);
    }
    let rss = median(&mut rss);
    let cpu = median(&mut cpu);
    let verdicts = median(&mut verdicts);
    let s = "3";
    Ok(vec![
        row(
            s,
            "wall time",
            format!("{:.2} s", median(&mut walls)),
            "(runs last 1-3 s)".into(),
            true,
        ),
        row(
            s,
            "requests",
            format!("{}", median(&mut totals)),
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
    ])
}

// ---------------------------------------------------------------------------------------------
// Scenario 4

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

fn scenario_4(gate: &Path, options: &Options) -> Result<Vec<Row>, String> {
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
    let med = |runs: &[WavesRun], field: fn(&WavesRun) -> f64| median(&mut runs.iter().map(field).collect::<Vec<_>>());
    let (wall_on, wall_off) = (med(&on, |r| r.wall), med(&off, |r| r.wall));
    let (req_on, req_off) = (med(&on, |r| r.requests), med(&off, |r| r.requests));
    let (wasted_on, wasted_off) = (med(&on, |r| r.wasted), med(&off, |r| r.wasted));
    let (limited_on, limited_off) = (med(&on, |r| r.limited), med(&off, |r| r.limited));
    let (eligible_on, bound) = (med(&on, |r| r.eligible), med(&on, |r| r.bound));
    // Per-seed differences, so that a small but consistent effect is not lost in the spread.
    let wall_gains: Vec<f64> = on.iter().zip(&off).map(|(a, b)| b.wall - a.wall).collect();
    let spread = {
        let mut walls: Vec<f64> = off.iter().map(|r| r.wall).collect();
        walls.sort_by(f64::total_cmp);
        walls.last().copied().unwrap_or(0.0) - walls.first().copied().unwrap_or(0.0)
    };
    let wall_ratio = wall_on / wall_off;
    let wasted_ratio = if wasted_off > 0.0 { wasted_on / wasted_off } else { 1.0 };
    println!(
        "  medians: model on / off: wall {wall_on:.2} s / {wall_off:.2} s (bound {bound:.2} s), requests {req_on} / {req_off}, polls of unfinished runs {wasted_on} / {wasted_off}, 429 {limited_on} / {limited_off}"
    );
    // Measurable: at least 3 % of the wall time and more than the spread between seeds, or at
    // least 10 % (and 5) fewer polls of unfinished runs.
    let wall_helps = wall_ratio <= 0.97 && wall_off - wall_on > spread.max(0.0) && wall_gains.iter().all(|g| *g > 0.0);
    let polls_help = wasted_off - wasted_on >= (0.1 * wasted_off).max(5.0);
    let verdict = match (wall_helps, polls_help) {
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
    };
    println!(
        "  verdict: {verdict}; on/off: wall {wall_ratio:.3}, polls of unfinished runs {wasted_ratio:.3}, requests {:.3}",
        req_on / req_off
    );
    let s = setup.name;
    Ok(vec![
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
    ])
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
    let retry_after = retry_after_secs(setup.delay_ms, scale);
    for id in ids.iter().skip(cases - setup.delayed.min(cases)) {
        scenario = scenario.fault(
            Fault::on(Endpoint::CreateRun)
                .case(id.clone())
                .then(FaultAction::status_with(
                    503,
                    "{}",
                    &[("Retry-After", &retry_after.to_string())],
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
    // When each run was first seen finished: its first answered GET at or after its finish.
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
    let eligible = seen
        .get(2)
        .map_or(0, |third| runs.iter().filter(|r| r.created_at > *third).count());
    // Lookups (none: the cases are given by ID) and 2 requests per case under the sliding
    // window; the last wave of creations plus the shortest run; the longest run.
    let batches = |requests: usize| ((requests - 1) / limit as usize) as f64;
    let shortest = durations.iter().min().copied().unwrap_or_default();
    let longest = durations.iter().max().copied().unwrap_or_default();
    // A delayed case is created no sooner than its Retry-After.
    let delayed_longest = durations[cases - setup.delayed.min(cases)..]
        .iter()
        .max()
        .map_or(Duration::ZERO, |d| Duration::from_secs(retry_after) + *d);
    let bound = window
        .mul_f64(batches(2 * cases + setup.delayed))
        .max(window.mul_f64(batches(cases)) + shortest)
        .max(longest)
        .max(delayed_longest);
    Ok(WavesRun {
        wall: run.wall.as_secs_f64(),
        requests: requests.len() as f64,
        wasted: wasted as f64,
        limited: limited as f64,
        bound: bound.as_secs_f64(),
        eligible: eligible as f64,
    })
}

/// `Retry-After` in whole seconds (at least 1) for `ms` before scaling.
fn retry_after_secs(ms: f64, scale: f64) -> u64 {
    (ms * scale / 1000.0).ceil().max(1.0) as u64
}
