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
        reason_of(&report, "low").contains("lies below the threshold"),
        "{}",
        reason_of(&report, "low")
    );
    assert_eq!(runs_of(&sim, "edge"), 8, "an uncertain case runs to MAX, never beyond");
    let edge = json_case(&report, "edge");
    assert_eq!(edge["decision"], "inconclusive");
    assert_eq!(edge["status"], "passed", "judged by its mean 0.8, as with fixed trials");
    assert_eq!(edge["interval"]["kind"], "sequential");
    assert!(edge["interval"]["lower"].as_f64().unwrap_or(1.0) < 0.8);
    assert!(edge["interval"]["upper"].as_f64().unwrap_or(0.0) >= 0.8);
    assert!(out.stdout.contains("inconclusive"), "the table says so\n{}", out.stdout);
}

#[test]
fn inconclusive_fail_fails_a_straddling_case() {
    let sim = Sim::start(Scenario::new(KEY).case(scored("edge", &[0.7, 0.9])));
    let dir = temp_dir("trials-inconclusive-fail");
    let json = dir.join("r.json");
    let out = run(gate(&sim.base_url())
        .args(["edge", "--trials", "2..4", "--inconclusive", "fail"])
        .arg("--json")
        .arg(&json));
    assert_code(&out, 1);
    let report = json_report(&json);
    assert_eq!(status_of(&report, "edge"), "failed");
    assert!(
        reason_of(&report, "edge").contains("inconclusive after 4 trials"),
        "{}",
        reason_of(&report, "edge")
    );
    assert_eq!(runs_of(&sim, "edge"), 4);
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
