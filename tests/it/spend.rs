//! What the gate spends, end to end against the simulator: `--max-runs` is never exceeded (the
//! simulator's own record of created runs), with `MIN..MAX` trials and with retries and 5xx
//! answers on creation; MIN trials that do not fit exit 2 before anything is created; cases the
//! cap leaves undecided say so and follow `--inconclusive`; the extra trials go to the case
//! nearest a decision; a shard spends its share; `--sample` is stable, spread over suites and
//! lists what it left out; every report says how many runs were created.

use crate::support::report::{github_outputs, json_case, json_report, reason_of, status_of};
use crate::support::{assert_code, gate, read, run, runs_of, temp_dir, KEY, RUN_MS};
use kapso_sim::{CaseSpec, Endpoint, Fault, FaultAction, Scenario, Sim, SuiteSpec, TrialSpec};

/// A case whose runs score `scores` in turn.
fn scored(id: &str, scores: &[f64]) -> CaseSpec {
    scores.iter().fold(CaseSpec::new(id), |case, score| {
        case.trial(TrialSpec::scored(*score).duration_ms(RUN_MS))
    })
}

/// A case whose every score sits on the threshold 0.8: never decided, it wants every trial up
/// to MAX, and its mean passes under `--inconclusive estimate`.
fn straddling(id: &str) -> CaseSpec {
    scored(id, &[0.8])
}

fn straddling_scenario(ids: &[&str]) -> Scenario {
    ids.iter()
        .fold(Scenario::new(KEY), |scenario, id| scenario.case(straddling(id)))
}

#[test]
fn the_cap_holds_with_min_max_trials_and_every_report_counts_the_runs() {
    let ids = ["c1", "c2", "c3", "c4", "c5", "c6"];
    let sim = Sim::start(straddling_scenario(&ids));
    let dir = temp_dir("spend-cap");
    let (json, summary, output) = (dir.join("r.json"), dir.join("summary.md"), dir.join("out"));
    let out = run(gate(&sim.base_url())
        .args(ids)
        .args(["--trials", "2..10", "--max-runs", "20"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &output)
        .arg("--json")
        .arg(&json));
    assert_code(&out, 0);
    assert_eq!(sim.runs().len(), 20, "12 MIN trials, then 8 extra, never more");
    let report = json_report(&json);
    assert_eq!(report["runs_created"], 20);
    assert!(out.stdout.contains("20 runs created"), "{}", out.stdout);
    assert!(read(&summary).contains("· 20 runs ·"), "{}", read(&summary));
    let outputs = github_outputs(&read(&output));
    assert!(
        outputs.contains(&("runs-created".to_owned(), "20".to_owned())),
        "{outputs:?}"
    );
    let capped: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| reason_of(&report, id).contains("run cap reached"))
        .collect();
    assert!(
        !capped.is_empty(),
        "undecided cases say the cap stopped them\n{report:#}"
    );
    for id in &capped {
        assert_eq!(json_case(&report, id)["decision"], "inconclusive");
        assert_eq!(
            status_of(&report, id),
            "passed",
            "--inconclusive estimate: judged by the mean 0.8"
        );
    }
    assert!(
        report["warnings"].to_string().contains("run cap reached"),
        "{}",
        report["warnings"]
    );
    assert!(
        out.stdout.contains("run cap reached"),
        "the terminal says so\n{}",
        out.stdout
    );
}

#[test]
fn cap_reached_cases_follow_inconclusive_fail() {
    let ids = ["a", "b", "c"];
    let sim = Sim::start(straddling_scenario(&ids));
    let dir = temp_dir("spend-cap-fail");
    let json = dir.join("r.json");
    let out = run(gate(&sim.base_url())
        .args(ids)
        .args(["--trials", "2..16", "--max-runs", "7", "--inconclusive", "fail"])
        .arg("--json")
        .arg(&json));
    assert_code(&out, 1);
    assert_eq!(sim.runs().len(), 7);
    let report = json_report(&json);
    for id in ids {
        assert_eq!(status_of(&report, id), "failed");
        let reason = reason_of(&report, id);
        assert!(reason.contains("run cap reached"), "{id}: {reason}");
        assert!(reason.contains("--inconclusive fail"), "{id}: {reason}");
    }
}

#[test]
fn retries_and_server_errors_on_creation_never_exceed_the_cap() {
    let ids = ["r1", "r2", "r3", "r4"];
    let faults = Fault::on(Endpoint::CreateRun)
        .times(3, FaultAction::status(503))
        .times(2, FaultAction::status_after_commit(500));
    let sim = Sim::start(straddling_scenario(&ids).fault(faults));
    let dir = temp_dir("spend-cap-faults");
    let json = dir.join("r.json");
    let out = run(gate(&sim.base_url())
        .args(ids)
        .args(["--trials", "2..10", "--max-runs", "10"])
        .arg("--json")
        .arg(&json));
    assert_ne!(out.code, 0, "the runs behind a 500 have no result");
    let posts = sim
        .requests()
        .iter()
        .filter(|r| r.endpoint == Endpoint::CreateRun)
        .count();
    assert!(posts > 10, "the 503s were retried: {posts} creations sent");
    assert_eq!(
        sim.runs().len(),
        10,
        "the two runs created behind a 500 count against the cap too"
    );
    assert_eq!(json_report(&json)["runs_created"], 8, "Kapso confirmed eight creations");
}

#[test]
fn min_trials_that_do_not_fit_exit_2_before_any_run() {
    let sim = Sim::start(straddling_scenario(&["m1", "m2", "m3"]));
    let dir = temp_dir("spend-misfit");
    let json = dir.join("r.json");
    let out = run(gate(&sim.base_url())
        .args(["m1", "m2", "m3", "--trials", "2..5", "--max-runs", "5"])
        .arg("--json")
        .arg(&json));
    assert_code(&out, 2);
    assert!(out.all_output().contains("at least 6 runs"), "{}", out.all_output());
    assert!(sim.runs().is_empty());
    assert!(!sim.requests().iter().any(|r| r.endpoint == Endpoint::CreateRun));
    let report = json_report(&json);
    assert_eq!(report["verdict"], "usage");
    assert_eq!(report["runs_created"], 0);

    let dry = run(gate(&sim.base_url()).args(["m1", "m2", "m3", "--trials", "2..5", "--max-runs", "5", "--dry-run"]));
    assert_code(&dry, 2);
    assert!(
        dry.stdout.contains("Runs needed: at least 6, at most 15"),
        "{}",
        dry.stdout
    );
    assert!(dry.all_output().contains("at least 6 runs"), "{}", dry.all_output());
}

#[test]
fn the_extra_trial_goes_to_the_case_nearest_a_decision() {
    // Listed first, so selection order alone would favour the straddling case.
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(straddling("far"))
            .case(scored("near", &[0.55, 0.6])),
    );
    let out = run(gate(&sim.base_url()).args(["far", "near", "--trials", "2..10", "--max-runs", "5"]));
    assert_eq!(sim.runs().len(), 5, "{}", out.all_output());
    assert_eq!(runs_of(&sim, "near"), 3, "{}", out.all_output());
    assert_eq!(runs_of(&sim, "far"), 2, "{}", out.all_output());
}

#[test]
fn a_shard_spends_its_share_of_the_cap() {
    let ids: Vec<String> = (0..8).map(|i| format!("s{i}")).collect();
    let mine: Vec<&String> = ids
        .iter()
        .filter(|id| kapso_gate::input::shard::owner(id, 2) == 1)
        .collect();
    assert!(mine.len() >= 2, "the split gives shard 1 some cases: {mine:?}");
    // The share: room for every case's two MIN trials and two extra.
    let share = 2 * mine.len() + 2;
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let sim = Sim::start(straddling_scenario(&refs));
    let total = (2 * share).to_string();
    let out = run(gate(&sim.base_url())
        .args(&ids)
        .args(["--trials", "2..10", "--shard", "1/2", "--max-runs", &total]));
    assert_code(&out, 0);
    assert_eq!(
        sim.runs().len(),
        share,
        "half of --max-runs {total}\n{}",
        out.all_output()
    );
    assert!(sim.runs().iter().all(|r| mine.contains(&&r.case_id)));
}

/// Suites `A` (six cases), `B` and `C` (two each), with `names` given to every case.
fn suites(name: &str, reversed: bool) -> Scenario {
    let groups = [("A", 6), ("B", 2), ("C", 2)];
    let mut scenario = Scenario::new(KEY);
    for (suite, size) in groups {
        let mut ids: Vec<String> = (0..size).map(|i| format!("{}{i}", suite.to_lowercase())).collect();
        if reversed {
            ids.reverse();
        }
        for id in &ids {
            scenario = scenario.case(crate::support::case(id, 0.9).name(format!("{name} {id}")).suite(suite));
        }
        scenario = scenario.suite(SuiteSpec::new(suite).cases(ids));
    }
    scenario
}

/// The cases a sampled run created runs for, sorted.
fn sampled(sim: &Sim) -> Vec<String> {
    let mut ids: Vec<String> = sim.runs().into_iter().map(|r| r.case_id).collect();
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn a_sample_is_stable_spread_over_suites_and_lists_what_it_left_out() {
    let dir = temp_dir("spend-sample");
    let json = dir.join("r.json");
    let sample = |sim: &Sim| {
        let out = run(gate(&sim.base_url())
            .args(["--suite", "A,B,C", "--sample", "3"])
            .arg("--json")
            .arg(&json));
        assert_code(&out, 0);
        out
    };
    let first_sim = Sim::start(suites("Case", false));
    let first = sample(&first_sim);
    let chosen = sampled(&first_sim);
    assert_eq!(chosen.len(), 3);
    for suite in ["a", "b", "c"] {
        assert!(chosen.iter().any(|id| id.starts_with(suite)), "{suite}: {chosen:?}");
    }
    let report = json_report(&json);
    assert_eq!(report["sample"]["size"], 3);
    assert_eq!(report["sample"]["of"], 10);
    let left_out: Vec<String> = report["sample"]["left_out"]
        .as_array()
        .expect("left_out")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(left_out.len(), 7);
    assert!(left_out.iter().all(|id| !chosen.contains(id)));
    assert_eq!(
        report["cases"].as_array().map(Vec::len),
        Some(3),
        "left-out cases are not failures"
    );
    assert_eq!(report["counts"]["failed"], 0);
    assert!(
        first.stdout.contains("Sample of 3 of the 10 selected cases"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains(&left_out.join(", ")), "{}", first.stdout);

    let again = Sim::start(suites("Case", false));
    sample(&again);
    assert_eq!(sampled(&again), chosen, "the same selection samples the same cases");
    let renamed = Sim::start(suites("Renamed", true));
    sample(&renamed);
    assert_eq!(
        sampled(&renamed),
        chosen,
        "names and listing order do not move the sample"
    );

    let all = Sim::start(suites("Case", false));
    let out = run(gate(&all.base_url())
        .args(["--suite", "A,B,C", "--sample", "50"])
        .arg("--json")
        .arg(&json));
    assert_code(&out, 0);
    assert_eq!(
        sampled(&all).len(),
        10,
        "a sample larger than the selection runs it all"
    );
    assert!(json_report(&json)["sample"].is_null());
}

/// The figure for the docs: a 20-case suite under `--trials 2..10`, ten cases whose judge
/// scatters around the threshold (0.7, 0.9, ...) and ten clear ones, with and without
/// `--max-runs 60` (no client-side rate limit, so the test does not wait on pacing).
#[test]
fn a_cap_bounds_what_a_noisy_suite_spends() {
    let scenario = (0..20).fold(Scenario::new(KEY), |scenario, i| {
        let id = format!("n{i:02}");
        scenario.case(match i % 2 {
            0 => scored(&id, &[0.7, 0.9]),
            _ => scored(&id, &[0.3]),
        })
    });
    let ids: Vec<String> = (0..20).map(|i| format!("n{i:02}")).collect();
    let spent = |cap: Option<&str>| {
        let sim = Sim::start(scenario.clone());
        let mut cmd = gate(&sim.base_url());
        cmd.args(&ids).args(["--trials", "2..10", "--rate-limit", "0"]);
        if let Some(cap) = cap {
            cmd.args(["--max-runs", cap]);
        }
        let out = run(&mut cmd);
        assert!(
            out.stdout.contains(&format!("{} runs created", sim.runs().len())),
            "{}",
            out.stdout
        );
        sim.runs().len()
    };
    let uncapped = spent(None);
    let capped = spent(Some("60"));
    eprintln!("20 cases, --trials 2..10: {uncapped} runs without a cap, {capped} with --max-runs 60");
    assert!(capped <= 60, "{capped}");
    assert!(
        uncapped > 60,
        "the noisy half runs far beyond MIN without a cap: {uncapped}"
    );
}
