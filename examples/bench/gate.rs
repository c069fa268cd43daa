//! Locating the release `kapso-gate` binary and running it once against a simulator, timed on
//! the simulator's clock and, when asked, measured (peak RSS, CPU time).

use crate::usage;
use kapso_sim::{Scenario, Sim};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The key the simulators accept and the gate sends.
pub const KEY: &str = "kg-bench-key";
/// Hard limit for one gate process, whatever the scale: the bench always stops by itself.
const GATE_HARD_LIMIT: Duration = Duration::from_secs(600);

/// Starts a simulator; returns it with an instant just before its clock started.
pub fn start_sim(scenario: Scenario) -> (Sim, Instant) {
    // The simulator's clock starts inside `Sim::start`, just after this instant.
    let before = Instant::now();
    let sim = Sim::start(scenario);
    (sim, before)
}

/// The gate's settings for one run.
#[derive(Debug, Clone)]
pub struct GateConfig {
    pub poll_interval: Duration,
    pub rate_limit: u32,
    pub rate_window: Duration,
    pub concurrency: usize,
    pub timeout: Duration,
    /// `false` sets `KAPSO_NO_DURATION_MODEL=1`.
    pub duration_model: bool,
}

/// What one gate process did.
#[derive(Debug)]
pub struct GateRun {
    pub exit_code: i32,
    /// From spawn to exit.
    pub wall: Duration,
    /// Exit, as time since the simulator started.
    pub exit_on_sim_clock: Duration,
    /// Spawn, as time since the simulator started.
    pub spawn_on_sim_clock: Duration,
    /// Peak RSS in KiB, when measured.
    pub max_rss_kib: Option<u64>,
    /// User + system CPU seconds, when measured.
    pub cpu_secs: Option<f64>,
    pub stderr_tail: String,
}

/// Runs the gate on `case_ids` against `sim` (started at `sim_started`). With `measure`, peak
/// RSS and CPU time are measured (through /usr/bin/time when present, else by polling /proc).
pub fn run_gate(
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
    let use_time = measure && usage::time_available();

    let mut cmd = if use_time {
        usage::timed(gate, &time_out)
    } else {
        Command::new(gate)
    };
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| format!("cannot create stderr file: {e}"))?;
    configure(&mut cmd, sim, case_ids, config);
    cmd.current_dir(&work).stderr(stderr);
    let spawned = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", gate.display()))?;
    let (status, polled_rss, polled_cpu) = wait(child, spawned, measure && !use_time)?;
    let exited = Instant::now();
    let (max_rss_kib, cpu_secs) = if use_time {
        usage::parse_time_output(&std::fs::read_to_string(&time_out).unwrap_or_default())
    } else {
        (polled_rss, polled_cpu)
    };
    Ok(GateRun {
        exit_code: status.code().unwrap_or(-1),
        wall: exited - spawned,
        exit_on_sim_clock: exited.saturating_duration_since(sim_started),
        spawn_on_sim_clock: spawned.saturating_duration_since(sim_started),
        max_rss_kib,
        cpu_secs,
        stderr_tail: tail(&std::fs::read_to_string(&stderr_path).unwrap_or_default()),
    })
}

/// The gate's whole environment (nothing inherited) and its quiet, unattended streams.
fn configure(cmd: &mut Command, sim: &Sim, case_ids: &[String], config: &GateConfig) {
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
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if !config.duration_model {
        cmd.env("KAPSO_NO_DURATION_MODEL", "1");
    }
}

/// Waits for `child` (killing it past the hard limit); with `sample`, polls its peak RSS and CPU
/// time from /proc meanwhile.
fn wait(mut child: Child, spawned: Instant, sample: bool) -> Result<(ExitStatus, Option<u64>, Option<f64>), String> {
    let mut polled_rss: Option<u64> = None;
    let mut polled_cpu: Option<f64> = None;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("wait failed: {e}"))? {
            return Ok((status, polled_rss, polled_cpu));
        }
        if spawned.elapsed() > GATE_HARD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the gate ran longer than {GATE_HARD_LIMIT:?} and was killed"));
        }
        if sample {
            if let Some((rss, cpu)) = usage::proc_sample(child.id()) {
                polled_rss = Some(polled_rss.unwrap_or(0).max(rss));
                polled_cpu = Some(cpu);
            }
            std::thread::sleep(Duration::from_millis(50));
        } else {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// The last 8 lines of `text`.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// `Ok` when the gate passed every case, else what it printed last.
pub fn check_exit(run: &GateRun, what: &str) -> Result<(), String> {
    if run.exit_code == 0 {
        Ok(())
    } else {
        Err(format!(
            "{what}: the gate exited with {} instead of 0; stderr ends with:\n{}",
            run.exit_code, run.stderr_tail
        ))
    }
}
