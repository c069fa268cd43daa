//! End-to-end tests of the regression gate (`--baseline` with `--max-drop` as the margin): a
//! clear regression, a held case, a changed definition (not comparable, not gated), a new case,
//! flips in every report, the suite's figures and its failure, the raw drop with one trial, and
//! `--baseline-max-age`. Every baseline is a JSON report the gate wrote against the simulator.

use crate::support;
use crate::support::report::{json_case, json_report};
use crate::support::{assert_code, runs_of, Finished, KEY, RUN_MS};
use kapso_sim::{CaseSpec, Scenario, Sim};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn scored(id: &str, score: f64) -> CaseSpec {
    CaseSpec::passing(id, score).duration_ms(RUN_MS)
}

/// Runs the gate over `cases` with `args` and writes its JSON report to `dir/name`.
fn baseline(dir: &Path, name: &str, cases: Vec<CaseSpec>, args: &[&str]) -> PathBuf {
    let ids: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
    let sim = Sim::start(cases.into_iter().fold(Scenario::new(KEY), Scenario::case));
    let path = dir.join(name);
    let out = support::run(
        support::gate(&sim.base_url())
            .args(&ids)
            .args(args)
            .arg("--json")
            .arg(&path),
    );
    assert!(path.exists(), "baseline written\n{}", out.all_output());
    path
}

/// Today's run: the outcome, the JSON report, the step summary and the JUnit report.
struct Today {
    out: Finished,
    json: Value,
    summary: String,
    junit: String,
}

fn today(dir: &Path, sim: &Sim, ids: &[&str], args: &[&str]) -> Today {
    let (json, summary, junit) = (dir.join("today.json"), dir.join("summary.md"), dir.join("junit.xml"));
    let out = support::run(
        support::gate(&sim.base_url())
            .args(ids)
            .args(args)
            .arg("--json")
            .arg(&json)
            .arg("--junit")
            .arg(&junit)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary),
    );
    let json = json_report(&json);
    crate::reports::assert_schema(&json);
    Today {
        json,
        summary: support::read(&summary).replace('\\', ""),
        junit: support::read(&junit),
        out,
    }
}

fn sim_of(cases: Vec<CaseSpec>) -> Sim {
    Sim::start(cases.into_iter().fold(Scenario::new(KEY), Scenario::case))
}

fn decision(report: &Value, id: &str) -> String {
    json_case(report, id)["regression"]["decision"]
        .as_str()
        .unwrap_or_else(|| panic!("{id} has a regression decision: {report}"))
        .to_owned()
}

#[test]
fn a_clear_regression_fails_asks_for_trials_and_every_report_says_regressed() {
    let dir = support::temp_dir("regression-clear");
    let base = baseline(
        &dir,
        "base.json",
        vec![scored("a", 0.9)],
        &["--trials", "10", "--threshold", "0"],
    );
    let sim = sim_of(vec![scored("a", 0.1)]);
    let base_arg = base.to_str().expect("utf-8");
    let run = today(
        &dir,
        &sim,
        &["a"],
        &[
            "--trials",
            "2..10",
            "--threshold",
            "0",
            "--baseline",
            base_arg,
            "--max-drop",
            "0.05",
        ],
    );
    assert_code(&run.out, 1);
    assert_eq!(decision(&run.json, "a"), "regressed");
    let record = &json_case(&run.json, "a")["regression"];
    assert_eq!(record["statistical"], true, "{record}");
    assert!(record["interval"]["upper"].as_f64().expect("upper") < -0.05, "{record}");
    assert!((record["difference"].as_f64().expect("difference") + 0.8).abs() < 1e-9);
    assert_eq!(json_case(&run.json, "a")["status"], "failed");
    // The threshold 0 was certain after 2 trials: the regression asked for the rest, until it
    // was certain (never beyond MAX).
    let runs = runs_of(&sim, "a");
    assert!(
        (3..=10).contains(&runs),
        "trials while the regression was inconclusive: {runs}"
    );
    assert_eq!(json_case(&run.json, "a")["trials"].as_array().map(Vec::len), Some(runs));
    assert_eq!(run.json["regression_summary"]["regressed"], 1);
    assert!(
        run.out.stdout.contains("regression: 1 regressed, 0 fixed"),
        "{}",
        run.out.stdout
    );
    assert!(run.out.stdout.contains("regression regressed"), "{}", run.out.stdout);
    assert!(run.summary.starts_with("**1 regressed, 0 fixed**"), "{}", run.summary);
    assert!(run.junit.contains("regression: regression regressed"), "{}", run.junit);
    // The failure the statistics made is re-derived when the report is read back.
    let read_back = dir.join("read-back.json");
    std::fs::copy(dir.join("today.json"), &read_back).expect("copy");
    let next = support::run(
        support::gate(&sim.base_url())
            .args(["a", "--threshold", "0", "--baseline"])
            .arg(&read_back),
    );
    assert_code(&next, 0);
}

#[test]
fn a_steady_case_holds_and_passes() {
    let dir = support::temp_dir("regression-held");
    let base = baseline(&dir, "base.json", vec![scored("h", 0.9)], &["--trials", "12"]);
    let sim = sim_of(vec![scored("h", 0.9)]);
    let run = today(
        &dir,
        &sim,
        &["h"],
        &[
            "--trials",
            "12",
            "--baseline",
            base.to_str().expect("utf-8"),
            "--max-drop",
            "0.3",
        ],
    );
    assert_code(&run.out, 0);
    assert_eq!(decision(&run.json, "h"), "held");
    assert_eq!(json_case(&run.json, "h")["regression"]["statistical"], true);
    assert!(run.summary.starts_with("**0 regressed, 0 fixed**"), "{}", run.summary);
}

#[test]
fn a_changed_rubric_is_not_comparable_and_not_gated() {
    let dir = support::temp_dir("regression-rubric");
    let base = baseline(
        &dir,
        "base.json",
        vec![scored("r", 0.9), scored("s", 0.9)],
        &["--threshold", "0"],
    );
    // Both cases collapse; only `r`'s rubric changed, so only `s` can fail on the drop.
    let sim = sim_of(vec![
        scored("r", 0.1).rubric("A new rubric that asks for much more"),
        scored("s", 0.9),
    ]);
    let run = today(
        &dir,
        &sim,
        &["r", "s"],
        &[
            "--threshold",
            "0",
            "--baseline",
            base.to_str().expect("utf-8"),
            "--max-drop",
            "0.05",
        ],
    );
    assert_code(&run.out, 0);
    assert_eq!(decision(&run.json, "r"), "not_comparable");
    assert_eq!(json_case(&run.json, "r")["status"], "passed");
    let base_report = json_report(&base);
    let digest = |report: &Value, id: &str| json_case(report, id)["definition_digest"].as_str().map(str::to_owned);
    assert!(digest(&run.json, "r").is_some_and(|d| d.len() == 64));
    assert_ne!(digest(&run.json, "r"), digest(&base_report, "r"));
    assert_eq!(digest(&run.json, "s"), digest(&base_report, "s"));
    assert_eq!(run.json["regression_summary"]["not_comparable"], 1);
    assert!(
        run.out.stdout.contains("regression not comparable"),
        "{}",
        run.out.stdout
    );
}

#[test]
fn a_new_case_has_no_baseline() {
    let dir = support::temp_dir("regression-new");
    let base = baseline(&dir, "base.json", vec![scored("old", 0.9)], &[]);
    let sim = sim_of(vec![scored("old", 0.9), scored("new", 0.85)]);
    let run = today(
        &dir,
        &sim,
        &["old", "new"],
        &["--baseline", base.to_str().expect("utf-8"), "--max-drop", "0.05"],
    );
    assert_code(&run.out, 0);
    assert_eq!(decision(&run.json, "new"), "no_baseline");
    assert_eq!(decision(&run.json, "old"), "held");
    assert_eq!(run.json["regression_summary"]["no_baseline"], 1);
    assert!(
        run.junit.contains("regression: regression no baseline"),
        "{}",
        run.junit
    );
}

#[test]
fn flips_show_in_every_report() {
    let dir = support::temp_dir("regression-flips");
    let base = baseline(&dir, "base.json", vec![scored("p", 0.9), scored("f", 0.5)], &[]);
    let sim = sim_of(vec![scored("p", 0.5), scored("f", 0.9)]);
    let run = today(&dir, &sim, &["p", "f"], &["--baseline", base.to_str().expect("utf-8")]);
    assert_code(&run.out, 1);
    let flips = run.json["regression_summary"]["flips"].as_array().expect("flips");
    let of = |id: &str| flips.iter().find(|f| f["test_case_id"] == id).expect("a flip");
    assert_eq!(of("p")["direction"], "regressed");
    assert_eq!(
        (of("p")["baseline_status"].as_str(), of("p")["status"].as_str()),
        (Some("passed"), Some("failed"))
    );
    assert_eq!(of("f")["direction"], "fixed");
    assert_eq!(run.json["regression_summary"]["fixed"], 1);
    for (surface, text) in [
        ("terminal", &run.out.stdout),
        ("step summary", &run.summary),
        ("JUnit", &run.junit),
    ] {
        assert!(text.contains("newly failing: Case p (p)"), "{surface}:\n{text}");
        assert!(text.contains("fixed: Case f (f)"), "{surface}:\n{text}");
    }
    // Without --max-drop the decisions are shown, not gated: `p` fails on its threshold only.
    assert_eq!(json_case(&run.json, "p")["regression"]["gated"], false);
    // A report with regression records reads back (its statuses re-derived) as the next baseline.
    let again = std::fs::copy(dir.join("today.json"), dir.join("second.json")).map(|_| dir.join("second.json"));
    let next = today(
        &dir,
        &sim,
        &["p", "f"],
        &[
            "--baseline",
            again.expect("copy").to_str().expect("utf-8"),
            "--max-drop",
            "0.05",
        ],
    );
    assert_code(&next.out, 1);
    assert_eq!(decision(&next.json, "f"), "held");
}

#[test]
fn the_suite_has_its_interval_and_a_suite_regression_fails_the_gate() {
    let dir = support::temp_dir("regression-suite");
    let cases = || vec![scored("x", 0.9), scored("y", 0.9)];
    let base = baseline(&dir, "base.json", cases(), &["--trials", "16", "--threshold", "0"]);
    // The suite interval is each case's at alpha / 2 averaged: it needs drops that large.
    let sim = sim_of(vec![scored("x", 0.0), scored("y", 0.1)]);
    let run = today(
        &dir,
        &sim,
        &["x", "y"],
        &[
            "--trials",
            "16",
            "--threshold",
            "0",
            "--baseline",
            base.to_str().expect("utf-8"),
            "--max-drop",
            "0.05",
        ],
    );
    assert_code(&run.out, 1);
    let suite = &run.json["regression_summary"]["suite"];
    assert_eq!(suite["cases"], 2, "{suite}");
    assert!(
        (suite["mean_difference"].as_f64().expect("mean") + 0.85).abs() < 1e-9,
        "{suite}"
    );
    assert_eq!(suite["decision"], "regressed", "{suite}");
    assert!(suite["interval"]["upper"].as_f64().expect("upper") < -0.05, "{suite}");
    let message = run.json["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("the suite regressed against the baseline"),
        "{message}"
    );
}

#[test]
fn one_trial_on_a_side_applies_the_raw_drop() {
    let dir = support::temp_dir("regression-raw");
    let base = baseline(&dir, "base.json", vec![scored("o", 0.9), scored("k", 0.9)], &[]);
    let sim = sim_of(vec![scored("o", 0.8), scored("k", 0.87)]);
    let run = today(
        &dir,
        &sim,
        &["o", "k"],
        &[
            "--threshold",
            "0.5",
            "--baseline",
            base.to_str().expect("utf-8"),
            "--max-drop",
            "0.05",
        ],
    );
    assert_code(&run.out, 1);
    let record = |id: &str| json_case(&run.json, id)["regression"].clone();
    assert_eq!(
        (record("o")["decision"].as_str(), record("o")["statistical"].as_bool()),
        (Some("regressed"), Some(false))
    );
    assert_eq!(record("o")["interval"], Value::Null);
    assert!(json_case(&run.json, "o")["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("more than --max-drop 0.05"));
    assert_eq!(
        (
            record("k")["decision"].as_str(),
            json_case(&run.json, "k")["status"].as_str()
        ),
        (Some("held"), Some("passed"))
    );
    assert!(
        run.out.stdout.contains("raw drop: one trial on a side"),
        "{}",
        run.out.stdout
    );
}

#[test]
fn a_baseline_older_than_the_max_age_is_warned_about_in_every_report() {
    let dir = support::temp_dir("regression-age");
    let base = baseline(&dir, "base.json", vec![scored("a", 0.9)], &[]);
    let sim = sim_of(vec![scored("a", 0.9)]);
    let base_arg = base.to_str().expect("utf-8");
    let fresh = today(&dir, &sim, &["a"], &["--baseline", base_arg]);
    assert_code(&fresh.out, 0);
    assert_eq!(fresh.json["baseline"]["max_age_ms"], 30 * 86_400 * 1000_u64);
    assert!(
        !fresh.out.all_output().contains("--baseline-max-age"),
        "{}",
        fresh.out.all_output()
    );
    // Through the variable the action input sets.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let stale = support::run(
        support::gate(&sim.base_url())
            .arg("a")
            .args(["--baseline", base_arg, "--json"])
            .arg(dir.join("stale.json"))
            .env("KAPSO_BASELINE_MAX_AGE", "10ms"),
    );
    assert_code(&stale, 0);
    let report = json_report(&dir.join("stale.json"));
    let warned = |text: &str| text.contains("old, older than --baseline-max-age");
    assert!(
        report["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| warned(w.as_str().unwrap_or_default())),
        "{report}"
    );
    assert!(warned(&stale.all_output()), "{}", stale.all_output());
}

#[test]
fn inconclusive_at_max_follows_the_inconclusive_rule() {
    let dir = support::temp_dir("regression-inconclusive");
    let base = baseline(&dir, "base.json", vec![scored("i", 0.9)], &["--trials", "12"]);
    let base_arg = base.to_str().expect("utf-8");
    let args = |rule: &'static str| {
        [
            "--trials",
            "2..3",
            "--threshold",
            "0",
            "--baseline",
            base_arg,
            "--max-drop",
            "0.05",
            "--inconclusive",
            rule,
        ]
    };
    let sim = sim_of(vec![scored("i", 0.9)]);
    let estimate = today(&dir, &sim, &["i"], &args("estimate"));
    assert_code(&estimate.out, 0);
    assert_eq!(decision(&estimate.json, "i"), "inconclusive");
    assert_eq!(runs_of(&sim, "i"), 3, "trials up to MAX while inconclusive");
    let sim = sim_of(vec![scored("i", 0.9)]);
    let fail = today(&dir, &sim, &["i"], &args("fail"));
    assert_code(&fail.out, 1);
    let reason = json_case(&fail.json, "i")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.starts_with("still inconclusive against the baseline"),
        "{reason}"
    );
}
