//! Shards, merging and re-running failures, end to end: the real binary against kapso-sim.
//! Three shards share one simulator's rate limit at the same time; their merged report must say
//! what one run over the same selection says. Every check reads the reports the gate wrote or
//! the simulator's request log and run records.

use crate::support;
use kapso_sim::{CaseSpec, Scenario, Sim, TrialSpec};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The simulator's limit and the gate's scaled rate window: 100 requests per 3 s stands for
/// 100 per minute, so the test takes seconds.
const LIMIT: u32 = 100;
const WINDOW_MS: u64 = 3000;
const WINDOW: &str = "3s";

/// 30 cases: most pass, every fifth fails, every seventh crashes; runs of 200-500 ms.
fn mixed_scenario() -> (Scenario, Vec<String>) {
    let mut scenario = Scenario::new(support::KEY).rate_limit(LIMIT, WINDOW_MS);
    let ids: Vec<String> = (0..30).map(|i| format!("case-{i:02}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let duration = 200 + (i as u64 % 4) * 100;
        let case = match i {
            _ if i % 7 == 3 => CaseSpec::new(id.clone()).crash("judge crashed"),
            _ if i % 5 == 1 => CaseSpec::passing(id.clone(), 0.4).feedback("wrong hours"),
            _ => CaseSpec::passing(id.clone(), 0.9),
        };
        scenario = scenario.case(case.duration_ms(duration));
    }
    (scenario, ids)
}

/// The gate against `sim` with the scaled window and a JSON report at `json`.
fn gate(sim: &Sim, json: &Path) -> std::process::Command {
    let mut cmd = support::gate(&sim.base_url());
    // One commit for every run: --rerun-failed carries passes over only from the same commit.
    cmd.env("KAPSO_RATE_WINDOW", WINDOW)
        .env("KAPSO_COMMIT", "c1")
        .arg("--json")
        .arg(json);
    cmd
}

fn report(path: &Path) -> Value {
    serde_json::from_str(&support::read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn case_ids(report: &Value) -> Vec<String> {
    let mut ids: Vec<String> = report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| c["test_case_id"].as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    ids
}

fn status_of(report: &Value, id: &str) -> String {
    let case = report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["test_case_id"] == id)
        .unwrap_or_else(|| panic!("{id} is not in the report"));
    case["status"].as_str().expect("status").to_owned()
}

/// Runs the three shards of `ids` at the same time against `sim`; returns their report paths.
fn run_three_shards(sim: &Sim, ids: &[String], dir: &Path) -> Vec<PathBuf> {
    let paths: Vec<PathBuf> = (1..=3).map(|k| dir.join(format!("shard-{k}.json"))).collect();
    let running: Vec<support::Running> = paths
        .iter()
        .enumerate()
        .map(|(i, path)| support::spawn(gate(sim, path).arg("--shard").arg(format!("{}/3", i + 1)).args(ids)))
        .collect();
    for (i, shard) in running.into_iter().enumerate() {
        let out = shard.finish(Duration::from_secs(90));
        assert!(
            out.code == 0 || out.code == 1,
            "shard {}/3 exited {}\n{}",
            i + 1,
            out.code,
            out.all_output()
        );
    }
    paths
}

fn merge(paths: &[PathBuf], json: &Path) -> support::Finished {
    let mut cmd = support::gate("http://127.0.0.1:9");
    cmd.env_remove("KAPSO_API_KEY")
        .arg("--json")
        .arg(json)
        .arg("--merge")
        .args(paths);
    support::run_within(&mut cmd, Duration::from_secs(30))
}

#[test]
fn three_shards_at_once_stay_under_the_limit_and_merge_to_the_single_run_verdict() {
    let dir = support::temp_dir("three-shards");
    let (scenario, ids) = mixed_scenario();

    let single_sim = Sim::start(scenario.clone());
    let single_json = dir.join("single.json");
    let single = support::run_within(gate(&single_sim, &single_json).args(&ids), Duration::from_secs(90));
    let single_report = report(&single_json);

    let sim = Sim::start(scenario);
    let paths = run_three_shards(&sim, &ids, &dir);
    let limited: Vec<_> = sim.requests().into_iter().filter(|r| r.status == 429).collect();
    assert!(limited.is_empty(), "429 responses: {limited:?}");
    let mut shard_cases = Vec::new();
    for (k, path) in paths.iter().enumerate() {
        let shard = report(path);
        assert_eq!(shard["shard"]["index"], k + 1);
        assert_eq!(shard["shard"]["total"], 3);
        assert_eq!(shard["shard"]["selected"], ids.len());
        assert_eq!(shard["requests"]["rate_limited"], 0);
        shard_cases.extend(case_ids(&shard));
    }
    shard_cases.sort();
    assert_eq!(shard_cases, case_ids(&single_report), "every case in exactly one shard");
    assert_eq!(sim.runs().len(), ids.len(), "one run per case across the shards");

    let merged_json = dir.join("merged.json");
    let merged = merge(&paths, &merged_json);
    let merged_report = report(&merged_json);
    assert_eq!(merged.code, single.code, "{}", merged.all_output());
    assert_eq!(single.code, 1, "the selection has failures: {}", single.all_output());
    assert_eq!(merged_report["verdict"], single_report["verdict"]);
    assert_eq!(merged_report["counts"], single_report["counts"]);
    assert_eq!(merged_report["shard"], Value::Null);
    assert_eq!(case_ids(&merged_report), case_ids(&single_report));
    for id in &ids {
        assert_eq!(status_of(&merged_report, id), status_of(&single_report, id), "{id}");
    }
}

/// A small selection on an unlimited simulator, split in two; returns the two shard reports.
fn two_shard_reports(dir: &Path) -> (Sim, Vec<String>, Vec<PathBuf>) {
    let mut scenario = Scenario::new(support::KEY);
    let ids: Vec<String> = (0..8).map(|i| format!("tc-{i}")).collect();
    for id in &ids {
        scenario = scenario.case(CaseSpec::passing(id.clone(), 0.9).duration_ms(100));
    }
    let sim = Sim::start(scenario);
    let paths: Vec<PathBuf> = (1..=2).map(|k| dir.join(format!("shard-{k}.json"))).collect();
    for (i, path) in paths.iter().enumerate() {
        let out = support::run_within(
            gate(&sim, path).arg("--shard").arg(format!("{}/2", i + 1)).args(&ids),
            Duration::from_secs(30),
        );
        support::assert_code(&out, 0);
    }
    (sim, ids, paths)
}

/// Rewrites one field of a report into a new file.
fn edited(from: &Path, to: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut value = report(from);
    edit(&mut value);
    std::fs::write(to, serde_json::to_string_pretty(&value).expect("json")).expect("written");
    to.to_owned()
}

fn assert_refused(out: &support::Finished, json: &Path, names: &str) {
    support::assert_code(out, 2);
    assert!(out.stderr.contains(names), "the error names {names}: {}", out.stderr);
    let written = report(json);
    assert_eq!(written["verdict"], "usage");
    assert!(
        written["message"].as_str().is_some_and(|m| m.contains(names)),
        "{written}"
    );
}

#[test]
fn merge_refuses_reports_that_do_not_belong_together() {
    let dir = support::temp_dir("merge-refusals");
    let (_sim, _ids, paths) = two_shard_reports(&dir);
    let out_json = dir.join("merged.json");

    let ok = merge(&paths, &out_json);
    support::assert_code(&ok, 0);
    assert_eq!(report(&out_json)["counts"]["total"], 8);

    let v2 = edited(&paths[1], &dir.join("v2.json"), |r| r["schema_version"] = 2.into());
    assert_refused(&merge(&[paths[0].clone(), v2], &out_json), &out_json, "v2.json");

    let strict = edited(&paths[1], &dir.join("strict.json"), |r| r["threshold"] = 0.95.into());
    assert_refused(&merge(&[paths[0].clone(), strict], &out_json), &out_json, "strict.json");

    let other = edited(&paths[1], &dir.join("other.json"), |r| {
        r["shard"]["selection_digest"] = "0123456789abcdef".into();
    });
    assert_refused(&merge(&[paths[0].clone(), other], &out_json), &out_json, "other.json");

    let first_case = report(&paths[0])["cases"][0].clone();
    let twice = edited(&paths[1], &dir.join("twice.json"), |r| {
        r["cases"].as_array_mut().expect("cases").push(first_case);
    });
    assert_refused(&merge(&[paths[0].clone(), twice], &out_json), &out_json, "twice.json");

    let unsharded = edited(&paths[1], &dir.join("unsharded.json"), |r| r["shard"] = Value::Null);
    assert_refused(
        &merge(&[paths[0].clone(), unsharded], &out_json),
        &out_json,
        "unsharded.json",
    );
}

#[test]
fn a_missing_shard_leaves_the_merged_verdict_incomplete() {
    let dir = support::temp_dir("merge-missing");
    let (_sim, _ids, paths) = two_shard_reports(&dir);
    let out_json = dir.join("merged.json");
    let out = merge(&paths[..1], &out_json);
    support::assert_code(&out, 4);
    assert!(out.all_output().contains("shard 2/2 missing"), "{}", out.all_output());
    let merged = report(&out_json);
    assert_eq!(merged["verdict"], "incomplete");
    assert!(merged["message"].as_str().is_some_and(|m| m.contains("shard 2/2")));

    // A folder of reports is read like the list of its *.json files.
    let folder = dir.join("shards");
    std::fs::create_dir_all(&folder).expect("folder");
    for path in &paths {
        std::fs::copy(path, folder.join(path.file_name().expect("name"))).expect("copied");
    }
    support::assert_code(&merge(&[folder], &out_json), 0);
}

#[test]
fn rerun_failed_creates_runs_only_for_the_cases_that_did_not_pass() {
    let dir = support::temp_dir("rerun-failed");
    // Run n of a case uses trial n: the flaky cases fail first and pass when run again.
    let flaky = |id: &str| {
        CaseSpec::new(id)
            .trial(TrialSpec::scored(0.3).duration_ms(100))
            .trial(TrialSpec::scored(0.9).duration_ms(100))
    };
    let scenario = Scenario::new(support::KEY)
        .case(CaseSpec::passing("good-1", 0.9).duration_ms(100))
        .case(flaky("flaky-1"))
        .case(CaseSpec::passing("good-2", 0.95).duration_ms(100))
        .case(flaky("flaky-2"));
    let sim = Sim::start(scenario);
    let ids = ["good-1", "flaky-1", "good-2", "flaky-2"];

    // The first run records its runs in the state file the re-runs use too (as a CI cache
    // would restore it): the failed runs must be run again, not re-attached to.
    let first_json = dir.join("first.json");
    let state = dir.join("state.json");
    let mut cmd = gate(&sim, &first_json);
    let first = support::run_within(cmd.arg("--state-file").arg(&state).args(ids), Duration::from_secs(30));
    support::assert_code(&first, 1);
    let runs_before = sim.runs().len();

    let second_json = dir.join("second.json");
    let mut cmd = gate(&sim, &second_json);
    cmd.arg("--rerun-failed")
        .arg(&first_json)
        .arg("--state-file")
        .arg(&state);
    let second = support::run_within(cmd.args(ids), Duration::from_secs(30));
    support::assert_code(&second, 0);
    let new_runs: Vec<String> = sim.runs()[runs_before..].iter().map(|r| r.case_id.clone()).collect();
    assert_eq!(new_runs.len(), 2, "{new_runs:?}");
    assert!(new_runs.iter().all(|id| id.starts_with("flaky")), "{new_runs:?}");

    let earlier = report(&first_json);
    let rerun = report(&second_json);
    assert_eq!(rerun["counts"]["total"], 4, "the report covers the whole selection");
    assert_eq!(rerun["counts"]["passed"], 4);
    for case in rerun["cases"].as_array().expect("cases") {
        let id = case["test_case_id"].as_str().expect("id");
        let was = earlier["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|c| c["test_case_id"] == id);
        let was = was.expect("in the first report");
        let carried = id.starts_with("good");
        assert_eq!(case["carried_over"], carried, "{id}");
        assert_eq!(
            case["run_id"] == was["run_id"],
            carried,
            "{id}: carried passes keep their run IDs"
        );
    }

    // The same re-run again with the same state file re-attaches: no new run at all.
    let runs_after = sim.runs().len();
    let third_json = dir.join("third.json");
    let mut cmd = gate(&sim, &third_json);
    cmd.arg("--rerun-failed")
        .arg(&first_json)
        .arg("--state-file")
        .arg(&state);
    let third = support::run_within(cmd.args(ids), Duration::from_secs(30));
    support::assert_code(&third, 0);
    assert_eq!(sim.runs().len(), runs_after, "re-attached to the recorded runs");
}

#[test]
fn shard_auto_reads_the_ci_variables_and_a_case_named_merge_still_runs() {
    let dir = support::temp_dir("shard-auto");
    let sim = Sim::start(
        Scenario::new(support::KEY)
            .case(CaseSpec::passing("merge", 0.9).duration_ms(100))
            .case(CaseSpec::passing("other", 0.9).duration_ms(100)),
    );
    let json = dir.join("auto.json");
    let mut cmd = gate(&sim, &json);
    cmd.env("CIRCLE_NODE_INDEX", "1")
        .env("CIRCLE_NODE_TOTAL", "2")
        .env("KAPSO_SHARD", "auto")
        .args(["merge", "other"]);
    let out = support::run_within(&mut cmd, Duration::from_secs(30));
    support::assert_code(&out, 0);
    let written = report(&json);
    assert_eq!(written["shard"]["index"], 2, "CircleCI counts from 0");
    assert_eq!(written["shard"]["total"], 2);

    let mut cmd = gate(&sim, &json);
    cmd.args(["--shard", "auto", "merge"]);
    let out = support::run_within(&mut cmd, Duration::from_secs(30));
    support::assert_code(&out, 2);
    assert!(out.stderr.contains("CI_NODE_INDEX"), "{}", out.stderr);

    // `merge` as the first argument is a test case ID, not a command.
    let runs = support::runs_of(&sim, "merge");
    let out = support::run_within(gate(&sim, &json).arg("merge"), Duration::from_secs(30));
    support::assert_code(&out, 0);
    assert_eq!(support::runs_of(&sim, "merge"), runs + 1);
}

#[test]
fn more_shards_than_cases_leave_empty_shards_that_pass_and_merge_whole() {
    let dir = support::temp_dir("empty-shards");
    let sim = Sim::start(
        Scenario::new(support::KEY)
            .case(CaseSpec::passing("only-1", 0.9).duration_ms(50))
            .case(CaseSpec::passing("only-2", 0.9).duration_ms(50)),
    );
    let paths: Vec<PathBuf> = (1..=5).map(|k| dir.join(format!("shard-{k}.json"))).collect();
    let mut empty = 0;
    for (i, path) in paths.iter().enumerate() {
        let mut cmd = gate(&sim, path);
        cmd.args(["--shard", &format!("{}/5", i + 1), "only-1", "only-2"]);
        support::assert_code(&support::run_within(&mut cmd, Duration::from_secs(30)), 0);
        let shard = report(path);
        if shard["counts"]["total"] == 0 {
            empty += 1;
            assert_eq!(shard["verdict"], "passed");
        }
    }
    assert!(empty >= 3, "two cases fill at most two of five shards");
    let merged_json = dir.join("merged.json");
    support::assert_code(&merge(&paths, &merged_json), 0);
    assert_eq!(case_ids(&report(&merged_json)), ["only-1", "only-2"]);
}

/// The schema documents the shard record and `carried_over` exactly as the gate writes them
/// (tests/reports.rs validates reports without a shard; this covers the fields it never sees).
#[test]
fn the_schema_documents_the_shard_fields_the_gate_writes() {
    let dir = support::temp_dir("shard-schema");
    let (_sim, _ids, paths) = two_shard_reports(&dir);
    let schema: Value = serde_json::from_str(&support::read(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/report.schema.json"
    ))))
    .expect("schema");
    let written = report(&paths[0]);
    let keys = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&written["shard"]), keys(&schema["$defs"]["shard"]["properties"]));
    assert_eq!(schema["properties"]["shard"]["$ref"], "#/$defs/shard");
    for case in written["cases"].as_array().expect("cases") {
        assert_eq!(keys(case), keys(&schema["$defs"]["case"]["properties"]));
        assert_eq!(case["carried_over"], false);
    }
}
