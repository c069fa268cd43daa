//! Shared helpers for the end-to-end tests: run the real `kapso-gate` binary against kapso-sim
//! with a clean environment. The invariants several modules check live in submodules: `leak`
//! (the key shows nowhere), `report` (reading the JSON report, GitHub outputs, and what every
//! report surface must show), `release_server` (fake release assets on 127.0.0.1) and `sim` (the usual case and what the simulator recorded).

pub mod leak;
pub mod release_server;
pub mod report;
pub mod sim;

pub use sim::{case, count_429, max_in_any_window, posts, runs_of, RUN_MS};

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

/// Asserts the exit code, showing both streams when it differs.
pub fn assert_code(out: &Finished, code: i32) {
    assert_eq!(
        out.code, code,
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        out.stdout, out.stderr
    );
}

/// What a finished gate process left behind.
#[derive(Debug)]
pub struct Finished {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// stdout and stderr together, for searching.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs `cmd` to completion.
pub fn run(cmd: &mut Command) -> Finished {
    let output = cmd.output().expect("the kapso-gate binary runs");
    Finished {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Reads a file the gate wrote.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{} was not written: {e}", path.display()))
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "kapso-gate-test-{name}-{}-{:?}",
        std::process::id(),
        Instant::now()
    ));
    let dir = std::path::PathBuf::from(dir.to_string_lossy().replace([' ', '{', '}', ':'], "_"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A gate process running in the background (for signal tests), with its output collected by
/// reader threads so a full pipe never blocks it. Killed when dropped.
#[derive(Debug)]
pub struct Running {
    child: std::process::Child,
    stdout: Option<std::thread::JoinHandle<String>>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// Starts `cmd` in the background with stdout and stderr captured.
pub fn spawn(cmd: &mut Command) -> Running {
    use std::io::Read;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the kapso-gate binary starts");
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = child.stdout.take().map(|p| reader(Box::new(p)));
    let stderr = child.stderr.take().map(|p| reader(Box::new(p)));
    Running { child, stdout, stderr }
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`INT`, `TERM`, `KILL`) to this process only, with `kill(1)`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// Waits for the process to exit. When it is still running after `limit`, kills it and
    /// panics with what it printed: a hang is a failure, never a stuck test.
    pub fn finish(mut self, limit: Duration) -> Finished {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waits for the gate") {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let stdout = self.stdout.take().and_then(|h| h.join().ok()).unwrap_or_default();
        let stderr = self.stderr.take().and_then(|h| h.join().ok()).unwrap_or_default();
        let Some(status) = status else {
            panic!("kapso-gate did not exit within {limit:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
        };
        Finished {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd` to completion, failing (instead of hanging) when it takes longer than `limit`.
pub fn run_within(cmd: &mut Command, limit: Duration) -> Finished {
    spawn(cmd).finish(limit)
}

/// Polls `condition` every 10 ms until it holds; panics with `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
