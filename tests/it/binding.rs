//! Reports bound to what produced them, end to end: the real binary against kapso-sim. A report
//! read back by `--rerun-failed`, `--merge` or `--baseline` has every status re-derived from its
//! trials, carries the commit and a digest of the verdict settings, and is read from a regular
//! file of bounded size, without blocking on a FIFO or a device.

use crate::support::{self, assert_code, Finished};
use kapso_sim::{CaseSpec, Scenario, Sim};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A generous bound for a gate that refuses a file before sending anything; the alternatives
/// (blocking on a FIFO, reading /dev/zero into memory) never finish.
const QUICK: Duration = Duration::from_secs(30);

/// One passing case and one failing case.
fn scenario() -> Sim {
    Sim::start(
        Scenario::new(support::KEY)
            .case(support::case("good", 0.9))
            .case(support::case("low", 0.3)),
    )
}

/// The gate against `sim` at `commit`, writing its JSON report to `json`.
fn gate(sim: &Sim, commit: &str, json: &Path) -> Command {
    let mut cmd = support::gate(&sim.base_url());
    cmd.env("KAPSO_COMMIT", commit).arg("--json").arg(json);
    cmd
}

fn report(path: &Path) -> Value {
    serde_json::from_str(&support::read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Rewrites a report into a new file.
fn edited(from: &Path, to: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut value = report(from);
    edit(&mut value);
    std::fs::write(to, serde_json::to_string_pretty(&value).expect("json")).expect("written");
    to.to_owned()
}

fn case_mut<'a>(report: &'a mut Value, id: &str) -> &'a mut Value {
    report["cases"]
        .as_array_mut()
        .expect("cases")
        .iter_mut()
        .find(|c| c["test_case_id"] == id)
        .unwrap_or_else(|| panic!("{id} is not in the report"))
}

/// Exit 2, the error on stderr and in the written report's message, naming every one of `names`.
fn assert_refused(out: &Finished, json: &Path, names: &[&str]) {
    assert_code(out, 2);
    let written = report(json);
    assert_eq!(written["verdict"], "usage");
    for name in names {
        assert!(out.stderr.contains(name), "the error names {name}: {}", out.stderr);
        assert!(
            written["message"].as_str().is_some_and(|m| m.contains(name)),
            "{written}"
        );
    }
}

/// The first run of `good` and `low` at commit `c1`, and its report.
fn first_run(dir: &Path) -> (Sim, PathBuf) {
    let sim = scenario();
    let first = dir.join("first.json");
    let out = support::run_within(gate(&sim, "c1", &first).args(["good", "low"]), QUICK);
    assert_code(&out, 1);
    (sim, first)
}

#[test]
fn every_report_records_its_commit_selection_and_settings() {
    let dir = support::temp_dir("binding-fields");
    let sim = scenario();
    let json = dir.join("r.json");
    let mut cmd = support::gate(&sim.base_url());
    cmd.env("GITHUB_SHA", "from-github").env("CI_COMMIT_SHA", "from-gitlab");
    support::run_within(cmd.args(["good", "low", "--json"]).arg(&json), QUICK);
    let written = report(&json);
    assert_eq!(written["commit"], "from-github", "GITHUB_SHA comes first");
    assert_eq!(written["selection"]["cases"], serde_json::json!(["good", "low"]));
    let digest = |v: &Value| v.as_str().map(str::len);
    assert_eq!(digest(&written["selection"]["digest"]), Some(64));
    assert_eq!(digest(&written["settings_digest"]), Some(64));
    assert_eq!(written["cases"][0]["trials_spec"], "1");

    let flag = dir.join("flag.json");
    let mut cmd = gate(&sim, "ignored", &flag);
    cmd.env("GITHUB_SHA", "from-github")
        .args(["--commit", "from-flag", "good"]);
    support::run_within(&mut cmd, QUICK);
    let by_flag = report(&flag);
    assert_eq!(by_flag["commit"], "from-flag", "the flag wins");
    assert_eq!(
        by_flag["settings_digest"], written["settings_digest"],
        "the selection and the commit are not settings"
    );
}

#[test]
fn rerun_failed_refuses_an_edited_passed_status_naming_file_and_case() {
    let dir = support::temp_dir("binding-edited");
    let (sim, first) = first_run(&dir);
    let forged = edited(&first, &dir.join("forged.json"), |r| {
        case_mut(r, "low")["status"] = "passed".into();
    });
    let requests = sim.requests().len();
    let second = dir.join("second.json");
    let out = support::run_within(
        gate(&sim, "c1", &second)
            .arg("--rerun-failed")
            .arg(&forged)
            .args(["good", "low"]),
        QUICK,
    );
    assert_refused(&out, &second, &["forged.json", "low"]);
    assert_eq!(sim.requests().len(), requests, "refused before any request");
}

#[test]
fn rerun_failed_refuses_a_report_of_other_settings() {
    let dir = support::temp_dir("binding-settings");
    let (sim, first) = first_run(&dir);
    let second = dir.join("second.json");
    let out = support::run_within(
        gate(&sim, "c1", &second).arg("--rerun-failed").arg(&first).args([
            "--trials",
            "3",
            "--aggregate",
            "min",
            "good",
            "low",
        ]),
        QUICK,
    );
    assert_refused(&out, &second, &["first.json", "other verdict settings"]);
}

#[test]
fn rerun_failed_refuses_another_commit_unless_told_to_take_any() {
    let dir = support::temp_dir("binding-commit");
    let (sim, first) = first_run(&dir);
    let second = dir.join("second.json");
    let out = support::run_within(
        gate(&sim, "c2", &second)
            .arg("--rerun-failed")
            .arg(&first)
            .args(["good", "low"]),
        QUICK,
    );
    assert_refused(
        &out,
        &second,
        &["first.json", "\"c1\"", "\"c2\"", "--rerun-failed-any-commit"],
    );

    let good_runs = support::runs_of(&sim, "good");
    let third = dir.join("third.json");
    let out = support::run_within(
        gate(&sim, "c2", &third)
            .arg("--rerun-failed")
            .arg(&first)
            .args(["--rerun-failed-any-commit", "good", "low"]),
        QUICK,
    );
    assert_code(&out, 1);
    assert_eq!(support::runs_of(&sim, "good"), good_runs, "the pass is carried over");
    let written = report(&third);
    assert_eq!(written["commit"], "c2");
    assert_eq!(written["cases"][0]["carried_over"], true);
}

/// Two shard reports of eight passing cases at commit `c1`, and the simulator they ran on.
fn two_shards(dir: &Path) -> (Sim, Vec<String>, Vec<PathBuf>) {
    let ids: Vec<String> = (0..8).map(|i| format!("tc-{i}")).collect();
    let sim = Sim::start(ids.iter().fold(Scenario::new(support::KEY), |s, id| {
        s.case(CaseSpec::passing(id.clone(), 0.9).duration_ms(50))
    }));
    let paths: Vec<PathBuf> = (1..=2).map(|k| dir.join(format!("shard-{k}.json"))).collect();
    for (k, path) in (1..=2).zip(&paths) {
        let out = support::run_within(
            gate(&sim, "c1", path).arg("--shard").arg(format!("{k}/2")).args(&ids),
            QUICK,
        );
        assert_code(&out, 0);
    }
    (sim, ids, paths)
}

fn merge(paths: &[PathBuf], json: &Path) -> Finished {
    let mut cmd = support::gate("http://127.0.0.1:9");
    cmd.arg("--merge").args(paths).arg("--json").arg(json);
    support::run_within(&mut cmd, QUICK)
}

/// Merges the first shard's report with `shard` (or `shard` alone), rewritten by `edit` into
/// `name`: refused with exit 2 naming the file and each of `names`.
fn assert_merge_refuses(name: &str, with_first: bool, shard: usize, edit: impl FnOnce(&mut Value), names: &[&str]) {
    let dir = support::temp_dir(&format!("binding-merge-{name}"));
    let (_sim, _ids, paths) = two_shards(&dir);
    let out_json = dir.join("merged.json");
    let bad = edited(&paths[shard], &dir.join(name), edit);
    let inputs = if with_first {
        vec![paths[0].clone(), bad]
    } else {
        vec![bad]
    };
    let mut expected = vec![name];
    expected.extend_from_slice(names);
    assert_refused(&merge(&inputs, &out_json), &out_json, &expected);
}

#[test]
fn merged_reports_keep_the_commit_and_the_whole_selection() {
    let dir = support::temp_dir("binding-merge");
    let (_sim, _ids, paths) = two_shards(&dir);
    let out_json = dir.join("merged.json");
    support::assert_code(&merge(&paths, &out_json), 0);
    let merged = report(&out_json);
    assert_eq!(merged["commit"], "c1");
    assert_eq!(merged["selection"]["cases"].as_array().map(Vec::len), Some(8));
    assert_eq!(merged["settings_digest"], report(&paths[0])["settings_digest"]);
}

#[test]
fn merge_refuses_a_shard_0_of_0() {
    let edit = |r: &mut Value| {
        r["shard"]["index"] = 0.into();
        r["shard"]["total"] = 0.into();
    };
    assert_merge_refuses("zero.json", false, 0, edit, &["0/0"]);
}

#[test]
fn merge_refuses_a_shard_4_of_3() {
    let edit = |r: &mut Value| {
        r["shard"]["index"] = 4.into();
        r["shard"]["total"] = 3.into();
    };
    assert_merge_refuses("beyond.json", false, 0, edit, &["4/3"]);
}

#[test]
fn merge_refuses_a_case_outside_the_selection() {
    let edit = |r: &mut Value| {
        let mut intruder = r["cases"][0].clone();
        intruder["test_case_id"] = "intruder".into();
        r["cases"].as_array_mut().expect("cases").push(intruder);
    };
    assert_merge_refuses("foreign.json", true, 1, edit, &["intruder"]);
}

#[test]
fn merge_refuses_a_passed_status_below_the_threshold() {
    let mut id = String::new();
    let edit = |r: &mut Value| {
        let case = &mut r["cases"][0];
        id = case["test_case_id"].as_str().expect("id").to_owned();
        case["score"] = 0.3.into();
        case["trials"][0]["score"] = 0.3.into();
    };
    assert_merge_refuses("below.json", true, 1, edit, &["is recorded as passed"]);
    assert!(!id.is_empty());
}

#[test]
fn merge_refuses_a_stale_shard_of_another_commit() {
    let dir = support::temp_dir("binding-stale");
    let (sim, ids, paths) = two_shards(&dir);
    let stale = dir.join("stale").join("shard-2.json");
    std::fs::create_dir_all(stale.parent().expect("parent")).expect("dir");
    let out = support::run_within(gate(&sim, "c0", &stale).args(["--shard", "2/2"]).args(&ids), QUICK);
    assert_code(&out, 0);
    let out_json = dir.join("merged.json");
    assert_refused(
        &merge(&[paths[0].clone(), stale], &out_json),
        &out_json,
        &["stale/shard-2.json", "\"c0\"", "\"c1\""],
    );
}

/// Runs the gate with `option path` (and a case to run, unless merging): refused with exit 2
/// naming the file and `why`, quickly, with nothing sent.
fn assert_file_refused(option: &str, path: &Path, why: &str) {
    let dir = support::temp_dir("binding-file");
    let sim = scenario();
    let json = dir.join("out.json");
    let mut cmd = gate(&sim, "c1", &json);
    if option != "--merge" {
        cmd.arg("good");
    }
    let out = support::run_within(cmd.arg(option).arg(path), QUICK);
    let name = path.file_name().and_then(|n| n.to_str()).expect("name");
    assert_refused(&out, &json, &[name, why]);
    assert!(sim.requests().is_empty(), "nothing is sent");
}

#[test]
fn a_report_beyond_64_mib_is_refused() {
    let dir = support::temp_dir("binding-big");
    // Sparse: one byte beyond the 64 MiB cap takes no disk space.
    let big = dir.join("big.json");
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(64 * 1024 * 1024 + 1))
        .expect("sparse file");
    for option in ["--merge", "--baseline", "--rerun-failed"] {
        assert_file_refused(option, &big, "larger than");
    }
}

#[test]
fn dev_zero_is_refused_as_a_device() {
    assert_file_refused("--baseline", Path::new("/dev/zero"), "device");
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = support::temp_dir("binding-fifo");
    let fifo = dir.join("fifo.json");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    assert_file_refused("--rerun-failed", &fifo, "FIFO");
    assert_file_refused("--merge", &fifo, "FIFO");
}

#[test]
fn the_baseline_commit_and_age_are_in_every_report() {
    let dir = support::temp_dir("binding-baseline");
    let (sim, first) = first_run(&dir);
    let json = dir.join("r.json");
    let junit = dir.join("r.xml");
    let summary = dir.join("summary.md");
    std::fs::write(&summary, "").expect("summary");
    let out = support::run_within(
        gate(&sim, "c2", &json)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .arg("--junit")
            .arg(&junit)
            .arg("--baseline")
            .arg(&first)
            .arg("good"),
        QUICK,
    );
    assert_code(&out, 0);
    let written = report(&json);
    assert_eq!(written["baseline"]["commit"], "c1");
    assert_eq!(written["baseline"]["recorded_at"], report(&first)["finished_at"]);
    assert!(written["baseline"]["age_ms"].as_u64().is_some(), "{written}");
    assert!(out.stdout.contains("baseline: commit c1, recorded "), "{}", out.stdout);
    assert!(support::read(&summary).contains("baseline: commit c1, recorded "));
    assert!(support::read(&junit).contains("<property name=\"baseline_commit\" value=\"c1\"/>"));
}
