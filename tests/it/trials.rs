//! Trials that stop when the verdict is certain (`--trials MIN..MAX`), end to end against the
//! simulator: a clearly failing case stops at MIN or soon after, a case that straddles the
//! threshold runs to MAX and is inconclusive (judged by its mean, or failed with
//! `--inconclusive fail`), no case ever gets more than MAX runs (re-attaching included), and a
//! fixed number of trials reports its interval.

use crate::support::report::{json_case, json_report, reason_of, status_of};
use crate::support::{assert_code, gate, run, runs_of, temp_dir, KEY, RUN_MS};
use kapso_sim::{CaseSpec, Scenario, Sim, TrialSpec};

/// A case whose runs score `scores` in turn.
fn scored(id: &str, scores: &[f64]) -> CaseSpec {
    scores.iter().fold(CaseSpec::new(id), |case, score| {
        case.trial(TrialSpec::scored(*score).duration_ms(RUN_MS))
    })
}

#[test]
fn a_clear_failure_stops_soon_and_a_straddling_case_runs_to_max() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(scored("low", &[0.1]))
            .case(scored("edge", &[0.7, 0.9])),
    );
    let dir = temp_dir("trials-sequential");
    let json = dir.join("r.json");
    let out = run(gate(&sim.base_url())
        .args(["low", "edge", "--trials", "2..8"])
        .arg("--json")
        .arg(&json));
    assert_code(&out, 1);
    let report = json_report(&json);
    assert!(
        runs_of(&sim, "low") <= 4,
        "a clear failure stops at MIN or soon after: {}",
        runs_of(&sim, "low")
    );
    assert_eq!(status_of(&report, "low"), "failed");
    assert_eq!(json_case(&report, "low")["decision"], "certain");
    assert!(
        reason_of(&report, "low").starts_with("fails: mean certainly below 0.8 (at most "),
        "{}",
        reason_of(&report, "low")
    );
    assert_eq!(json_case(&report, "low")["bound"]["side"], "upper");
    assert_eq!(runs_of(&sim, "edge"), 8, "an uncertain case runs to MAX, never beyond");
    let edge = json_case(&report, "edge");
    assert_eq!(edge["decision"], "inconclusive");
    assert_eq!(edge["status"], "passed", "judged by its mean 0.8, as with fixed trials");
    assert_eq!(edge["interval"]["kind"], "sequential");
    assert!(edge["interval"]["lower"].as_f64().unwrap_or(1.0) < 0.8);
    assert!(edge["interval"]["upper"].as_f64().unwrap_or(0.0) >= 0.8);
    assert!(
        out.stdout
            .contains("passes on its mean 0.8; not certain after 8 trials"),
        "the table says so\n{}",
        out.stdout
    );
}

#[test]
fn inconclusive_fail_fails_a_straddling_case() {
    // At threshold 0.3 a MAX of 6 can make a pass certain, so the range is accepted.
    let sim = Sim::start(Scenario::new(KEY).case(scored("edge", &[0.2, 0.4])));
    let dir = temp_dir("trials-inconclusive-fail");
    let json = dir.join("r.json");
    let out = run(gate(&sim.base_url())
        .args([
            "edge",
            "--trials",
            "2..6",
            "--threshold",
            "0.3",
            "--inconclusive",
            "fail",
        ])
        .arg("--json")
        .arg(&json));
    assert_code(&out, 1);
    let report = json_report(&json);
    assert_eq!(status_of(&report, "edge"), "failed");
    assert!(
        reason_of(&report, "edge").starts_with("fails: not certain after 6 trials (--inconclusive fail); mean 0.3"),
        "{}",
        reason_of(&report, "edge")
    );
    assert_eq!(json_case(&report, "edge")["failed_inconclusive"], true);
    assert_eq!(runs_of(&sim, "edge"), 6);
}

#[test]
fn inconclusive_fail_with_a_max_that_cannot_pass_is_refused() {
    let sim = Sim::start(Scenario::new(KEY).case(scored("c", &[1.0])));
    let out = run(gate(&sim.base_url()).args(["c", "--trials", "2..10", "--inconclusive", "fail"]));
    assert_code(&out, 2);
    assert!(out.stderr.contains("a certain pass needs at least 1"), "{}", out.stderr);
    assert!(
        out.stderr.contains("e.g. --trials 2..1"),
        "names the least MAX: {}",
        out.stderr
    );
    assert!(sim.requests().is_empty(), "refused before any request");
}

#[test]
fn a_max_that_cannot_pass_is_warned_about_and_the_mean_decides() {
    let sim = Sim::start(Scenario::new(KEY).case(scored("c", &[0.85, 0.8])));
    let dir = temp_dir("trials-warning");
    let json = dir.join("r.json");
    let out = run(gate(&sim.base_url())
        .args(["c", "--trials", "2..6"])
        .arg("--json")
        .arg(&json));
    assert_code(&out, 0);
    assert!(
        out.stderr
            .contains("warning: trials 2..6 at threshold 0.8 and confidence 0.95: a certain pass needs at least 1"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("judged by its mean score alone"), "{}", out.stderr);
    let report = json_report(&json);
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("a certain pass needs"), "{warnings}");
    assert_eq!(runs_of(&sim, "c"), 6);
}

#[test]
fn a_threshold_of_zero_passes_at_once() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(scored("zero", &[0.0]))
            .case(scored("half", &[0.5])),
    );
    let out = run(gate(&sim.base_url()).args(["zero", "half", "--trials", "1..8", "--threshold", "0"]));
    assert_code(&out, 0);
    assert_eq!(runs_of(&sim, "zero"), 1, "every mean is at least 0: one run is enough");
    assert_eq!(runs_of(&sim, "half"), 1);
}

#[test]
fn the_verdict_is_worded_the_same_in_terminal_summary_and_junit() {
    let sim = Sim::start(Scenario::new(KEY).case(scored("low", &[0.1])));
    let dir = temp_dir("trials-wording");
    let (junit, summary) = (dir.join("j.xml"), dir.join("summary.md"));
    let out = run(gate(&sim.base_url())
        .args(["low", "--trials", "2..8"])
        .arg("--junit")
        .arg(&junit)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("GITHUB_STEP_SUMMARY", &summary));
    assert_code(&out, 1);
    let sentence = "fails: mean certainly below 0.8 (at most ";
    let junit = std::fs::read_to_string(&junit).expect("junit written");
    // The summary escapes Markdown punctuation; the words are the same.
    let summary = std::fs::read_to_string(&summary)
        .expect("summary written")
        .replace('\\', "");
    assert!(out.stdout.contains(sentence), "terminal:\n{}", out.stdout);
    assert!(summary.contains(sentence), "summary:\n{summary}");
    assert!(junit.contains(&format!("certainty: {sentence}")), "junit:\n{junit}");
    for text in [&out.stdout, &summary, &junit] {
        assert!(
            !text.contains("interval [0,"),
            "the end the bets never aimed at is not shown:\n{text}"
        );
    }
}

#[test]
fn the_dry_run_shows_the_least_trials_to_be_certain() {
    let sim = Sim::start(Scenario::new(KEY).case(scored("c", &[0.9])));
    let out = run(gate(&sim.base_url()).args(["c", "--trials", "2..10", "--dry-run"]));
    assert_code(&out, 0);
    assert!(out.stdout.contains("a certain pass needs at least 1"), "{}", out.stdout);
    assert!(
        out.stdout.contains("MAX 10 cannot make a pass certain"),
        "{}",
        out.stdout
    );
}

#[test]
fn re_attaching_never_exceeds_max() {
    let sim = Sim::start(Scenario::new(KEY).case(scored("edge", &[0.7, 0.9])));
    let dir = temp_dir("trials-reattach");
    let state = dir.join("state.json");
    for _ in 0..2 {
        let out = run(gate(&sim.base_url())
            .args(["edge", "--trials", "2..6"])
            .arg("--state-file")
            .arg(&state));
        assert_code(&out, 0);
        assert_eq!(
            runs_of(&sim, "edge"),
            6,
            "the second invocation re-attaches to all six runs"
        );
    }
}

#[test]
fn a_fixed_number_of_trials_reports_its_interval() {
    let sim = Sim::start(Scenario::new(KEY).case(scored("f", &[0.9, 0.8, 1.0])));
    let dir = temp_dir("trials-fixed");
    let json = dir.join("r.json");
    let out = run(gate(&sim.base_url())
        .args(["f", "--trials", "3"])
        .arg("--json")
        .arg(&json));
    assert_code(&out, 0);
    let case = json_case(&json_report(&json), "f").clone();
    assert_eq!(case["interval"]["kind"], "fixed");
    assert_eq!(case["interval"]["confidence"], 0.95);
    assert_eq!(
        case["decision"],
        serde_json::Value::Null,
        "no sequential decision with fixed trials"
    );
    assert_eq!(runs_of(&sim, "f"), 3);
}

#[test]
fn a_range_with_another_aggregate_is_a_usage_error() {
    let sim = Sim::start(Scenario::new(KEY).case(scored("c", &[0.9])));
    let out = run(gate(&sim.base_url()).args(["c", "--trials", "2..5", "--aggregate", "min"]));
    assert_code(&out, 2);
    assert!(out.stderr.contains("MIN..MAX"), "{}", out.stderr);
    assert!(sim.requests().is_empty());
}
