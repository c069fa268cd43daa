//! End-to-end tests for the gating policy for noisy LLM judges: repeated trials and their
//! aggregate, per-case thresholds and trials from the config file, quarantined (non-blocking)
//! cases, baselines with a tolerated drop, config precedence, `--agent` and `--dry-run`. Each
//! test runs the real binary against kapso-sim with scores that vary from trial to trial.
//!
//! The simulator hands out a case's trial specs in the order its runs are created, and the gate
//! creates the runs of a case concurrently, so a trial index in the report need not match the
//! spec index: per-trial scores are compared as sorted lists.

use crate::support;
use crate::support::leak::{assert_no_secret_in_output, AddMask};
use crate::support::report::{json_case, json_report, status_of, Surfaces};
use crate::support::{assert_code, case as steady, posts, runs_of, Finished, KEY, RUN_MS};
use kapso_sim::{AgentSpec, CaseSpec, Endpoint, Scenario, Sim, SuiteSpec, TrialSpec};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A case whose successive runs score `scores` in turn.
fn varying(id: &str, scores: &[f64]) -> CaseSpec {
    scores.iter().fold(CaseSpec::new(id), |case, &score| {
        case.trial(TrialSpec::scored(score).duration_ms(RUN_MS))
    })
}

/// Scores compare with this tolerance (means of decimals are not exact in binary).
const EPS: f64 = 1e-6;

fn assert_close(actual: Option<f64>, expected: f64, what: &str) {
    let actual = actual.unwrap_or_else(|| panic!("{what}: no number"));
    assert!(
        (actual - expected).abs() < EPS,
        "{what}: expected {expected}, got {actual}"
    );
}

/// Writes `text` to `name` in `dir` and returns the path.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

/// Runs `cmd` with `--json` into `dir` and returns the outcome and the parsed report.
fn run_json(cmd: &mut Command, dir: &Path) -> (Finished, Value) {
    let json = dir.join("report.json");
    let _ = std::fs::remove_file(&json);
    let out = support::run(cmd.arg("--json").arg(&json));
    // In GitHub Actions the key is registered as a secret with `::add-mask::`; nothing else may
    // show it.
    assert_no_secret_in_output(&out, KEY, AddMask::Allowed);
    (out, json_report(&json))
}

/// Makes the gate believe it runs in GitHub Actions and write its job summary to `summary`.
fn with_step_summary<'a>(cmd: &'a mut Command, summary: &Path) -> &'a mut Command {
    cmd.env("GITHUB_ACTIONS", "true").env("GITHUB_STEP_SUMMARY", summary)
}

/// The trials' scores of a case, sorted.
fn trial_scores(case: &Value) -> Vec<f64> {
    let mut scores: Vec<f64> = case["trials"]
        .as_array()
        .expect("trials array")
        .iter()
        .filter_map(|t| t["score"].as_f64())
        .collect();
    scores.sort_by(f64::total_cmp);
    scores
}

fn case_ids_in(report: &Value) -> Vec<String> {
    report["cases"]
        .as_array()
        .expect("cases array")
        .iter()
        .map(|c| c["test_case_id"].as_str().expect("id").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Trials and aggregates

#[test]
fn mean_median_and_min_give_different_verdicts() {
    // Threshold 0.75.
    // skewed:  1.0, 0.9, 0.2 -> mean 0.7 (fail), median 0.9 (pass), min 0.2 (fail)
    // lifted:  1.0, 0.7, 0.7 -> mean 0.8 (pass), median 0.7 (fail), min 0.7 (fail)
    // solid:   0.9, 0.8, 0.8 -> mean 0.833, median 0.8, min 0.8: passes with every aggregate
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(varying("skewed", &[1.0, 0.9, 0.2]))
            .case(varying("lifted", &[1.0, 0.7, 0.7]))
            .case(varying("solid", &[0.9, 0.8, 0.8])),
    );
    let expected = [
        (
            "mean",
            [
                ("skewed", "failed", 0.7),
                ("lifted", "passed", 0.8),
                ("solid", "passed", 2.5 / 3.0),
            ],
        ),
        (
            "median",
            [
                ("skewed", "passed", 0.9),
                ("lifted", "failed", 0.7),
                ("solid", "passed", 0.8),
            ],
        ),
        (
            "min",
            [
                ("skewed", "failed", 0.2),
                ("lifted", "failed", 0.7),
                ("solid", "passed", 0.8),
            ],
        ),
    ];
    for (aggregate, cases) in expected {
        let dir = support::temp_dir(&format!("aggregate-{aggregate}"));
        let (out, report) = run_json(
            support::gate(&sim.base_url()).args([
                "skewed",
                "lifted",
                "solid",
                "--trials",
                "3",
                "--threshold",
                "0.75",
                "--aggregate",
                aggregate,
            ]),
            &dir,
        );
        assert_code(&out, 1);
        assert_eq!(report["aggregate"], aggregate, "{report:#}");
        for (id, status, score) in cases {
            assert_eq!(status_of(&report, id), status, "{aggregate} of {id}\n{}", out.stdout);
            assert_close(
                json_case(&report, id)["score"].as_f64(),
                score,
                &format!("{aggregate} score of {id}"),
            );
        }
        let failing = cases
            .iter()
            .find(|(_, status, _)| *status == "failed")
            .expect("a failing case")
            .0;
        let reason = json_case(&report, failing)["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            reason.contains(aggregate) && reason.contains("0.75"),
            "the reason names the aggregate and threshold: {reason}"
        );
    }
}

#[test]
fn the_aggregate_alone_decides_the_exit_code() {
    // 1.0, 0.9, 0.2 against 0.75: only the median passes.
    for (aggregate, code) in [("mean", 1), ("median", 0), ("min", 1)] {
        let sim = Sim::start(Scenario::new(KEY).case(varying("skewed", &[1.0, 0.9, 0.2])));
        let out = support::run(support::gate(&sim.base_url()).args([
            "skewed",
            "--trials",
            "3",
            "--threshold",
            "0.75",
            "--aggregate",
            aggregate,
        ]));
        assert_code(&out, code);
        assert_eq!(sim.runs().len(), 3, "{aggregate}");
    }
}

#[test]
fn median_of_an_even_number_of_trials_averages_the_middle_two() {
    // 0.9, 0.5, 0.7, 1.0 -> median (0.7 + 0.9) / 2 = 0.8: passes 0.8 inclusively. Given through
    // KAPSO_AGGREGATE and KAPSO_TRIALS to cover the variables.
    let sim = Sim::start(Scenario::new(KEY).case(varying("even", &[0.9, 0.5, 0.7, 1.0])));
    let dir = support::temp_dir("even-median");
    let (out, report) = run_json(
        support::gate(&sim.base_url())
            .arg("even")
            .env("KAPSO_AGGREGATE", "median")
            .env("KAPSO_TRIALS", "4"),
        &dir,
    );
    assert_code(&out, 0);
    assert_eq!(runs_of(&sim, "even"), 4);
    assert_eq!(report["trials"], 4);
    assert_eq!(report["aggregate"], "median");
    assert_close(json_case(&report, "even")["score"].as_f64(), 0.8, "median");
}

#[test]
fn default_aggregate_is_the_mean_of_one_trial() {
    let sim = Sim::start(Scenario::new(KEY).case(varying("once", &[0.85, 0.1])));
    let dir = support::temp_dir("default-aggregate");
    let (out, report) = run_json(support::gate(&sim.base_url()).arg("once"), &dir);
    assert_code(&out, 0);
    assert_eq!(sim.runs().len(), 1, "one trial by default");
    assert_eq!(report["trials"], 1);
    assert_eq!(report["aggregate"], "mean");
    let case = json_case(&report, "once");
    assert_eq!(case["trials"].as_array().map(Vec::len), Some(1));
    assert!(case["score_spread"].is_null(), "no spread for one trial: {case:#}");
}

#[test]
fn a_crashed_trial_errors_the_case_whatever_the_others_scored() {
    for aggregate in ["mean", "median"] {
        let sim = Sim::start(
            Scenario::new(KEY)
                .case(
                    CaseSpec::new("crashy")
                        .trial(TrialSpec::scored(1.0).duration_ms(RUN_MS))
                        .trial(TrialSpec::crashed("judge model timed out").duration_ms(RUN_MS))
                        .trial(TrialSpec::scored(0.95).duration_ms(RUN_MS)),
                )
                .case(steady("fine", 0.9)),
        );
        let dir = support::temp_dir(&format!("crash-{aggregate}"));
        let (out, report) = run_json(
            support::gate(&sim.base_url()).args(["crashy", "fine", "--trials", "3", "--aggregate", aggregate]),
            &dir,
        );
        assert_code(&out, 1);
        assert_eq!(runs_of(&sim, "crashy"), 3);
        let case = json_case(&report, "crashy");
        assert_eq!(case["status"], "errored", "{aggregate}: {case:#}");
        assert_eq!(
            trial_scores(case),
            vec![0.95, 1.0],
            "the scored trials are still reported"
        );
        let statuses: Vec<&str> = case["trials"]
            .as_array()
            .expect("trials")
            .iter()
            .filter_map(|t| t["status"].as_str())
            .collect();
        assert_eq!(statuses.iter().filter(|s| **s == "errored").count(), 1, "{statuses:?}");
        let text = format!("{} {}", case["reason"], case["error"]);
        assert!(text.contains("judge model timed out"), "the crash is explained: {text}");
        assert!(
            out.stdout.contains("judge model timed out"),
            "the terminal shows the crash\n{}",
            out.stdout
        );
        assert_eq!(status_of(&report, "fine"), "passed");
        assert_eq!(report["counts"]["errored"], 1);
    }
}

#[test]
fn trials_create_that_many_runs_in_flight_together_and_the_json_shows_each_score_and_the_spread() {
    // Long enough runs that all trials are demonstrably in flight together.
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(
                CaseSpec::new("noisy")
                    .name("Noisy judge")
                    .trial(TrialSpec::scored(0.9).duration_ms(200))
                    .trial(TrialSpec::scored(0.6).duration_ms(200))
                    .trial(TrialSpec::scored(0.8).duration_ms(200)),
            )
            .case(CaseSpec::passing("calm", 0.95).duration_ms(200)),
    );
    let dir = support::temp_dir("trials");
    let (out, report) = run_json(
        support::gate(&sim.base_url()).args(["noisy", "calm", "--trials", "3"]),
        &dir,
    );
    // mean(0.9, 0.6, 0.8) = 0.767 < 0.8
    assert_code(&out, 1);
    assert_eq!(runs_of(&sim, "noisy"), 3);
    assert_eq!(runs_of(&sim, "calm"), 3);
    assert_eq!(posts(&sim).len(), 6, "exactly one creation per trial");

    let runs = sim.runs();
    let first_finish = runs.iter().filter_map(|r| r.finishes_at).min().expect("finished runs");
    let last_created = runs.iter().map(|r| r.created_at).max().expect("runs");
    assert!(
        last_created < first_finish,
        "all trials are in flight together: last created at {last_created:?}, first finished at {first_finish:?}"
    );

    assert_eq!(report["trials"], 3);
    let noisy = json_case(&report, "noisy");
    assert_eq!(noisy["status"], "failed");
    assert_eq!(trial_scores(noisy), vec![0.6, 0.8, 0.9]);
    assert_close(noisy["score"].as_f64(), 2.3 / 3.0, "mean");
    assert_close(noisy["score_spread"].as_f64(), 0.3, "spread");
    let mut indexes: Vec<u64> = noisy["trials"]
        .as_array()
        .expect("trials")
        .iter()
        .filter_map(|t| t["trial"].as_u64())
        .collect();
    indexes.sort_unstable();
    assert_eq!(indexes, vec![0, 1, 2]);
    let mut run_ids: Vec<&str> = noisy["trials"]
        .as_array()
        .expect("trials")
        .iter()
        .filter_map(|t| t["run_id"].as_str())
        .collect();
    run_ids.sort_unstable();
    run_ids.dedup();
    assert_eq!(run_ids.len(), 3, "each trial has its own run");

    let calm = json_case(&report, "calm");
    assert_eq!(calm["status"], "passed");
    assert_eq!(trial_scores(calm), vec![0.95, 0.95, 0.95]);
    assert_close(calm["score_spread"].as_f64(), 0.0, "spread of equal scores");

    let trials_line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("trials:"))
        .unwrap_or_else(|| panic!("the terminal lists the trials of the failing case\n{}", out.stdout));
    for part in ["0.6", "0.8", "0.9", "spread 0.3"] {
        assert!(trials_line.contains(part), "{part} missing: {trials_line}");
    }
}

#[test]
fn every_report_format_shows_each_trial_score_and_the_spread() {
    // noisy fails (mean 0.767), wobbly passes (mean 0.85) with a spread of 0.4 worth seeing.
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(varying("noisy", &[0.91, 0.62, 0.77]).name("Noisy judge"))
            .case(varying("wobbly", &[0.99, 0.59, 0.97]).name("Wobbly judge")),
    );
    let dir = support::temp_dir("trial-formats");
    let junit = dir.join("junit.xml");
    let summary = dir.join("summary.md");
    let (out, _) = run_json(
        with_step_summary(&mut support::gate(&sim.base_url()), &summary)
            .args(["noisy", "wobbly", "--trials", "3", "--junit"])
            .arg(&junit),
        &dir,
    );
    assert_code(&out, 1);
    let cases = [
        ("noisy", ["0.91", "0.62", "0.77"], "0.29"),
        ("wobbly", ["0.99", "0.59", "0.97"], "0.4"),
    ];
    Surfaces::of(&out, &summary, &junit).assert_every_case_shown(&cases, |text, (case, scores, spread)| {
        let mut missing: Vec<String> = scores
            .iter()
            .filter(|score| !text.contains(*score))
            .map(|score| format!("trial score {score} of {case}"))
            .collect();
        if !text.contains(&format!("spread {spread}"))
            && !text.contains(&format!("spread: {spread}"))
            && !text.contains(&format!("\"spread\" value=\"{spread}\""))
        {
            missing.push(format!("spread {spread} of {case}"));
        }
        missing
    });
}

/// A run score the gate cannot compare, as a number or as JSON text a f64 cannot hold.
enum Sent {
    Number(f64),
    Text(&'static str),
}

#[test]
fn a_score_out_of_range_errors_its_case_and_fails_the_gate() {
    let rows = [
        ("minus-1e29", Sent::Number(-1e29), "-1e29"),
        ("just-beyond", Sent::Number(1_000_000.5), "1.0000005e6"),
        ("largest", Sent::Number(f64::MAX), "1.7976931348623157e308"),
        ("beyond-f64", Sent::Text("1e400"), "1e400"),
        ("below-f64", Sent::Text("-1E+400"), "-1E+400"),
    ];
    let scenario = rows
        .iter()
        .fold(Scenario::new(KEY).case(steady("fine", 0.9)), |s, (id, sent, _)| {
            let trial = match sent {
                Sent::Number(score) => TrialSpec::scored(*score),
                Sent::Text(raw) => TrialSpec::raw_score(*raw),
            };
            s.case(CaseSpec::new(*id).trial(trial.duration_ms(RUN_MS)))
        });
    let sim = Sim::start(scenario);
    let dir = support::temp_dir("score-out-of-range");
    let ids: Vec<&str> = rows.iter().map(|(id, _, _)| *id).collect();
    // A short deadline: a gate that cannot read the run's body would poll until it.
    let (out, report) = run_json(
        support::gate(&sim.base_url())
            .env("KAPSO_TIMEOUT", "20s")
            .arg("fine")
            .args(&ids),
        &dir,
    );
    assert_code(&out, 1);
    assert_eq!(status_of(&report, "fine"), "passed", "{report:#}");
    for (id, _, shown) in &rows {
        let case = json_case(&report, id);
        assert_eq!(case["status"], "errored", "{id}: {case:#}");
        assert!(case["score"].is_null(), "{id}: no score to compare: {case:#}");
        let reason = case["reason"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with(&format!("score out of range: {shown} ")),
            "{id}: {reason}"
        );
        assert_eq!(runs_of(&sim, id), 1, "{id}: the run is read once finished, not retried");
    }
    assert!(out.stdout.contains("score out of range"), "{}", out.stdout);
}

#[test]
fn a_score_near_the_range_limits_is_compared_exactly() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(steady("top", 1e6))
            .case(steady("tiny", 5e-324))
            .case(steady("third", 0.3)),
    );
    let dir = support::temp_dir("score-limits");
    // 0.1 + 0.2 is 0.30000000000000004 in binary: as a decimal of nine places it is 0.3.
    let (out, report) = run_json(
        support::gate(&sim.base_url())
            .args(["top", "tiny", "third", "--threshold"])
            .arg((0.1f64 + 0.2).to_string()),
        &dir,
    );
    assert_code(&out, 1);
    assert_eq!(status_of(&report, "top"), "passed", "{report:#}");
    assert_eq!(status_of(&report, "third"), "passed", "{report:#}");
    assert_eq!(status_of(&report, "tiny"), "failed", "{report:#}");
    assert_eq!(json_case(&report, "top")["score"].as_f64(), Some(1e6));
}

#[test]
fn out_of_range_policy_values_are_usage_errors() {
    let sim = Sim::start(Scenario::new(KEY).case(steady("a", 0.9)));
    for args in [
        ["--trials", "0"],
        ["--trials", "51"],
        ["--aggregate", "max"],
        ["--max-drop", "-0.1"],
        // Beyond the range the gate compares scores in.
        ["--threshold", "1e10"],
        ["--max-drop", "1e300"],
    ] {
        let out = support::run(support::gate(&sim.base_url()).arg("a").args(args));
        assert_code(&out, 2);
        assert!(
            out.stderr.contains(args[0]),
            "{args:?}: the message names the option\n{}",
            out.stderr
        );
    }
    assert!(sim.requests().is_empty(), "usage errors send nothing");
}

// ---------------------------------------------------------------------------------------------
// Config file: per-case thresholds, trials and quarantine

#[test]
fn per_case_thresholds_override_the_global_one_in_both_directions() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(steady("strict", 0.85))
            .case(steady("lenient", 0.6))
            .case(steady("plain", 0.85)),
    );
    let dir = support::temp_dir("case-thresholds");
    let config = write(
        &dir,
        "gate.toml",
        r#"threshold = 0.8

[cases."strict"]
threshold = 0.9

[cases."lenient"]
threshold = 0.5
note = "judge is harsh on small talk"
"#,
    );
    let (out, report) = run_json(
        support::gate(&sim.base_url())
            .args(["strict", "lenient", "plain", "--config"])
            .arg(&config),
        &dir,
    );
    assert_code(&out, 1);
    assert_eq!(report["threshold"], 0.8);
    let strict = json_case(&report, "strict");
    assert_eq!(strict["status"], "failed", "0.85 is below its own 0.9: {strict:#}");
    assert_eq!(strict["threshold"], 0.9);
    assert!(
        strict["reason"].as_str().unwrap_or_default().contains("0.9"),
        "{strict:#}"
    );
    let lenient = json_case(&report, "lenient");
    assert_eq!(lenient["status"], "passed", "0.6 meets its own 0.5: {lenient:#}");
    assert_eq!(lenient["threshold"], 0.5);
    let plain = json_case(&report, "plain");
    assert_eq!(plain["status"], "passed");
    assert_eq!(plain["threshold"], 0.8);
    assert!(out.stdout.contains("0.9"), "{}", out.stdout);

    // Without the strict case the lenient one alone passes the gate, although it is below the
    // global threshold; a case's own threshold also wins over --threshold.
    let (out, report) = run_json(
        support::gate(&sim.base_url())
            .args(["lenient", "plain", "--threshold", "0.85", "--config"])
            .arg(&config),
        &dir,
    );
    assert_code(&out, 0);
    assert_eq!(json_case(&report, "lenient")["threshold"], 0.5);
    assert_eq!(json_case(&report, "plain")["threshold"], 0.85);
}

#[test]
fn per_case_trials_in_the_config() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(varying("many", &[0.9, 0.8, 1.0, 0.85]))
            .case(steady("once", 0.9))
            .case(steady("default", 0.9)),
    );
    let dir = support::temp_dir("case-trials");
    let config = write(
        &dir,
        "gate.toml",
        r#"trials = 2

[cases.many]
trials = 4

[cases.once]
trials = 1
"#,
    );
    let (out, report) = run_json(
        support::gate(&sim.base_url())
            .args(["many", "once", "default", "--config"])
            .arg(&config),
        &dir,
    );
    assert_code(&out, 0);
    assert_eq!(runs_of(&sim, "many"), 4);
    assert_eq!(runs_of(&sim, "once"), 1);
    assert_eq!(runs_of(&sim, "default"), 2, "the config's global trials");
    assert_eq!(report["trials"], 2);
    assert_eq!(trial_scores(json_case(&report, "many")), vec![0.8, 0.85, 0.9, 1.0]);
    assert_eq!(json_case(&report, "once")["trials"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        json_case(&report, "default")["trials"].as_array().map(Vec::len),
        Some(2)
    );

    // --trials replaces the global default, not the per-case entries.
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(steady("many", 0.9))
            .case(steady("once", 0.9))
            .case(steady("default", 0.9)),
    );
    let out = support::run(
        support::gate(&sim.base_url())
            .args(["many", "once", "default", "--trials", "3", "--config"])
            .arg(&config),
    );
    assert_code(&out, 0);
    assert_eq!(runs_of(&sim, "many"), 4);
    assert_eq!(runs_of(&sim, "once"), 1);
    assert_eq!(runs_of(&sim, "default"), 3);
}

#[test]
fn a_non_blocking_failing_case_does_not_fail_the_gate_and_is_counted() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(steady("good", 0.9).name("Greets the customer"))
            .case(
                steady("flaky", 0.3)
                    .name("Handles sarcasm")
                    .feedback("❌ Took the joke literally"),
            )
            .case(
                CaseSpec::new("crashy")
                    .name("Voice notes")
                    .trial(TrialSpec::crashed("audio pipeline down").duration_ms(RUN_MS)),
            ),
    );
    let dir = support::temp_dir("quarantine");
    let config = write(
        &dir,
        "gate.toml",
        r#"[cases.flaky]
blocking = false
note = "judge flips on sarcasm, ticket #41"

[cases.crashy]
blocking = false
"#,
    );
    let junit = dir.join("junit.xml");
    let summary = dir.join("summary.md");
    let (out, report) = run_json(
        with_step_summary(&mut support::gate(&sim.base_url()), &summary)
            .args(["good", "flaky", "crashy", "--config"])
            .arg(&config)
            .arg("--junit")
            .arg(&junit),
        &dir,
    );
    assert_code(&out, 0);
    assert_eq!(runs_of(&sim, "flaky"), 1, "a quarantined case still runs");
    assert_eq!(report["verdict"], "passed");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["counts"]["non_blocking"], 2, "{:#}", report["counts"]);
    assert_eq!(report["counts"]["failed"], 1);
    assert_eq!(report["counts"]["errored"], 1);
    assert_eq!(report["counts"]["passed"], 1);
    let flaky = json_case(&report, "flaky");
    assert_eq!(flaky["status"], "failed");
    assert_eq!(flaky["blocking"], false);
    assert_close(flaky["score"].as_f64(), 0.3, "score");
    assert_eq!(json_case(&report, "crashy")["status"], "errored");
    assert_eq!(json_case(&report, "crashy")["blocking"], false);
    assert_eq!(json_case(&report, "good")["blocking"], true);

    assert!(
        out.stdout.contains("non-blocking"),
        "the terminal says the case is non-blocking\n{}",
        out.stdout
    );
    let flaky_row = out
        .stdout
        .lines()
        .find(|l| l.contains("Handles sarcasm") && l.contains("non-blocking"))
        .unwrap_or_else(|| panic!("no table row marks the quarantined case\n{}", out.stdout));
    assert!(flaky_row.contains("FAIL"), "{flaky_row}");
    assert!(
        out.stdout.contains("Took the joke literally"),
        "the quarantined failure is still explained\n{}",
        out.stdout
    );
    let xml = support::read(&junit);
    assert!(
        xml.contains("blocking") && xml.contains("Handles sarcasm"),
        "the JUnit report marks it\n{xml}"
    );
    let markdown = support::read(&summary);
    assert!(
        markdown.contains("non-blocking") || markdown.contains("quarantine"),
        "the job summary says the failing case is non-blocking\n{markdown}"
    );
}

#[test]
fn the_quarantine_note_is_shown_in_the_reports() {
    // config.rs documents `note` as "shown in reports": the reason a case is quarantined should
    // travel with it, so quarantine does not rot silently.
    let sim = Sim::start(Scenario::new(KEY).case(steady("good", 0.9)).case(steady("flaky", 0.3)));
    let dir = support::temp_dir("quarantine-note");
    let note = "judge flips on sarcasm, ticket 41";
    let config = write(
        &dir,
        "gate.toml",
        &format!("[cases.flaky]\nblocking = false\nnote = \"{note}\"\n"),
    );
    let summary = dir.join("summary.md");
    let junit = dir.join("junit.xml");
    let (out, report) = run_json(
        with_step_summary(&mut support::gate(&sim.base_url()), &summary)
            .args(["good", "flaky", "--config"])
            .arg(&config)
            .arg("--junit")
            .arg(&junit),
        &dir,
    );
    assert_code(&out, 0);
    Surfaces::of(&out, &summary, &junit)
        .with("JSON", report.to_string())
        .assert_every_case_shown(&[note], |text, note| {
            if text.contains(note) {
                Vec::new()
            } else {
                vec![format!("the note {note:?}")]
            }
        });
}

#[test]
fn a_gate_of_only_quarantined_cases_is_not_failed_by_them() {
    // A non-blocking case cannot fail the gate. With nothing blocking left, a failing quarantined
    // case must not turn the gate red (exit 1) nor be reported as a usage error without
    // explanation.
    let sim = Sim::start(Scenario::new(KEY).case(steady("flaky", 0.3)));
    let dir = support::temp_dir("only-quarantine");
    let config = write(&dir, "gate.toml", "[cases.flaky]\nblocking = false\n");
    let (out, report) = run_json(
        support::gate(&sim.base_url()).args(["flaky", "--config"]).arg(&config),
        &dir,
    );
    assert_eq!(runs_of(&sim, "flaky"), 1);
    assert_eq!(report["counts"]["non_blocking"], 1);
    assert_code(&out, 0);
    assert!(
        out.stdout.contains("every selected case is non-blocking"),
        "the pass must say why it cannot fail\n{}",
        out.all_output()
    );
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("every selected case is non-blocking"), "{report:#}");
}

#[test]
fn unknown_config_keys_are_usage_errors_naming_key_and_line() {
    let sim = Sim::start(Scenario::new(KEY).case(steady("a", 0.9)));
    let dir = support::temp_dir("unknown-key");
    let cases = [
        (
            "top.toml",
            "# gate policy\nthreshold = 0.8\ntreshold = 0.9\n",
            "treshold",
            "line 3",
        ),
        (
            "case.toml",
            "trials = 2\n\n[cases.a]\nthreshold = 0.5\nblockng = false\n",
            "blockng",
            "line 5",
        ),
    ];
    for (name, text, key, line) in cases {
        let config = write(&dir, name, text);
        let out = support::run(support::gate(&sim.base_url()).arg("a").arg("--config").arg(&config));
        assert_code(&out, 2);
        assert!(
            out.stderr.contains(key) && out.stderr.contains(line),
            "{name}: the message names {key:?} and {line:?}\n{}",
            out.stderr
        );
        assert!(out.stderr.contains(name), "the message names the file\n{}", out.stderr);
    }
    let missing = support::run(
        support::gate(&sim.base_url())
            .arg("a")
            .arg("--config")
            .arg(dir.join("absent.toml")),
    );
    assert_code(&missing, 2);
    assert!(sim.requests().is_empty(), "a bad config file sends nothing");
}

#[test]
fn precedence_is_flag_then_env_then_config_then_default() {
    // Score 0.75 passes 0.7 and 0.74, fails 0.76 and the default 0.8.
    let sim = Sim::start(Scenario::new(KEY).case(steady("a", 0.75)));
    let dir = support::temp_dir("precedence");
    let config = write(&dir, "gate.toml", "threshold = 0.7\naggregate = \"min\"\n");

    let (out, report) = run_json(support::gate(&sim.base_url()).arg("a"), &dir);
    assert_code(&out, 1);
    assert_eq!(report["threshold"], 0.8, "default");

    let (out, report) = run_json(
        support::gate(&sim.base_url()).arg("a").arg("--config").arg(&config),
        &dir,
    );
    assert_code(&out, 0);
    assert_eq!(report["threshold"], 0.7, "config beats default");
    assert_eq!(report["aggregate"], "min", "config beats default");

    let (out, report) = run_json(
        support::gate(&sim.base_url())
            .arg("a")
            .env("KAPSO_CONFIG", &config)
            .env("KAPSO_THRESHOLD", "0.76")
            .env("KAPSO_AGGREGATE", "median"),
        &dir,
    );
    assert_code(&out, 1);
    assert_eq!(report["threshold"], 0.76, "env beats config (given by KAPSO_CONFIG)");
    assert_eq!(report["aggregate"], "median", "env beats config");

    let (out, report) = run_json(
        support::gate(&sim.base_url())
            .args(["a", "--threshold", "0.74", "--aggregate", "mean", "--config"])
            .arg(&config)
            .env("KAPSO_THRESHOLD", "0.76")
            .env("KAPSO_AGGREGATE", "median"),
        &dir,
    );
    assert_code(&out, 0);
    assert_eq!(report["threshold"], 0.74, "flag beats env");
    assert_eq!(report["aggregate"], "mean", "flag beats env");
}

#[test]
fn the_config_selection_applies_only_when_none_is_given() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(steady("from-file", 0.9))
            .case(steady("from-flag", 0.9))
            .case(steady("from-env", 0.9)),
    );
    let dir = support::temp_dir("config-selection");
    let config = write(&dir, "gate.toml", "test-cases = [\"from-file\"]\n");

    let (out, report) = run_json(support::gate(&sim.base_url()).arg("--config").arg(&config), &dir);
    assert_code(&out, 0);
    assert_eq!(case_ids_in(&report), vec!["from-file"]);

    let (out, report) = run_json(
        support::gate(&sim.base_url())
            .args(["from-flag", "--config"])
            .arg(&config),
        &dir,
    );
    assert_code(&out, 0);
    assert_eq!(case_ids_in(&report), vec!["from-flag"]);

    let (out, report) = run_json(
        support::gate(&sim.base_url())
            .arg("--config")
            .arg(&config)
            .env("KAPSO_TEST_CASE_IDS", "from-env"),
        &dir,
    );
    assert_code(&out, 0);
    assert_eq!(case_ids_in(&report), vec!["from-env"]);
    assert_eq!(runs_of(&sim, "from-file"), 1);
}

// ---------------------------------------------------------------------------------------------
// Baselines

/// Writes a baseline by running the gate for real against `scores` and returns its path.
fn baseline_from_run(dir: &Path, scores: &[(&str, f64)]) -> PathBuf {
    let sim = Sim::start(scores.iter().fold(Scenario::new(KEY), |scenario, (id, score)| {
        scenario.case(steady(id, *score))
    }));
    let path = dir.join("baseline.json");
    let out = support::run(
        support::gate(&sim.base_url())
            .args(scores.iter().map(|(id, _)| *id))
            .arg("--json")
            .arg(&path),
    );
    assert_code(&out, 0);
    path
}

#[test]
fn a_baseline_score_out_of_range_fails_closed_with_a_clear_reason() {
    // A report the gate wrote never records a score out of range (that trial is errored, its
    // score null): a baseline that does was damaged or forged. It is refused, naming the case,
    // never read as an absurd drop.
    let dir = support::temp_dir("baseline-out-of-range");
    let baseline = baseline_from_run(&dir, &[("far", 0.9), ("near", 0.9)]);
    let mut forged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).expect("baseline")).expect("json");
    for case in forged["cases"].as_array_mut().expect("cases") {
        if case["test_case_id"] == "far" {
            case["score"] = serde_json::json!(-1e308);
            case["trials"][0]["score"] = serde_json::json!(-1e308);
        }
    }
    std::fs::write(&baseline, forged.to_string()).expect("write");
    let sim = Sim::start(Scenario::new(KEY).case(steady("far", 0.9)).case(steady("near", 0.88)));
    let out = support::run(
        support::gate(&sim.base_url())
            .args(["far", "near", "--max-drop", "0.05", "--baseline"])
            .arg(&baseline),
    );
    assert_code(&out, 2);
    assert!(
        out.stderr.contains("test case far") && out.stderr.contains("baseline.json"),
        "{}",
        out.stderr
    );
    assert!(
        !format!("{}{}", out.stdout, out.stderr).contains("fell by"),
        "no absurd drop"
    );
    assert!(sim.runs().is_empty(), "refused before any run is created");
}

#[test]
fn a_drop_beyond_the_tolerance_fails_a_passing_case() {
    let dir = support::temp_dir("baseline-drop");
    let baseline = baseline_from_run(&dir, &[("dropped", 0.95), ("dipped", 0.95), ("rose", 0.9)]);
    // Same names as the baseline's cases: a renamed case has another definition digest and is
    // not comparable (see `regression::a_changed_rubric_is_not_comparable_and_not_gated`).
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(steady("dropped", 0.85))
            .case(steady("dipped", 0.92))
            .case(steady("rose", 0.95))
            .case(steady("new", 0.9)),
    );
    let (out, report) = run_json(
        support::gate(&sim.base_url())
            .args(["dropped", "dipped", "rose", "new", "--max-drop", "0.05", "--baseline"])
            .arg(&baseline),
        &dir,
    );
    assert_code(&out, 1);
    let dropped = json_case(&report, "dropped");
    assert_eq!(
        dropped["status"], "failed",
        "0.85 passes 0.8 but fell by 0.1: {dropped:#}"
    );
    assert_close(dropped["baseline_score"].as_f64(), 0.95, "baseline score");
    assert_close(dropped["delta"].as_f64(), -0.1, "delta");
    let reason = dropped["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("baseline"),
        "the reason mentions the baseline: {reason}"
    );
    assert_eq!(status_of(&report, "dipped"), "passed", "a drop of 0.03 is tolerated");
    assert_close(json_case(&report, "dipped")["delta"].as_f64(), -0.03, "delta");
    assert_eq!(status_of(&report, "rose"), "passed");
    assert_close(json_case(&report, "rose")["delta"].as_f64(), 0.05, "delta");
    let new = json_case(&report, "new");
    assert_eq!(
        new["status"], "passed",
        "a case absent from the baseline is judged as usual"
    );
    assert!(new["delta"].is_null() && new["baseline_score"].is_null(), "{new:#}");
    assert!(
        out.stdout.contains("baseline"),
        "the terminal explains the baseline failure\n{}",
        out.stdout
    );
}

#[test]
fn a_drop_within_the_tolerance_passes_and_deltas_are_reported() {
    let dir = support::temp_dir("baseline-within");
    let baseline = baseline_from_run(&dir, &[("edge", 0.9), ("dipped", 0.95)]);
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(steady("edge", 0.8))
            .case(steady("dipped", 0.92)),
    );
    // Through the environment variables; a drop of exactly the tolerance is tolerated.
    let (out, report) = run_json(
        support::gate(&sim.base_url())
            .args(["edge", "dipped"])
            .env("KAPSO_BASELINE", &baseline)
            .env("KAPSO_MAX_DROP", "0.1"),
        &dir,
    );
    assert_code(&out, 0);
    assert_close(json_case(&report, "edge")["delta"].as_f64(), -0.1, "delta");
    assert_close(json_case(&report, "edge")["baseline_score"].as_f64(), 0.9, "baseline");
    assert_close(json_case(&report, "dipped")["delta"].as_f64(), -0.03, "delta");

    // Without --max-drop the baseline only reports: a large drop does not fail.
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(steady("edge", 0.8))
            .case(steady("dipped", 0.81)),
    );
    let (out, report) = run_json(
        support::gate(&sim.base_url())
            .args(["edge", "dipped", "--baseline"])
            .arg(&baseline),
        &dir,
    );
    assert_code(&out, 0);
    assert_close(json_case(&report, "dipped")["delta"].as_f64(), -0.14, "delta");
}

#[test]
fn every_report_format_shows_the_delta_per_case() {
    let dir = support::temp_dir("baseline-formats");
    let baseline = baseline_from_run(&dir, &[("steady-case", 0.95), ("sliding", 0.97)]);
    // steady-case passes with a small drop (0.95 -> 0.92); sliding fails on its drop (0.97 -> 0.83).
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(steady("steady-case", 0.92))
            .case(steady("sliding", 0.83)),
    );
    let summary = dir.join("summary.md");
    let junit = dir.join("junit.xml");
    let (out, report) = run_json(
        with_step_summary(&mut support::gate(&sim.base_url()), &summary)
            .args(["steady-case", "sliding", "--max-drop", "0.1", "--baseline"])
            .arg(&baseline)
            .arg("--junit")
            .arg(&junit),
        &dir,
    );
    assert_code(&out, 1);
    assert_eq!(status_of(&report, "sliding"), "failed");
    assert_eq!(status_of(&report, "steady-case"), "passed");
    let cases = [("steady-case", "0.03"), ("sliding", "0.14")];
    Surfaces::of(&out, &summary, &junit).assert_every_case_shown(&cases, |text, (case, delta)| {
        let shown = ["-", "\u{2212}", "fell by ", "change -"]
            .iter()
            .any(|sign| text.contains(&format!("{sign}{delta}")));
        if shown {
            Vec::new()
        } else {
            vec![format!("delta -{delta} of {case}")]
        }
    });
}

#[test]
fn a_baseline_that_is_not_a_report_is_a_usage_error() {
    let sim = Sim::start(Scenario::new(KEY).case(steady("a", 0.9)));
    let dir = support::temp_dir("bad-baseline");
    let files = [
        ("text.json", "not json at all"),
        ("object.json", "{\"cases\": []}"),
        ("future.json", "{\"schema_version\": 99, \"cases\": []}"),
        ("junit.xml", "<?xml version=\"1.0\"?><testsuites/>"),
    ];
    for (name, text) in files {
        let path = write(&dir, name, text);
        let out = support::run(support::gate(&sim.base_url()).arg("a").arg("--baseline").arg(&path));
        assert_code(&out, 2);
        assert!(
            out.stderr.contains("baseline") && out.stderr.contains(name),
            "{name}: the message names the baseline file\n{}",
            out.stderr
        );
    }
    let out = support::run(
        support::gate(&sim.base_url())
            .arg("a")
            .arg("--baseline")
            .arg(dir.join("absent.json")),
    );
    assert_code(&out, 2);
    assert!(sim.requests().is_empty(), "a bad baseline sends nothing");
}

#[test]
fn max_drop_without_a_baseline_is_a_usage_error() {
    let sim = Sim::start(Scenario::new(KEY).case(steady("a", 0.9)));
    let out = support::run(support::gate(&sim.base_url()).args(["a", "--max-drop", "0.05"]));
    assert_code(&out, 2);
    assert!(
        out.stderr.contains("--max-drop") && out.stderr.contains("--baseline"),
        "{}",
        out.stderr
    );
    let out = support::run(support::gate(&sim.base_url()).arg("a").env("KAPSO_MAX_DROP", "0.05"));
    assert_code(&out, 2);
    let dir = support::temp_dir("max-drop-config");
    let config = write(&dir, "gate.toml", "max-drop = 0.05\n");
    let out = support::run(support::gate(&sim.base_url()).arg("a").arg("--config").arg(&config));
    assert_code(&out, 2);
    assert!(sim.requests().is_empty(), "usage errors send nothing");
}

// ---------------------------------------------------------------------------------------------
// Agents

fn agent_scenario() -> Scenario {
    Scenario::new(KEY)
        .case(steady("a1", 0.9).suite("billing"))
        .case(steady("a2", 0.9).suite("billing"))
        .case(steady("a3", 0.9).suite("support"))
        .case(steady("shared", 0.9))
        .case(steady("other", 0.9).suite("elsewhere"))
        .suite(SuiteSpec::new("billing").agent("bot").case("shared"))
        .suite(SuiteSpec::new("support").case("shared"))
        .suite(SuiteSpec::new("elsewhere").agent("other-bot"))
        .agent(AgentSpec::new("bot").suite("support"))
        .agent(AgentSpec::new("other-bot"))
}

#[test]
fn agent_expands_every_case_of_every_suite_of_the_agent() {
    let sim = Sim::start(agent_scenario());
    let dir = support::temp_dir("agent");
    let (out, report) = run_json(support::gate(&sim.base_url()).args(["--agent", "bot"]), &dir);
    assert_code(&out, 0);
    let mut ids = case_ids_in(&report);
    ids.sort();
    assert_eq!(ids, vec!["a1", "a2", "a3", "shared"], "every case of both suites, once");
    for id in ["a1", "a2", "a3", "shared"] {
        assert_eq!(runs_of(&sim, id), 1, "{id}");
    }
    assert_eq!(runs_of(&sim, "other"), 0, "another agent's case");
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.endpoint == Endpoint::ListAgentSuites && r.path.contains("/agents/bot/test_suites")),
        "the agent's suites were listed"
    );
    assert_eq!(json_case(&report, "a3")["suite_id"], "support");
    assert_eq!(json_case(&report, "a1")["suite_id"], "billing");

    // Repeatable, and through KAPSO_AGENT_IDS.
    let sim = Sim::start(agent_scenario());
    let (out, report) = run_json(
        support::gate(&sim.base_url()).env("KAPSO_AGENT_IDS", "bot,other-bot"),
        &dir,
    );
    assert_code(&out, 0);
    assert_eq!(case_ids_in(&report).len(), 5);
    assert_eq!(runs_of(&sim, "other"), 1);
    assert_eq!(sim.runs().len(), 5, "the shared case runs once");
}

#[test]
fn an_unknown_agent_creates_no_run() {
    let sim = Sim::start(agent_scenario());
    let out = support::run(support::gate(&sim.base_url()).args(["--agent", "ghost-bot"]));
    assert!(
        out.code == 2 || out.code == 3,
        "an agent that does not exist is not a pass or a fail\n{}",
        out.all_output()
    );
    assert!(out.all_output().contains("ghost-bot"), "{}", out.all_output());
    assert!(posts(&sim).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Dry run

#[test]
fn dry_run_prints_the_plan_and_creates_nothing() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(steady("s-one", 0.9).name("Suite case one").suite("smoke"))
            .case(steady("s-two", 0.9).suite("smoke"))
            .case(steady("direct", 0.9).name("Direct case"))
            .suite(SuiteSpec::new("smoke")),
    );
    let dir = support::temp_dir("dry-run");
    let config = write(
        &dir,
        "gate.toml",
        r#"[cases.s-two]
threshold = 0.65
blocking = false

[cases.direct]
trials = 3
"#,
    );
    let out = support::run(
        support::gate(&sim.base_url())
            .args([
                "direct",
                "--suite",
                "smoke",
                "--trials",
                "2",
                "--rate-limit",
                "10",
                "--dry-run",
                "--config",
            ])
            .arg(&config),
    );
    assert_code(&out, 0);
    assert!(posts(&sim).is_empty(), "a dry run sends no POST: {:?}", sim.requests());
    assert!(sim.runs().is_empty());
    for id in ["s-one", "s-two", "direct"] {
        assert!(
            sim.requests()
                .iter()
                .any(|r| r.endpoint == Endpoint::GetCase && r.path.ends_with(&format!("/test_cases/{id}"))),
            "{id} was checked with GET /test_cases/{id}"
        );
    }
    let row = |id: &str| -> String {
        out.stdout
            .lines()
            .find(|l| l.contains(&format!("({id})")) || l.trim_end().ends_with(id))
            .unwrap_or_else(|| panic!("no plan row for {id}\n{}", out.stdout))
            .to_owned()
    };
    let words = |line: String| -> Vec<String> { line.split_whitespace().map(str::to_owned).collect() };
    // CHECK TRIALS THRESHOLD BLOCKING CASE
    assert_eq!(&words(row("s-one"))[..4], ["ok", "2", "0.8", "yes"], "{}", out.stdout);
    assert_eq!(&words(row("s-two"))[..4], ["ok", "2", "0.65", "no"], "{}", out.stdout);
    assert_eq!(&words(row("direct"))[..4], ["ok", "3", "0.8", "yes"], "{}", out.stdout);
    assert!(out.stdout.contains("Suite case one"), "{}", out.stdout);
    // One suite lookup + one creation and one poll per run: 1 + 2 * (2 + 2 + 3) = 15, which
    // needs two windows under 10 requests per minute.
    assert!(out.stdout.contains("7 runs"), "{}", out.stdout);
    assert!(out.stdout.contains("15 requests"), "{}", out.stdout);
    assert!(
        out.stdout.contains("1m 00s"),
        "minimum time under the budget\n{}",
        out.stdout
    );
}

#[test]
fn dry_run_with_a_missing_case_exits_3_and_names_it() {
    let sim = Sim::start(Scenario::new(KEY).case(steady("present", 0.9)));
    let out = support::run(support::gate(&sim.base_url()).args(["present", "ghost-case", "--dry-run"]));
    assert_code(&out, 3);
    assert!(posts(&sim).is_empty(), "a dry run sends no POST");
    let row = out
        .stdout
        .lines()
        .find(|l| l.contains("ghost-case"))
        .unwrap_or_else(|| panic!("the missing case is not named\n{}", out.stdout));
    assert!(row.contains("MISSING"), "{row}");
    let present = out
        .stdout
        .lines()
        .find(|l| l.contains("present"))
        .unwrap_or_else(|| panic!("the present case is not listed\n{}", out.stdout));
    assert!(present.starts_with("ok"), "{present}");
}

#[test]
fn dry_run_with_a_refused_key_stops_after_one_request() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(steady("a", 0.9))
            .case(steady("b", 0.9))
            .case(steady("c", 0.9)),
    );
    let out = support::run(
        support::gate(&sim.base_url())
            .env("KAPSO_API_KEY", "kg-wrong-key-0000")
            .args(["a", "b", "c", "--dry-run", "--concurrency", "1"]),
    );
    assert_code(&out, 3);
    assert_eq!(sim.requests().len(), 1, "a refused key stops the checks");
    assert!(
        !out.stdout.contains("MISSING"),
        "the cases are not missing, the key is refused:\n{}",
        out.stdout
    );
    assert_eq!(
        out.stdout.lines().filter(|l| l.starts_with("REFUSED")).count(),
        3,
        "{}",
        out.stdout
    );
}
