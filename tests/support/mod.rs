//! Shared helpers for the end-to-end tests: run the real `kapso-gate` binary against kapso-sim
//! with a clean environment.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A distinctive key, so leak checks can search every output for it.
pub const KEY: &str = "kg-test-key-7Qx9Zt3";

/// The gate binary with an empty environment (no proxies, no GitHub variables, no colour
/// decisions inherited from the developer's shell), the key, the simulator's URL and fast polling.
pub fn gate(base_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kapso-gate"));
    cmd.env_clear()
        .env("KAPSO_API_KEY", KEY)
        .env("KAPSO_BASE_URL", base_url)
        .env("KAPSO_POLL_INTERVAL", "100ms")
        .env("KAPSO_TIMEOUT", "60s")
        .stdin(Stdio::null());
    cmd
}

/// What a finished gate process left behind.
#[derive(Debug)]
pub struct Finished {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Finished {
    /// stdout and stderr together, for searching.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs `cmd` to completion.
pub fn run(cmd: &mut Command) -> Finished {
    let started = Instant::now();
    let output = cmd.output().expect("the kapso-gate binary runs");
    Finished {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// Reads a file the gate wrote.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{} was not written: {e}", path.display()))
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kapso-gate-test-{name}-{}-{:?}", std::process::id(), Instant::now()));
    let dir = std::path::PathBuf::from(dir.to_string_lossy().replace([' ', '{', '}', ':'], "_"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
