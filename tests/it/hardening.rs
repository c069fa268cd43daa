//! Hardening, end to end: the real `kapso-gate` binary against kapso-sim when the CI job is
//! cancelled, re-run with a state file, redirected, answered by a hostile server, or sent through
//! a proxy, and with a distinctive key that must show in no output, report or state file.

use crate::support;
use crate::support::leak::{assert_no_secret, assert_no_secret_in_files, assert_no_secret_in_output, AddMask};
use crate::support::report::{json_case, json_report, reason_of};
use crate::support::{assert_code, case, posts, Finished, KEY, RUN_MS};
use kapso_sim::{CaseSpec, Endpoint, Fault, FaultAction, ForwardProxy, Scenario, Sim};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// No test may take longer than this: a hang fails the test instead of blocking the suite.
/// It is also the only time bound: where a test is about not waiting (a signal, a slow
/// response), what it must not wait for lasts far longer (ten minutes), so a busy machine can
/// never miss it, and the exit code and request counts say which phase ended the process.
const HANG: Duration = Duration::from_secs(40);
/// A delay the gate must never wait out: far beyond [`HANG`].
const FOREVER_MS: u64 = 600_000;

fn run_id_of(sim: &Sim, case_id: &str) -> String {
    let runs: Vec<_> = sim.runs().into_iter().filter(|r| r.case_id == case_id).collect();
    assert_eq!(runs.len(), 1, "runs of {case_id}: {runs:?}");
    runs[0].id.clone()
}

/// What holds after every invocation: no panic, no key.
fn assert_sane(out: &Finished) {
    assert!(
        !out.stderr.contains("panicked"),
        "the gate panicked\n--- stderr\n{}",
        out.stderr
    );
    assert_no_secret_in_output(out, KEY, AddMask::Allowed);
}

fn run(cmd: &mut Command) -> Finished {
    let out = support::run_within(cmd, HANG);
    assert_sane(&out);
    out
}

/// Waits until every case has a run and the gate has polled each at least once (so it holds
/// every run ID).
fn wait_for_polled_runs(sim: &Sim, cases: usize) {
    support::wait_until("every run is created and polled", Duration::from_secs(20), || {
        let runs = sim.runs();
        runs.len() == cases && runs.iter().all(|r| r.polls >= 1)
    });
}

// ---------------------------------------------------------------------------------------------
// Cancellation

fn stuck_scenario(ids: &[&str]) -> Scenario {
    ids.iter()
        .fold(Scenario::new(KEY), |s, id| s.case(CaseSpec::new(*id).never_finishes()))
}

/// Starts the gate on three never-finishing cases, waits until it polls them, sends `signals`
/// and returns what it left behind.
fn cancel_with(signals: &[&str], dir: &Path) -> (Sim, Finished) {
    let sim = Sim::start(stuck_scenario(&["c1", "c2", "c3"]));
    let mut cmd = support::gate(&sim.base_url());
    cmd.args(["c1", "c2", "c3", "--json"])
        .arg(dir.join("report.json"))
        .arg("--junit")
        .arg(dir.join("junit.xml"))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env("GITHUB_OUTPUT", dir.join("outputs.txt"));
    let gate = support::spawn(&mut cmd);
    wait_for_polled_runs(&sim, 3);
    for signal in signals {
        gate.signal(signal);
    }
    // The runs never finish: without the signal the gate would wait for its 60 s deadline and
    // exit 4, so exit 130/143 within HANG says the signal ended it.
    let out = gate.finish(HANG);
    assert_sane(&out);
    (sim, out)
}

/// The `<system-out>` text of a JUnit test case, where the case's values are.
fn system_out<'a>(testcase: &roxmltree::Node<'a, 'a>) -> &'a str {
    testcase
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .and_then(|n| n.text())
        .unwrap_or_default()
}

fn assert_cancelled_reports(sim: &Sim, out: &Finished, dir: &Path, verdict: &str, code: i64) {
    let report = json_report(&dir.join("report.json"));
    assert_eq!(report["verdict"], verdict, "{report:#}");
    assert_eq!(report["exit_code"], code, "{report:#}");
    let junit = support::read(&dir.join("junit.xml"));
    let doc = roxmltree::Document::parse(&junit).unwrap_or_else(|e| panic!("JUnit is not XML: {e}\n{junit}"));
    for id in ["c1", "c2", "c3"] {
        let run_id = run_id_of(sim, id);
        let case = json_case(&report, id);
        assert_eq!(case["status"], "cancelled", "{case:#}");
        assert_eq!(case["run_id"], run_id.as_str(), "{case:#}");
        assert_eq!(case["trials"][0]["status"], "cancelled", "{case:#}");
        assert_eq!(case["trials"][0]["run_id"], run_id.as_str(), "{case:#}");
        let testcase = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .find(|n| system_out(n).starts_with(&format!("test_case_id: {id}\n")))
            .unwrap_or_else(|| panic!("no JUnit testcase for {id}\n{junit}"));
        let error = testcase
            .children()
            .find(|n| n.has_tag_name("error"))
            .unwrap_or_else(|| panic!("the JUnit testcase of {id} has no <error>\n{junit}"));
        assert_eq!(error.attribute("type"), Some("cancelled"), "{junit}");
        assert!(
            system_out(&testcase).contains(&format!("\nrun_id: {run_id}\n")),
            "the JUnit testcase of {id} lacks its run ID {run_id}\n{junit}"
        );
        assert!(
            out.stdout.contains(&run_id),
            "stdout does not name the run {run_id} still executing\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains("Still executing on Kapso"),
        "stdout says which runs are still executing\n{}",
        out.stdout
    );
    assert_eq!(posts(sim).len(), 3, "no run is created twice");
}

/// The GitHub files are written on the cancel path too: the verdict output and the summary.
#[test]
fn a_cancelled_gate_still_writes_the_github_outputs_and_summary() {
    let dir = support::temp_dir("cancel-github");
    let (_sim, out) = cancel_with(&["INT"], &dir);
    assert_code(&out, 130);
    let outputs = support::read(&dir.join("outputs.txt"));
    assert!(
        outputs.contains("\ninterrupted\n") && outputs.contains("\n3\n"),
        "{outputs}"
    );
    let summary = support::read(&dir.join("summary.md"));
    assert!(summary.matches("cancelled").count() >= 3, "{summary}");
}

#[test]
fn sigint_mid_run_exits_130_promptly_with_every_case_cancelled() {
    let dir = support::temp_dir("sigint");
    let (sim, out) = cancel_with(&["INT"], &dir);
    assert_code(&out, 130);
    assert_cancelled_reports(&sim, &out, &dir, "interrupted", 130);
}

#[test]
fn sigterm_mid_run_exits_143_with_every_case_cancelled() {
    let dir = support::temp_dir("sigterm");
    let (sim, out) = cancel_with(&["TERM"], &dir);
    assert_code(&out, 143);
    assert_cancelled_reports(&sim, &out, &dir, "terminated", 143);
}

#[test]
fn a_second_signal_still_ends_the_process_promptly() {
    let dir = support::temp_dir("second-signal");
    // GitHub sends SIGINT, then SIGTERM.
    let (_sim, out) = cancel_with(&["INT", "TERM"], &dir);
    assert_code(&out, 130);
}

#[test]
fn sigint_while_a_creation_is_in_flight_aborts_it() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(CaseSpec::new("slow").never_finishes())
            .fault(Fault::on(Endpoint::CreateRun).then(FaultAction::delay(FOREVER_MS))),
    );
    let dir = support::temp_dir("sigint-creating");
    let mut cmd = support::gate(&sim.base_url());
    cmd.args(["slow", "--json"]).arg(dir.join("report.json"));
    let gate = support::spawn(&mut cmd);
    support::wait_until("the POST arrives", Duration::from_secs(20), || !posts(&sim).is_empty());
    gate.signal("INT");
    // The POST is answered after ten minutes: exiting within HANG means it was aborted.
    let out = gate.finish(HANG);
    assert_sane(&out);
    assert_code(&out, 130);
    let report = json_report(&dir.join("report.json"));
    assert_eq!(json_case(&report, "slow")["status"], "cancelled", "{report:#}");
    assert!(
        reason_of(&report, "slow").contains("may have created it"),
        "the reason says Kapso may have created the run\n{report:#}"
    );
}

#[test]
fn sigterm_while_resolving_a_suite_exits_143_promptly() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9).suite("s1"))
            .suite(kapso_sim::SuiteSpec::new("s1"))
            .fault(Fault::on(Endpoint::GetSuite).then(FaultAction::delay(FOREVER_MS))),
    );
    let mut cmd = support::gate(&sim.base_url());
    cmd.args(["--suite", "s1"]);
    let gate = support::spawn(&mut cmd);
    support::wait_until("the suite lookup arrives", Duration::from_secs(20), || {
        !sim.requests().is_empty()
    });
    gate.signal("TERM");
    // The suite is answered after ten minutes: exiting within HANG means the lookup was dropped.
    let out = gate.finish(HANG);
    assert_sane(&out);
    assert_code(&out, 143);
    assert!(posts(&sim).is_empty(), "no run is created after the signal");
}

// ---------------------------------------------------------------------------------------------
// Re-attach

fn state_json(path: &Path) -> Value {
    let text = support::read(path);
    assert_no_secret(&text, KEY, "the state file", AddMask::Allowed);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the state file is not JSON: {e}\n{text}"))
}

/// Starts the gate with a state file, waits until every run is created and polled, then sends
/// `signal`. Returns the run IDs by case.
fn first_invocation(sim: &Sim, state: &Path, cases: &[&str], signal: &str) -> Finished {
    let mut cmd = support::gate(&sim.base_url());
    cmd.args(cases).arg("--state-file").arg(state);
    let gate = support::spawn(&mut cmd);
    wait_for_polled_runs(sim, cases.len());
    gate.signal(signal);
    let out = gate.finish(HANG);
    assert_sane(&out);
    out
}

#[test]
fn a_rerun_with_the_state_file_reattaches_instead_of_creating_runs() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(CaseSpec::passing("c1", 0.9).duration_ms(1_500))
            .case(CaseSpec::passing("c2", 0.95).duration_ms(1_500))
            .case(case("c3", 0.85)),
    );
    let dir = support::temp_dir("reattach");
    let state = dir.join("state.json");

    let first = first_invocation(&sim, &state, &["c1", "c2"], "TERM");
    assert_code(&first, 143);
    let recorded = state_json(&state);
    let ids = [run_id_of(&sim, "c1"), run_id_of(&sim, "c2")];
    let text = support::read(&state);
    for id in &ids {
        assert!(
            text.contains(id.as_str()),
            "the state file lacks run {id}\n{recorded:#}"
        );
    }

    // The CI job is re-run: same selection, same file.
    let report_path = dir.join("second.json");
    let second = run(support::gate(&sim.base_url())
        .args(["c1", "c2", "--json"])
        .arg(&report_path)
        .arg("--state-file")
        .arg(&state));
    assert_code(&second, 0);
    assert_eq!(
        posts(&sim).len(),
        2,
        "the re-run created no run\n{}",
        second.all_output()
    );
    let report = json_report(&report_path);
    assert_eq!(json_case(&report, "c1")["run_id"], ids[0].as_str(), "{report:#}");
    assert_eq!(json_case(&report, "c2")["run_id"], ids[1].as_str(), "{report:#}");
    assert!(
        !second.stderr.contains("warning:"),
        "nothing changed, so nothing to explain\n{}",
        second.stderr
    );

    rerun_after_changes(&sim, &state);
}

/// Re-runs with the state file after the selection and then the threshold changed: each change
/// is explained, and only the added case gets a run.
fn rerun_after_changes(sim: &Sim, state: &Path) {
    // A case is added: the others are re-used, only the new one is created.
    let third = run(support::gate(&sim.base_url())
        .args(["c1", "c2", "c3"])
        .arg("--state-file")
        .arg(state));
    assert_code(&third, 0);
    let posted: Vec<String> = posts(sim).into_iter().map(|r| r.path).collect();
    assert_eq!(posted.len(), 3, "only the added case got a run: {posted:?}");
    assert!(posted[2].contains("/test_cases/c3/"), "{posted:?}");
    let warning = third
        .stderr
        .lines()
        .find(|l| l.starts_with("warning:") && l.contains("selection"))
        .unwrap_or_else(|| panic!("the changed selection is not explained\n{}", third.stderr));
    assert!(
        warning.contains("1 cases added") || warning.contains("added"),
        "{warning}"
    );
    let recorded = state_json(state);
    assert_eq!(
        recorded["runs"].as_array().map(Vec::len),
        Some(3),
        "the state file records the new run too\n{recorded:#}"
    );

    // The threshold changes: explained, and still no new run.
    let fourth = run(support::gate(&sim.base_url())
        .args(["c1", "c2", "c3", "--threshold", "0.5"])
        .arg("--state-file")
        .arg(state));
    assert_code(&fourth, 0);
    assert_eq!(posts(sim).len(), 3, "{}", fourth.all_output());
    assert!(
        fourth
            .stderr
            .lines()
            .any(|l| l.starts_with("warning:") && l.contains("threshold") && l.contains("0.5")),
        "the changed threshold is not explained\n{}",
        fourth.stderr
    );
    state_json(state);
}

/// Runs are recorded per case and trial: a re-run with `--trials 2` re-attaches to both trials
/// of every case and creates nothing.
#[test]
fn every_trial_is_reattached() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(CaseSpec::passing("t1", 0.9).duration_ms(1_500))
            .case(CaseSpec::passing("t2", 0.9).duration_ms(1_500)),
    );
    let state = support::temp_dir("reattach-trials").join("state.json");
    let mut cmd = support::gate(&sim.base_url());
    cmd.args(["t1", "t2", "--trials", "2", "--state-file"]).arg(&state);
    let gate = support::spawn(&mut cmd);
    wait_for_polled_runs(&sim, 4);
    gate.signal("TERM");
    assert_code(&gate.finish(HANG), 143);

    let again = run(support::gate(&sim.base_url())
        .args(["t1", "t2", "--trials", "2", "--state-file"])
        .arg(&state));
    assert_code(&again, 0);
    assert_eq!(posts(&sim).len(), 4, "two trials of two cases, each created once");
    let recorded = state_json(&state)["runs"].as_array().map(Vec::len);
    assert_eq!(recorded, Some(4), "{}", support::read(&state));
}

#[test]
fn the_state_file_survives_a_crash() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(CaseSpec::passing("c1", 0.9).duration_ms(1_000))
            .case(CaseSpec::passing("c2", 0.9).duration_ms(1_000)),
    );
    let dir = support::temp_dir("state-crash");
    let state = dir.join("nested/state.json");
    let crashed = first_invocation(&sim, &state, &["c1", "c2"], "KILL");
    assert_eq!(crashed.code, -1, "killed by SIGKILL");
    let recorded = state_json(&state);
    let text = recorded.to_string();
    for id in ["c1", "c2"] {
        assert!(text.contains(&run_id_of(&sim, id)), "{recorded:#}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("nested"))
        .expect("lists the state directory")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "state.json")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
    let again = run(support::gate(&sim.base_url())
        .env("KAPSO_STATE_FILE", &state)
        .args(["c1", "c2"]));
    assert_code(&again, 0);
    assert_eq!(posts(&sim).len(), 2, "{}", again.all_output());
}

// ---------------------------------------------------------------------------------------------
// Hostile responses and redirects: one fault on one request (a poll, a creation or a suite
// lookup), one named row each

/// How the selection reaches the faulty request.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// Case `c1` by ID, with `--json`: the fault hits its creation or a poll.
    Case,
    /// `--suite s1`, a suite the simulator knows, holding `c1`.
    Suite,
    /// `--suite s1`, a suite the simulator does not know: only the fault's body describes it.
    UnlistedSuite,
}

/// What the simulator answers the faulty request with.
#[derive(Debug)]
enum Answer {
    Fault(FaultAction),
    /// A redirect with `status` to `path` on another simulator, which must hear nothing.
    Elsewhere {
        status: u16,
        path: &'static str,
    },
}

/// One thing that must hold after the run.
#[derive(Debug, Clone, Copy)]
enum Check {
    Exit(i32),
    /// The failed request was retried (the JSON report counts it) and `-v` said so.
    Retried,
    /// How many creations the simulator received.
    Posts(usize),
    /// How many runs the simulator created.
    Runs(usize),
    /// The status of `c1` in the JSON report.
    Status(&'static str),
    /// The reason of `c1` in the JSON report contains this.
    ReasonHas(&'static str),
    ReasonLacks(&'static str),
    StdoutHas(&'static str),
    StderrHas(&'static str),
    StderrLacks(&'static str),
    /// stdout or stderr contains this.
    OutputHas(&'static str),
    /// The length of `c1`'s feedback in the JSON report.
    FeedbackBytes(usize),
    /// The step summary was written and stays under GitHub's 1 MiB limit.
    SummaryUnderOneMebibyte,
    /// The other simulator of a redirect got no request: the key stayed home.
    NotFollowed,
}

/// One fault, how the gate meets it, and what must hold afterwards.
#[derive(Debug)]
struct FaultRow {
    name: &'static str,
    endpoint: Endpoint,
    answer: Answer,
    target: Target,
    /// The score of `c1`.
    score: f64,
    /// Flags after the selection.
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    /// Runs as in GitHub Actions, with a step summary and an output file.
    github: bool,
    checks: &'static [Check],
}

impl FaultRow {
    fn new(name: &'static str, endpoint: Endpoint, answer: Answer, checks: &'static [Check]) -> FaultRow {
        FaultRow {
            name,
            endpoint,
            answer,
            target: Target::Case,
            score: 0.9,
            args: &["-v"],
            env: &[],
            github: false,
            checks,
        }
    }

    fn target(self, target: Target, args: &'static [&'static str]) -> FaultRow {
        FaultRow { target, args, ..self }
    }
}

/// A `200` answer with `body` and the wrong content type.
fn mislabelled(body: &str, content_type: &str) -> FaultAction {
    FaultAction::Status {
        status: 200,
        body: Some(body.into()),
        content_type: Some(content_type.into()),
        headers: Vec::new(),
        create_anyway: false,
    }
}

/// Every row, one fault each.
fn fault_rows() -> Vec<FaultRow> {
    [
        poll_faults(),
        body_faults(),
        creation_faults(),
        suite_faults(),
        redirects(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A poll that fails in transit or answers nonsense is retried, and the run still passes.
fn poll_faults() -> Vec<FaultRow> {
    use Check::*;
    let recovered = &[Exit(0), Retried];
    vec![
        FaultRow::new(
            "a reset mid-body on a poll is retried",
            Endpoint::GetRun,
            Answer::Fault(FaultAction::ResetMidBody),
            recovered,
        ),
        FaultRow {
            env: &[("KAPSO_REQUEST_TIMEOUT", "300ms")],
            ..FaultRow::new(
                "a poll slower than the request timeout is retried",
                Endpoint::GetRun,
                // Answered after ten minutes: a gate that waited for it would not exit within
                // HANG; one that gave up at the request timeout retries and passes.
                Answer::Fault(FaultAction::delay(FOREVER_MS)),
                &[Exit(0), Retried],
            )
        },
        FaultRow::new(
            "truncated JSON on a poll is retried",
            Endpoint::GetRun,
            Answer::Fault(FaultAction::Truncated),
            recovered,
        ),
        FaultRow::new(
            "an HTML 502 page on a poll is retried",
            Endpoint::GetRun,
            Answer::Fault(FaultAction::Html { status: 502 }),
            &[Exit(0), Retried, StderrHas("502"), StderrLacks("<html")],
        ),
        FaultRow::new(
            "a wrong content type on a poll is retried",
            Endpoint::GetRun,
            Answer::Fault(mislabelled("OK", "text/plain")),
            recovered,
        ),
        FaultRow::new(
            "data of the wrong type on a poll is retried",
            Endpoint::GetRun,
            Answer::Fault(FaultAction::WrongDataType),
            recovered,
        ),
    ]
}

/// Feedback of any size is kept; a body too large to read is refused with a clear reason.
fn body_faults() -> Vec<FaultRow> {
    use Check::*;
    vec![
        FaultRow {
            score: 0.4,
            github: true,
            ..FaultRow::new(
                "a one-megabyte feedback is handled",
                Endpoint::GetRun,
                Answer::Fault(FaultAction::HugeFeedback { bytes: 1_000_000 }),
                &[Exit(1), FeedbackBytes(1_000_000), SummaryUnderOneMebibyte],
            )
        },
        FaultRow::new(
            "a body over sixteen mebibytes is refused with a clear reason",
            Endpoint::GetRun,
            Answer::Fault(FaultAction::HugeFeedback { bytes: 17_000_000 }),
            &[
                Exit(4),
                Status("incomplete"),
                ReasonHas("larger than"),
                StdoutHas("larger than"),
            ],
        ),
    ]
}

/// A creation that fails after it was sent is never retried: Kapso may have created the run.
fn creation_faults() -> Vec<FaultRow> {
    use Check::*;
    vec![
        FaultRow::new(
            "an HTML 502 page on a creation is a clear reason",
            Endpoint::CreateRun,
            Answer::Fault(FaultAction::Html { status: 502 }),
            &[Exit(4), Posts(1), ReasonHas("502"), ReasonLacks("<html")],
        ),
        FaultRow::new(
            "a reset after a creation was sent is not retried",
            Endpoint::CreateRun,
            Answer::Fault(FaultAction::Reset),
            &[Exit(4), Posts(1), ReasonHas("not retried"), StdoutHas("not retried")],
        ),
        FaultRow::new(
            "truncated JSON on a created run is not retried",
            Endpoint::CreateRun,
            Answer::Fault(FaultAction::Truncated),
            &[Exit(4), Posts(1), Runs(1), ReasonHas("not retried")],
        ),
    ]
}

/// A suite lookup answered with mislabelled or mistyped data.
fn suite_faults() -> Vec<FaultRow> {
    use Check::*;
    let suite = r#"{"data":{"id":"s1","name":"Suite","test_cases":[{"id":"c1","name":"Refunds"}]}}"#;
    vec![
        FaultRow::new(
            "JSON with a wrong content type on a suite lookup is read",
            Endpoint::GetSuite,
            Answer::Fault(mislabelled(suite, "text/html; charset=utf-8")),
            &[Exit(0), Posts(1), StdoutHas("Refunds")],
        )
        .target(Target::UnlistedSuite, &[]),
        FaultRow::new(
            "data of the wrong type on a suite lookup is retried",
            Endpoint::GetSuite,
            Answer::Fault(FaultAction::WrongDataType),
            &[Exit(0), Posts(1)],
        )
        .target(Target::Suite, &[]),
    ]
}

/// A redirect is never followed (the key would travel to another host): the case is rejected.
fn redirects() -> Vec<FaultRow> {
    use Check::*;
    vec![
        FaultRow::new(
            "a redirected creation is not followed and the key stays home",
            Endpoint::CreateRun,
            Answer::Elsewhere {
                status: 307,
                path: "/test_cases/c1/test_runs",
            },
            &[
                Exit(3),
                NotFollowed,
                ReasonHas("redirect"),
                ReasonHas("not followed"),
                StdoutHas("redirect"),
                Posts(1),
            ],
        )
        .target(Target::Case, &["-vv"]),
        FaultRow::new(
            "a redirected poll is not followed and the key stays home",
            Endpoint::GetRun,
            Answer::Elsewhere {
                status: 302,
                path: "/test_runs/anything",
            },
            &[
                Exit(3),
                NotFollowed,
                ReasonHas("redirect"),
                ReasonHas("not followed"),
                StdoutHas("redirect"),
            ],
        ),
        FaultRow::new(
            "a redirected suite lookup is not followed",
            Endpoint::GetSuite,
            Answer::Elsewhere {
                status: 301,
                path: "/test_suites/s1",
            },
            &[Exit(3), NotFollowed, OutputHas("redirect"), Posts(0)],
        )
        .target(Target::Suite, &[]),
    ]
}

/// The simulator's scenario for `row` before the fault: case `c1`, in suite `s1` if asked.
fn fault_scenario(row: &FaultRow) -> Scenario {
    match row.target {
        Target::Case | Target::UnlistedSuite => Scenario::new(KEY).case(case("c1", row.score)),
        Target::Suite => Scenario::new(KEY)
            .case(case("c1", row.score).suite("s1"))
            .suite(kapso_sim::SuiteSpec::new("s1")),
    }
}

/// What one row's run left behind.
#[derive(Debug)]
struct FaultRun {
    sim: Sim,
    /// The other simulator of a redirect.
    elsewhere: Option<Sim>,
    out: Finished,
    dir: PathBuf,
}

impl FaultRun {
    fn report(&self, row: &FaultRow) -> Value {
        assert!(
            matches!(row.target, Target::Case),
            "{}: only a case row writes --json",
            row.name
        );
        json_report(&self.dir.join("report.json"))
    }
}

fn run_fault_row(index: usize, row: &FaultRow) -> FaultRun {
    let elsewhere = matches!(row.answer, Answer::Elsewhere { .. }).then(|| Sim::start(fault_scenario(row)));
    let action = match &row.answer {
        Answer::Fault(action) => action.clone(),
        Answer::Elsewhere { status, path } => FaultAction::Redirect {
            status: *status,
            location: format!("{}{path}", elsewhere.as_ref().map(Sim::base_url).unwrap_or_default()),
        },
    };
    let sim = Sim::start(fault_scenario(row).fault(Fault::on(row.endpoint).then(action)));
    let dir = support::temp_dir(&format!("fault-{index}"));
    let mut cmd = support::gate(&sim.base_url());
    match row.target {
        Target::Case => cmd.arg("c1"),
        Target::Suite | Target::UnlistedSuite => cmd.args(["--suite", "s1"]),
    };
    cmd.args(row.args).envs(row.env.iter().copied());
    if matches!(row.target, Target::Case) {
        cmd.arg("--json").arg(dir.join("report.json"));
    }
    if row.github {
        cmd.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
            .env("GITHUB_OUTPUT", dir.join("output"));
    }
    let out = run(&mut cmd);
    FaultRun {
        sim,
        elsewhere,
        out,
        dir,
    }
}

/// `text` (named `what`) contains `part`, or does not when `present` is false.
fn assert_part(row: &FaultRow, what: &str, text: &str, part: &str, present: bool) {
    assert_eq!(
        text.contains(part),
        present,
        "{}: {what} {} {part:?}\n{text}",
        row.name,
        if present { "lacks" } else { "has" }
    );
}

fn check_fault_row(row: &FaultRow, run: &FaultRun, check: Check) {
    let (name, out) = (row.name, &run.out);
    let reason = || reason_of(&run.report(row), "c1");
    match check {
        Check::Exit(code) => assert_eq!(
            out.code, code,
            "{name}: exit code\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout, out.stderr
        ),
        Check::Retried => {
            let report = run.report(row);
            let retried = report["requests"]["retried"].as_u64().unwrap_or_default();
            assert!(retried >= 1, "{name}: the failed request was retried\n{report:#}");
            assert!(
                out.stderr.contains("retrying"),
                "{name}: -v says what is retried\n{}",
                out.stderr
            );
        }
        Check::Posts(n) => {
            let sent: Vec<String> = posts(&run.sim)
                .iter()
                .map(|r| format!("{} {}", r.path, r.status))
                .collect();
            assert_eq!(
                sent.len(),
                n,
                "{name}: creations (a second one could create a second run): {sent:?}"
            );
        }
        Check::Runs(n) => assert_eq!(run.sim.runs().len(), n, "{name}: runs created"),
        Check::Status(status) => {
            let report = run.report(row);
            assert_eq!(json_case(&report, "c1")["status"], status, "{name}\n{report:#}");
        }
        Check::ReasonHas(part) => assert_part(row, "the reason", &reason(), part, true),
        Check::ReasonLacks(part) => assert_part(row, "the reason", &reason(), part, false),
        Check::StdoutHas(part) => assert_part(row, "stdout", &out.stdout, part, true),
        Check::StderrHas(part) => assert_part(row, "stderr", &out.stderr, part, true),
        Check::StderrLacks(part) => assert_part(row, "stderr", &out.stderr, part, false),
        Check::OutputHas(part) => assert_part(row, "the output", &out.all_output(), part, true),
        Check::FeedbackBytes(n) => {
            let report = run.report(row);
            let feedback = json_case(&report, "c1")["feedback"].as_str().unwrap_or_default().len();
            assert_eq!(feedback, n, "{name}: the JSON report keeps the whole feedback");
        }
        Check::SummaryUnderOneMebibyte => {
            let summary = std::fs::metadata(run.dir.join("summary.md")).map_or(0, |m| m.len());
            assert!(
                summary > 0 && summary < 1024 * 1024,
                "{name}: the step summary stays under GitHub's 1 MiB limit: {summary} bytes"
            );
        }
        Check::NotFollowed => {
            let other = run.elsewhere.as_ref().map(Sim::requests).unwrap_or_default();
            assert!(
                other.is_empty(),
                "{name}: the redirect was followed: the other host got {other:?}"
            );
        }
    }
}

/// Every row runs, in turn; each failure names its row, and the test lists the failed rows.
#[test]
fn each_fault_on_one_request_is_handled() {
    let rows = fault_rows();
    let failed: Vec<&str> = rows
        .iter()
        .enumerate()
        .filter(|(index, row)| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let run = run_fault_row(*index, row);
                for check in row.checks {
                    check_fault_row(row, &run, *check);
                }
            }))
            .is_err()
        })
        .map(|(_, row)| row.name)
        .collect();
    assert!(failed.is_empty(), "failed rows (see each panic above): {failed:#?}");
}

// ---------------------------------------------------------------------------------------------
// Proxies

fn through_proxy(vars: &[(&str, String)]) -> (Sim, ForwardProxy, Finished) {
    through_proxy_to(vars, |url| url.to_owned())
}

/// Like [`through_proxy`], with the base URL rewritten by `base` (for example to `localhost`).
fn through_proxy_to(vars: &[(&str, String)], base: impl Fn(&str) -> String) -> (Sim, ForwardProxy, Finished) {
    let sim = Sim::start(Scenario::new(KEY).case(case("c1", 0.9)).case(case("c2", 0.9)));
    let proxy = ForwardProxy::start();
    let mut cmd = support::gate(&base(&sim.base_url()));
    cmd.args(["c1", "c2"]);
    for (name, value) in vars {
        cmd.env(name, value.replace("{proxy}", &proxy.url()));
    }
    let out = run(&mut cmd);
    (sim, proxy, out)
}

#[test]
fn http_proxy_carries_every_request() {
    for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY"] {
        let (sim, proxy, out) = through_proxy(&[(var, "{proxy}".into())]);
        assert_code(&out, 0);
        let seen = proxy.requests();
        assert_eq!(
            seen.len(),
            sim.requests().len(),
            "{var}: every request went through the proxy: {seen:?}"
        );
        assert!(
            seen.iter().all(|target| target.starts_with(&sim.base_url())),
            "{var}: {seen:?}"
        );
    }
}

#[test]
fn no_proxy_bypasses_the_proxy() {
    for no_proxy in ["127.0.0.1", "localhost,127.0.0.1", "127.0.0.0/8"] {
        let (sim, proxy, out) = through_proxy(&[("HTTP_PROXY", "{proxy}".into()), ("NO_PROXY", no_proxy.into())]);
        assert_code(&out, 0);
        assert!(
            proxy.requests().is_empty(),
            "NO_PROXY={no_proxy}: {:?}",
            proxy.requests()
        );
        assert!(!sim.requests().is_empty());
    }
    let (_, proxy, out) = through_proxy(&[("http_proxy", "{proxy}".into()), ("no_proxy", "127.0.0.1".into())]);
    assert_code(&out, 0);
    assert!(proxy.requests().is_empty(), "no_proxy: {:?}", proxy.requests());
    // Host names: by name, and the `*` wildcard.
    let localhost = |url: &str| url.replace("127.0.0.1", "localhost");
    for no_proxy in ["localhost", "*"] {
        let (_, proxy, out) = through_proxy_to(
            &[("HTTP_PROXY", "{proxy}".into()), ("NO_PROXY", no_proxy.into())],
            localhost,
        );
        assert_code(&out, 0);
        assert!(
            proxy.requests().is_empty(),
            "NO_PROXY={no_proxy}: {:?}",
            proxy.requests()
        );
    }
    let (sim, proxy, out) = through_proxy_to(&[("HTTP_PROXY", "{proxy}".into())], localhost);
    assert_code(&out, 0);
    assert_eq!(proxy.requests().len(), sim.requests().len(), "{:?}", proxy.requests());
}

#[test]
fn https_proxy_is_not_used_for_an_http_base_url() {
    let (_, proxy, out) = through_proxy(&[("HTTPS_PROXY", "{proxy}".into())]);
    assert_code(&out, 0);
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
}

/// With an `https` base URL, `HTTPS_PROXY` is used, through a `CONNECT` tunnel (so the proxy
/// never sees the key). The simulator speaks plain HTTP, so TLS then fails: only the tunnel
/// request is checked here.
#[test]
fn https_proxy_tunnels_an_https_base_url() {
    let vars = [
        ("HTTPS_PROXY", "{proxy}".into()),
        // The TLS handshake with a plain-HTTP server stalls: keep the attempts short.
        ("KAPSO_REQUEST_TIMEOUT", "500ms".into()),
        ("KAPSO_TIMEOUT", "3s".into()),
    ];
    let (sim, proxy, out) = through_proxy_to(&vars, |url| url.replacen("http://", "https://", 1));
    assert_ne!(out.code, 0, "TLS to a plain-HTTP server cannot succeed");
    let port = sim
        .base_url()
        .split(':')
        .nth(2)
        .and_then(|rest| rest.split('/').next())
        .map(str::to_owned);
    let target = format!("CONNECT 127.0.0.1:{}", port.unwrap_or_default());
    assert!(
        proxy.requests().iter().any(|r| r.starts_with(&target)),
        "{target} not in {:?}",
        proxy.requests()
    );
    assert!(sim.requests().is_empty(), "no request reached the server in the clear");
}

// ---------------------------------------------------------------------------------------------
// Leak check

/// Every output destination the gate has, in `dir`.
fn with_every_output(cmd: &mut Command, dir: &Path, flag: Option<&str>) {
    cmd.arg("--json")
        .arg(dir.join("report.json"))
        .arg("--junit")
        .arg(dir.join("junit.xml"))
        .arg("--state-file")
        .arg(dir.join("state.json"))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env("GITHUB_OUTPUT", dir.join("output"));
    if let Some(flag) = flag {
        cmd.arg(flag);
    }
}

/// The scenarios of the leak check: a name, the simulator, and the gate's arguments.
fn leak_scenarios(redirect_to: &str) -> Vec<(&'static str, Scenario, Vec<&'static str>)> {
    vec![
        (
            "mixed",
            Scenario::new(KEY)
                .case(case("ok", 0.9))
                .case(case("low", 0.3).feedback("❌ wrong hours"))
                .case(CaseSpec::new("boom").crash("judge crashed").duration_ms(RUN_MS))
                .fault(Fault::on(Endpoint::GetRun).case("ok").then(FaultAction::ResetMidBody))
                .fault(
                    Fault::on(Endpoint::GetRun)
                        .case("low")
                        .then(FaultAction::Html { status: 502 }),
                ),
            vec!["ok", "low", "boom", "missing"],
        ),
        (
            "refused-key",
            Scenario::new("a-different-key").case(case("ok", 0.9)),
            vec!["ok"],
        ),
        (
            "redirect",
            Scenario::new(KEY)
                .case(case("ok", 0.9))
                .fault(Fault::on(Endpoint::GetRun).then(FaultAction::Redirect {
                    status: 302,
                    location: redirect_to.to_owned(),
                })),
            vec!["ok"],
        ),
        (
            "hostile-post",
            Scenario::new(KEY)
                .case(case("reset", 0.9))
                .case(case("trunc", 0.9))
                .case(case("big", 0.9))
                .fault(Fault::on(Endpoint::CreateRun).case("reset").then(FaultAction::Reset))
                .fault(
                    Fault::on(Endpoint::CreateRun)
                        .case("trunc")
                        .then(FaultAction::Truncated),
                )
                .fault(
                    Fault::on(Endpoint::GetRun)
                        .case("big")
                        .then(FaultAction::HugeFeedback { bytes: 17_000_000 }),
                ),
            vec!["reset", "trunc", "big"],
        ),
        (
            "slow",
            Scenario::new(KEY)
                .case(case("ok", 0.9))
                .fault(Fault::on(Endpoint::GetRun).then(FaultAction::delay(1_000))),
            vec!["ok", "--request-timeout", "200ms"],
        ),
    ]
}

/// The leak check of a cancelled run re-attached by a second one, with every output.
fn leak_check_cancel_and_reattach() {
    let sim = Sim::start(stuck_scenario(&["c1", "c2"]));
    let dir = support::temp_dir("leak-cancel");
    let mut cmd = support::gate(&sim.base_url());
    cmd.args(["c1", "c2"]).env("KAPSO_TIMEOUT", "2s");
    with_every_output(&mut cmd, &dir, Some("-vv"));
    let gate = support::spawn(&mut cmd);
    wait_for_polled_runs(&sim, 2);
    gate.signal("INT");
    let out = gate.finish(HANG);
    assert_sane(&out);
    assert_code(&out, 130);
    let mut again = support::gate(&sim.base_url());
    again.args(["c1", "c2", "c3"]).env("KAPSO_TIMEOUT", "1s");
    with_every_output(&mut again, &dir, Some("-vv"));
    let out = run(&mut again);
    assert!(out.code != 0, "{}", out.all_output());
    assert_no_secret_in_files(&dir, KEY, "cancel and re-attach");
}

/// The leak check of a run through a proxy, with every output.
fn leak_check_through_a_proxy() {
    let sim = Sim::start(Scenario::new(KEY).case(case("c1", 0.3).feedback("x")));
    let proxy = ForwardProxy::start();
    let dir = support::temp_dir("leak-proxy");
    let mut cmd = support::gate(&sim.base_url());
    cmd.arg("c1").env("HTTP_PROXY", proxy.url());
    with_every_output(&mut cmd, &dir, Some("-vv"));
    let out = run(&mut cmd);
    assert_code(&out, 1);
    assert_no_secret_in_files(&dir, KEY, "proxy");
}

#[test]
fn the_key_appears_in_no_output_report_or_state_file() {
    let elsewhere = Sim::start(Scenario::new(KEY).case(case("c1", 0.9)));
    let redirect_to = format!("{}/test_runs/x", elsewhere.base_url());
    let scenarios = leak_scenarios(&redirect_to);
    std::thread::scope(|scope| {
        for (name, scenario, args) in &scenarios {
            for flag in [None, Some("-v"), Some("-vv")] {
                scope.spawn(move || {
                    let label = format!("{name} {flag:?}");
                    let sim = Sim::start(scenario.clone());
                    let dir = support::temp_dir(&format!("leak-{name}-{}", flag.unwrap_or("q")));
                    let mut cmd = support::gate(&sim.base_url());
                    cmd.args(args);
                    with_every_output(&mut cmd, &dir, flag);
                    let out = run(&mut cmd);
                    assert!(out.code != 0 || *name == "slow", "{label}: {}", out.all_output());
                    assert_no_secret_in_files(&dir, KEY, &label);
                });
            }
        }
        scope.spawn(leak_check_cancel_and_reattach);
        scope.spawn(leak_check_through_a_proxy);
    });
    assert!(elsewhere.requests().is_empty(), "{:?}", elsewhere.requests());
}

/// A server (or proxy) that echoes the request, key included, in its error body and in a
/// run's feedback: the key is redacted before anything can print or store it.
#[test]
fn a_key_echoed_by_the_server_is_redacted_everywhere() {
    let echo = format!(r#"{{"error":"invalid request","message":"header X-API-Key={KEY} not allowed"}}"#);
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("echoed", 0.9))
            .case(
                CaseSpec::new("feedback-echo")
                    .score(0.5)
                    .feedback(format!("the user pasted {KEY} into the chat"))
                    .duration_ms(RUN_MS),
            )
            .fault(
                Fault::on(Endpoint::CreateRun)
                    .case("echoed")
                    .then(FaultAction::status_with(422, &echo, &[])),
            ),
    );
    let dir = support::temp_dir("echoed-key");
    let (json, junit, summary, outputs) = (
        dir.join("r.json"),
        dir.join("r.xml"),
        dir.join("summary.md"),
        dir.join("outputs.txt"),
    );
    let out = run(support::gate(&sim.base_url())
        .args(["echoed", "feedback-echo", "-v"])
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs));
    assert_code(&out, 1);
    assert!(
        out.stdout.contains("X-API-Key=***"),
        "the echoed reason is shown, redacted: {}",
        out.stdout
    );
    assert_no_secret(&out.all_output(), KEY, "the output", AddMask::Allowed);
    for file in [&json, &junit, &summary, &outputs] {
        assert_no_secret(&support::read(file), KEY, &file.display().to_string(), AddMask::Allowed);
    }
    assert!(support::read(&json).contains("the user pasted *** into the chat"));
}
