//! The gate at its edges, end to end against the simulator: untrusted text never acts as a
//! GitHub workflow command (checked with a model of the runner's own line handling), scores meet
//! thresholds exactly at the boundary, every report agrees with the exit code when one cannot be
//! written, report paths and annotation sizes fit GitHub, the JUnit file is valid against
//! `junit-10.xsd`, and a key missing on a fork's pull request is explained.

use crate::support::{self, assert_code, gate, run, temp_dir, Finished, KEY};
use kapso_sim::{CaseSpec, Endpoint, Fault, FaultAction, Scenario, Sim, SuiteSpec, TrialSpec};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// How the GitHub runner reads a step's output, after actions/runner's `ActionCommandManager`
/// and `ActionCommand`: the output is split into lines at `\n`, `\r\n` and `\r`; a line is a
/// command when, after leading white space is trimmed, it starts with `::` and has a second
/// `::` (`::name props::data`), or else when it holds `##[` anywhere with a `]` after it
/// (`##[name props]data`). While `stop-commands` is in force, only the command named by its
/// token counts, and it resumes processing. The model counts every name as a command (the
/// runner only those it knows), which makes it stricter than the runner.
#[derive(Debug, Default)]
struct RunnerModel {
    stopped_until: Option<String>,
    /// `(name, properties, data)` of every command the runner would execute.
    executed: Vec<(String, String, String)>,
}

impl RunnerModel {
    fn feed(&mut self, output: &str) {
        for line in output.split("\r\n").flat_map(|l| l.split(['\n', '\r'])) {
            if let Some((name, props, data)) = parse_v2(line).or_else(|| parse_legacy(line)) {
                match &self.stopped_until {
                    Some(token) if name.eq_ignore_ascii_case(token) => self.stopped_until = None,
                    Some(_) => {}
                    None if name.eq_ignore_ascii_case("stop-commands") => self.stopped_until = Some(data.clone()),
                    None => self.executed.push((name, props, data)),
                }
            }
        }
    }
}

fn split_command(info: &str) -> (String, String) {
    match info.split_once(' ') {
        Some((name, props)) => (name.to_owned(), props.to_owned()),
        None => (info.to_owned(), String::new()),
    }
}

fn parse_v2(line: &str) -> Option<(String, String, String)> {
    let rest = line.trim_start().strip_prefix("::")?;
    let end = rest.find("::")?;
    let (name, props) = split_command(&rest[..end]);
    (!name.is_empty()).then(|| (name, props, rest[end + 2..].to_owned()))
}

fn parse_legacy(line: &str) -> Option<(String, String, String)> {
    let start = line.find("##[")? + 3;
    let end = line[start..].find(']')? + start;
    let (name, props) = split_command(&line[start..end]);
    (!name.is_empty()).then(|| (name, props, line[end + 1..].to_owned()))
}

/// The commands the runner executes for the gate's whole stdout and stderr, and asserts each
/// is one the gate itself means: the key's mask, its annotations, its groups.
fn executed_commands(out: &Finished) -> Vec<(String, String, String)> {
    let mut runner = RunnerModel::default();
    runner.feed(&out.stdout);
    assert!(runner.stopped_until.is_none(), "a stop-commands block was left open");
    runner.feed(&out.stderr);
    assert!(runner.stopped_until.is_none(), "stderr left commands stopped");
    for (name, props, data) in &runner.executed {
        let ours = match name.as_str() {
            "add-mask" => data == KEY,
            "error" | "warning" | "notice" => props.starts_with("title=kapso-gate"),
            "group" => data.starts_with("kapso-gate: "),
            "endgroup" => data.is_empty(),
            _ => false,
        };
        assert!(
            ours,
            "the runner would execute {name:?} {props:?} {data:?}\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout, out.stderr
        );
    }
    runner.executed
}

const HOSTILE_NAMES: [&str; 5] = [
    "Quiet ##[stop-commands]hush",
    "x ##[error]fake annotation",
    "::warning::at the start",
    "  ::add-mask::indented",
    "y ##[add-mask]y ##[group]g",
];

fn hostile_scenario() -> Scenario {
    let mut scenario = Scenario::new(KEY);
    let mut suite = SuiteSpec::new("s1").name("Suite ##[error]named");
    for (i, name) in HOSTILE_NAMES.iter().enumerate() {
        let id = format!("h{i}");
        scenario = scenario.case(
            CaseSpec::new(&id).name(*name).suite("s1").trial(
                TrialSpec::scored(0.2)
                    .duration_ms(50)
                    .feedback("bad ##[error]feedback\n::error::x"),
            ),
        );
        suite = suite.case(id);
    }
    scenario
        .suite(suite)
        .fault(Fault::on(Endpoint::GetRun).then(FaultAction::status_with(
            503,
            r#"{"error":"busy ##[error]server","message":"::error::and v2"}"#,
            &[],
        )))
}

fn in_github(cmd: &mut Command, dir: &Path) {
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env("GITHUB_OUTPUT", dir.join("output"));
}

#[test]
fn untrusted_text_never_acts_as_a_workflow_command() {
    let sim = Sim::start(hostile_scenario());
    let dir = temp_dir("edges-inert");
    let mut cmd = gate(&sim.base_url());
    in_github(&mut cmd, &dir);
    let out = run(cmd.args(["--suite", "s1", "-v"]));
    assert_code(&out, 1);
    let executed = executed_commands(&out);
    for i in 0..HOSTILE_NAMES.len() {
        let id = format!("h{i}");
        assert!(
            executed
                .iter()
                .any(|(name, props, _)| name == "error" && props.contains(&format!("({id})"))),
            "case {id} lost its annotation: {executed:?}"
        );
    }
    assert!(
        out.stderr.contains("retrying"),
        "-v shows the server's error\n{}",
        out.stderr
    );
}

#[test]
fn a_dry_run_and_usage_errors_stay_inert_too() {
    let sim = Sim::start(hostile_scenario());
    let dir = temp_dir("edges-inert-dry");
    let mut cmd = gate(&sim.base_url());
    in_github(&mut cmd, &dir);
    let out = run(cmd.args(["--suite", "s1", "--dry-run"]));
    assert_code(&out, 0);
    executed_commands(&out);
    assert!(out.stdout.contains("Quiet"), "the plan lists the cases\n{}", out.stdout);

    for args in [
        vec!["c1", "--threshold", "##[error]boom"],
        vec!["c1", "--aggregate", "##[error]x"],
        vec!["::error::x", "--base-url", "http://example.com/##[error]y"],
    ] {
        let mut cmd = gate(&sim.base_url());
        in_github(&mut cmd, &dir);
        let out = run(cmd.args(&args));
        assert_code(&out, 2);
        let executed = executed_commands(&out);
        assert!(
            executed
                .iter()
                .any(|(name, props, _)| name == "error" && props.contains("usage")),
            "{args:?}: the usage error is annotated: {executed:?}"
        );
    }
}

#[test]
fn a_mean_exactly_at_the_threshold_passes() {
    let case = CaseSpec::new("b1")
        .trial(TrialSpec::scored(0.9).duration_ms(20))
        .trial(TrialSpec::scored(0.6).duration_ms(20))
        .trial(TrialSpec::scored(0.9).duration_ms(20));
    let sim = Sim::start(Scenario::new(KEY).case(case));
    let dir = temp_dir("edges-boundary");
    let json = dir.join("r.json");
    let out = run(gate(&sim.base_url())
        .args(["b1", "--trials", "3", "--threshold", "0.8"])
        .arg("--json")
        .arg(&json));
    assert_code(&out, 0);
    let report: Value = serde_json::from_str(&support::read(&json)).expect("JSON");
    assert_eq!(
        report["cases"][0]["score"], 0.8,
        "the mean is the decimal a person computes"
    );
    assert!(out.stdout.contains("kapso-gate PASSED"), "{}", out.stdout);
}

#[test]
fn every_report_agrees_when_a_report_cannot_be_written() {
    let sim = Sim::start(Scenario::new(KEY).case(CaseSpec::passing("p1", 0.9).duration_ms(20)));
    let dir = temp_dir("edges-settle");
    std::fs::write(dir.join("blocker"), "a file, not a folder").expect("writes");
    let mut cmd = gate(&sim.base_url());
    in_github(&mut cmd, &dir);
    let out = run(cmd
        .arg("p1")
        .arg("--json")
        .arg(dir.join("r.json"))
        .arg("--junit")
        .arg(dir.join("blocker/junit.xml")));
    assert_code(&out, 4);
    let outputs = support::read(&dir.join("output"));
    assert!(
        outputs.contains("verdict<<") && outputs.contains("\nincomplete\n"),
        "{outputs}"
    );
    assert!(
        outputs.contains("exit-code<<") && outputs.contains("\n4\n"),
        "{outputs}"
    );
    let summary = support::read(&dir.join("summary.md"));
    assert!(summary.contains("kapso-gate incomplete"), "{summary}");
    let report: Value = serde_json::from_str(&support::read(&dir.join("r.json"))).expect("JSON");
    assert_eq!(report["exit_code"], 4);
    assert!(report["message"]
        .as_str()
        .is_some_and(|m| m.contains("could not be written")));
    assert!(out.stdout.contains("kapso-gate INCOMPLETE"), "{}", out.stdout);
}

#[test]
fn json_report_is_announced_relative_to_the_workspace() {
    let sim = Sim::start(Scenario::new(KEY).case(CaseSpec::passing("p1", 0.9).duration_ms(20)));
    let dir = temp_dir("edges-workspace");
    let mut cmd = gate(&sim.base_url());
    in_github(&mut cmd, &dir);
    let out = run(cmd
        .env("GITHUB_WORKSPACE", &dir)
        .arg("p1")
        .arg("--json")
        .arg(dir.join("out/r.json")));
    assert_code(&out, 0);
    let outputs = support::read(&dir.join("output"));
    let value = outputs
        .split("json-report<<")
        .nth(1)
        .and_then(|rest| rest.lines().nth(1))
        .unwrap_or_default();
    assert_eq!(value, "out/r.json", "{outputs}");
}

#[test]
fn annotations_keep_their_pointer_under_githubs_limit() {
    let case = CaseSpec::new("e1").trial(TrialSpec::crashed("E".repeat(20_000)).duration_ms(20));
    let sim = Sim::start(Scenario::new(KEY).case(case));
    let dir = temp_dir("edges-annotation");
    let mut cmd = gate(&sim.base_url());
    in_github(&mut cmd, &dir);
    let out = run(cmd.arg("e1"));
    assert_code(&out, 1);
    let annotation = out
        .stdout
        .lines()
        .find(|l| l.starts_with("::error title=kapso-gate"))
        .expect("an annotation");
    let message = annotation.splitn(3, "::").nth(2).unwrap_or_default();
    let unescaped = message.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%");
    assert!(unescaped.chars().count() <= 4_096, "{}", unescaped.len());
    assert!(unescaped.ends_with("the JSON report)"), "{unescaped:.200}");
}

#[test]
fn junit_is_valid_against_junit_10_xsd() {
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/junit-10.xsd");
    if Command::new("xmllint").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install xmllint (libxml2-utils)"
        );
        eprintln!("skipped: xmllint is not installed");
        return;
    }
    let mut scenario = Scenario::new(KEY)
        .case(CaseSpec::passing("p1", 0.9).suite("s1").duration_ms(20))
        .case(CaseSpec::passing("f1", 0.1).feedback("]]> <b>&").duration_ms(20))
        .case(CaseSpec::new("e1").crash("boom \u{1b}").duration_ms(20))
        .suite(SuiteSpec::new("s1").name("Support").case("p1"));
    scenario = scenario.fault(Fault::on(Endpoint::CreateRun).case("r1").then(FaultAction::status(422)));
    let sim = Sim::start(scenario);
    let dir = temp_dir("edges-junit");
    for (name, args) in [
        ("mixed", vec!["p1", "f1", "e1", "r1"]),
        ("usage", vec!["--threshold", "nope"]),
    ] {
        let junit = dir.join(format!("{name}.xml"));
        let out = run(gate(&sim.base_url()).args(&args).arg("--junit").arg(&junit));
        assert!(junit.exists(), "{name}: no JUnit file\n{}", out.stderr);
        let check = Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&xsd)
            .arg(&junit)
            .output()
            .expect("xmllint runs");
        assert!(
            check.status.success(),
            "{name}: {}\n{}",
            String::from_utf8_lossy(&check.stderr),
            support::read(&junit)
        );
    }
}

#[test]
fn a_missing_key_on_a_forks_pull_request_says_why() {
    let dir = temp_dir("edges-fork");
    let event = dir.join("event.json");
    std::fs::write(
        &event,
        r#"{"pull_request":{"number":7,"head":{"repo":{"full_name":"someone/kapso-gate","fork":true}},"base":{"repo":{"full_name":"acme/kapso-gate"}}}}"#,
    )
    .expect("writes");
    let mut cmd = gate("http://127.0.0.1:9");
    cmd.env_remove("KAPSO_API_KEY")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event);
    let out = run(cmd.arg("c1"));
    assert_code(&out, 2);
    assert!(out.stderr.contains("pull request from a fork"), "{}", out.stderr);
    let same_repo = dir.join("same.json");
    std::fs::write(
        &same_repo,
        r#"{"pull_request":{"head":{"repo":{"full_name":"acme/kapso-gate","fork":false}},"base":{"repo":{"full_name":"acme/kapso-gate"}}}}"#,
    )
    .expect("writes");
    let mut cmd = gate("http://127.0.0.1:9");
    cmd.env_remove("KAPSO_API_KEY")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &same_repo);
    let out = run(cmd.arg("c1"));
    assert_code(&out, 2);
    assert!(!out.stderr.contains("fork"), "{}", out.stderr);
}
