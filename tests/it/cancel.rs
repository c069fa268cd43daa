//! Every phase can be cancelled, and the outputs agree after a write failure, end to end: a
//! signal during the suite lookup of a dry run, the pull-request comment and `--merge` ends the
//! process with 130/143 and leaves no temporary file; an event file that is a FIFO never blocks;
//! a report that fails in the middle of its write (`RLIMIT_FSIZE`) makes the terminal, the step
//! summary, the step outputs and the exit code all say "incomplete, exit 4".

use crate::support::report::{github_outputs, json_report};
use crate::support::{self, assert_code, case, gate, Finished, KEY};
use kapso_sim::github::{FakeGithub, GithubFault};
use kapso_sim::{Endpoint, Fault, FaultAction, Scenario, Sim};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// No test may take longer than this: a hang fails the test instead of blocking the suite.
const HANG: Duration = Duration::from_secs(40);
/// Catches a process that ignores a signal (the stalls it would wait on last 60 s); the target is
/// about a second on an idle machine, the bound generous for a busy one.
const PROMPTLY: Duration = Duration::from_secs(30);

fn assert_sane(out: &Finished) {
    assert!(!out.stderr.contains("panicked"), "the gate panicked\n{}", out.stderr);
}

/// The hidden temporary files the atomic writer leaves in `dir` (none, after any exit).
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with('.') && name.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo(1) runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

// ---------------------------------------------------------------------------------------------
// The pull-request comment

const TOKEN: &str = "ghs_cancelTestToken4Wq";
const REPO: &str = "acme/bot";

/// A passing gate in a GitHub Actions `pull_request` run that comments through `github`.
fn gate_on_pr(sim: &Sim, github: &FakeGithub, event: &Path, dir: &Path) -> Command {
    let mut cmd = gate(&sim.base_url());
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", event)
        .env("GITHUB_API_URL", github.api_url())
        .env("GITHUB_REPOSITORY", REPO)
        .env("KAPSO_GITHUB_TOKEN", TOKEN)
        .env("KAPSO_PR_COMMENT", "true")
        .env("KAPSO_COMMENT_DEADLINE", "60s")
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("KAPSO_JSON", dir.join("report.json"))
        .arg("ok1");
    cmd
}

fn event_file(dir: &Path) -> PathBuf {
    let path = dir.join("event.json");
    let event = json!({
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": { "sha": "0123456789abcdef0123456789abcdef01234567", "repo": { "full_name": REPO } },
            "base": { "repo": { "full_name": REPO } },
        },
    });
    std::fs::write(&path, event.to_string()).expect("writes the event");
    path
}

#[test]
fn sigterm_during_the_comment_step_exits_143_long_before_its_deadline() {
    let sim = Sim::start(Scenario::new(KEY).case(case("ok1", 0.9)));
    let github = FakeGithub::start(TOKEN);
    github.fault(GithubFault::Delay(Duration::from_secs(120)));
    let dir = support::temp_dir("cancel-comment");
    let running = support::spawn(&mut gate_on_pr(&sim, &github, &event_file(&dir), &dir));
    support::wait_until("the comment request arrives", HANG, || !github.requests().is_empty());
    let sent = Instant::now();
    running.signal("TERM");
    let out = running.finish(HANG);
    assert_sane(&out);
    assert_code(&out, 143);
    // The step's deadline is 60 s: an exit well before it was not waiting for it.
    assert!(
        sent.elapsed() < Duration::from_secs(30),
        "exited {:?} after SIGTERM",
        sent.elapsed()
    );
    assert!(out.stderr.contains("SIGTERM"), "{}", out.stderr);
    // The reports were written before the comment step and are left as they were.
    assert_eq!(json_report(&dir.join("report.json"))["verdict"], "passed");
    assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
}

#[test]
fn a_fifo_as_the_event_file_does_not_block() {
    let sim = Sim::start(Scenario::new(KEY).case(case("ok1", 0.9)));
    let github = FakeGithub::start(TOKEN);
    let dir = support::temp_dir("cancel-fifo-event");
    let fifo = dir.join("event.fifo");
    mkfifo(&fifo);
    // No writer ever opens the FIFO: a blocking open would wait forever.
    let out = support::run_within(&mut gate_on_pr(&sim, &github, &fifo, &dir), HANG);
    assert_sane(&out);
    assert_code(&out, 0);
    assert!(out.stdout.contains("pull request comment skipped"), "{}", out.stdout);
    assert!(github.requests().is_empty(), "no comment without an event");

    // The hint for a fork's missing key reads the event file too.
    let mut no_key = gate(&sim.base_url());
    no_key
        .env_remove("KAPSO_API_KEY")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &fifo)
        .arg("ok1");
    let out = support::run_within(&mut no_key, HANG);
    assert_sane(&out);
    assert_code(&out, 2);
}

// ---------------------------------------------------------------------------------------------
// Dry run and resolving the selection

#[test]
fn sigterm_in_a_dry_run_exits_143() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9).suite("s1"))
            .suite(kapso_sim::SuiteSpec::new("s1"))
            .fault(Fault::on(Endpoint::GetSuite).then(FaultAction::delay(60_000))),
    );
    let mut cmd = gate(&sim.base_url());
    cmd.args(["--suite", "s1", "--dry-run"]);
    let running = support::spawn(&mut cmd);
    support::wait_until("the suite lookup arrives", HANG, || !sim.requests().is_empty());
    let sent = Instant::now();
    running.signal("TERM");
    let out = running.finish(HANG);
    assert_sane(&out);
    assert_code(&out, 143);
    assert!(sent.elapsed() < PROMPTLY, "exited {:?} after SIGTERM", sent.elapsed());
}

#[test]
fn sigint_in_a_dry_run_while_checking_cases_exits_130() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9))
            .fault(Fault::on(Endpoint::GetCase).then(FaultAction::delay(60_000))),
    );
    let mut cmd = gate(&sim.base_url());
    cmd.args(["c1", "--dry-run"]);
    let running = support::spawn(&mut cmd);
    support::wait_until("the case lookup arrives", HANG, || !sim.requests().is_empty());
    running.signal("INT");
    let out = running.finish(HANG);
    assert_sane(&out);
    assert_code(&out, 130);
}

// ---------------------------------------------------------------------------------------------
// --merge

/// A shard report `1/1` of `cases` cases, each with `feedback_bytes` of feedback: a copy of a
/// real report's case under new IDs, so it is what the gate itself writes.
fn large_shard_report(dir: &Path, cases: usize, feedback_bytes: usize) -> PathBuf {
    let sim = Sim::start(Scenario::new(KEY).case(case("seed", 0.9)));
    let seed = dir.join("seed.json");
    let out = support::run(
        gate(&sim.base_url())
            .args(["seed", "--shard", "1/1", "--json"])
            .arg(&seed),
    );
    assert_code(&out, 0);
    let mut report = json_report(&seed);
    let template = report["cases"][0].clone();
    let feedback = "f".repeat(feedback_bytes);
    let ids: Vec<String> = (0..cases).map(|i| format!("case-{i:06}")).collect();
    let many: Vec<Value> = ids
        .iter()
        .map(|id| {
            let mut c = template.clone();
            c["test_case_id"] = json!(id);
            c["feedback"] = json!(feedback);
            c
        })
        .collect();
    report["cases"] = Value::Array(many);
    report["counts"]["total"] = json!(cases);
    report["counts"]["passed"] = json!(cases);
    report["shard"]["selected"] = json!(cases);
    let digest = kapso_gate::input::shard::selection_digest(ids.iter().map(String::as_str));
    report["shard"]["selection_digest"] = json!(digest);
    // The report is bound to its selection: the whole case list and its digest.
    report["selection"] = json!({"digest": digest, "cases": ids});
    let path = dir.join("shard-1.json");
    std::fs::write(&path, serde_json::to_vec(&report).expect("serialises")).expect("writes the shard");
    path
}

#[test]
fn sigterm_during_merge_of_a_large_report_leaves_no_temp_file() {
    let dir = support::temp_dir("cancel-merge");
    // Under the readers' 64 MiB cap, yet large enough that a signal lands mid-merge.
    let shard = large_shard_report(&dir, 3_200, 16 * 1024);
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).expect("output folder");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kapso-gate"));
    cmd.env_clear()
        .arg("--merge")
        .arg(&shard)
        .arg("--json")
        .arg(out_dir.join("merged.json"))
        .arg("--junit")
        .arg(out_dir.join("merged.xml"));
    let running = support::spawn(&mut cmd);
    // The signal lands while the merged report is being written (or, on a fast machine, just
    // after): either way the exit is 143 and no temporary file is left.
    support::wait_until("the merged report is being written", HANG, || {
        !temp_files(&out_dir).is_empty() || out_dir.join("merged.json").exists()
    });
    running.signal("TERM");
    let out = running.finish(HANG);
    assert_sane(&out);
    assert_code(&out, 143);
    assert!(
        temp_files(&out_dir).is_empty(),
        "left behind: {:?}",
        temp_files(&out_dir)
    );
}

// ---------------------------------------------------------------------------------------------
// A report that fails in the middle of its write

/// The gate with every file it creates capped at `limit` bytes (`RLIMIT_FSIZE`) and `SIGXFSZ`
/// ignored, so a write past the cap fails with `EFBIG` instead of killing the process.
fn with_file_size_limit(cmd: &mut Command, limit: u64) {
    use std::os::unix::process::CommandExt as _;
    #[expect(
        unsafe_code,
        reason = "pre_exec and setrlimit are the only way to cap a child's file size"
    )]
    // SAFETY: between fork and exec the closure calls only async-signal-safe functions
    // (`setrlimit`, `signal`) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let cap = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &cap) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
}

#[test]
fn a_report_that_fails_mid_write_makes_every_output_say_incomplete() {
    let feedback = "All good. ".repeat(2_000);
    let ids: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    let scenario = ids.iter().fold(Scenario::new(KEY), |s, id| {
        s.case(case(id, 0.9).feedback(feedback.as_str()))
    });
    let sim = Sim::start(scenario);
    let dir = support::temp_dir("cancel-fsize");
    let mut cmd = gate(&sim.base_url());
    cmd.args(&ids)
        .arg("--json")
        .arg(dir.join("report.json"))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env("GITHUB_OUTPUT", dir.join("output"));
    // The JSON report holds every feedback in full (about 400 KB); the step summary and the
    // outputs stay far below the cap.
    with_file_size_limit(&mut cmd, 200 * 1024);
    let out = support::run_within(&mut cmd, HANG);
    assert_sane(&out);
    assert_code(&out, 4);
    assert!(out.stderr.contains("could not write the JSON report"), "{}", out.stderr);
    let last = out
        .stdout
        .lines()
        .rev()
        .find(|l| l.contains("exit "))
        .unwrap_or_else(|| panic!("no verdict line\n{}", out.stdout));
    assert!(
        last.contains("kapso-gate INCOMPLETE") && last.contains("exit 4"),
        "{last}"
    );
    assert!(!out.stdout.contains("exit 0"), "{}", out.stdout);
    let outputs = github_outputs(&support::read(&dir.join("output")));
    let value = |name: &str| outputs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(value("verdict").as_deref(), Some("incomplete"), "{outputs:?}");
    assert_eq!(value("exit-code").as_deref(), Some("4"), "{outputs:?}");
    let summary = support::read(&dir.join("summary.md"));
    assert!(summary.contains("exit 4"), "{summary:.600}");
    assert!(!summary.contains("exit 0"), "{summary:.600}");
    assert!(temp_files(&dir).is_empty(), "left behind: {:?}", temp_files(&dir));
}
