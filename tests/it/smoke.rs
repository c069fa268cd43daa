//! The simplest end-to-end check: one passing case against the simulator.

use crate::support;
use kapso_sim::{CaseSpec, Scenario, Sim};

#[test]
fn one_passing_case_exits_zero() {
    let sim = Sim::start(Scenario::new(support::KEY).case(CaseSpec::passing("c1", 0.9).duration_ms(50)));
    let out = support::run(support::gate(&sim.base_url()).arg("c1"));
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert!(out.stdout.contains("PASS"), "{}", out.stdout);
}

#[test]
fn each_run_gets_a_line_naming_its_case() {
    let sim = Sim::start(
        Scenario::new(support::KEY)
            .case(CaseSpec::passing("c1", 0.9).name("Refund request").duration_ms(50))
            .case(CaseSpec::passing("c2", 0.9).name("").duration_ms(50)),
    );
    let out = support::run(support::gate(&sim.base_url()).args(["c1", "c2"]));
    assert_eq!(out.code, 0, "{}", out.all_output());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("✓ PASS  Refund request  0.9 >= 0.8")),
        "{}",
        out.stdout
    );
    assert!(
        lines.iter().any(|l| l.starts_with("✓ PASS  c2  0.9 >= 0.8")),
        "a nameless case is shown by its ID:\n{}",
        out.stdout
    );
}

#[test]
fn quiet_keeps_the_table_and_drops_the_progress() {
    let sim = Sim::start(Scenario::new(support::KEY).case(CaseSpec::passing("c1", 0.9).duration_ms(50)));
    let out = support::run(support::gate(&sim.base_url()).args(["c1", "-q"]));
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert!(
        !out.stderr.contains("kapso-gate: 1 test case"),
        "no start line with -q: {}",
        out.stderr
    );
    assert!(
        !out.stdout.contains("✓ PASS"),
        "no per-run line with -q: {}",
        out.stdout
    );
    assert!(
        out.stdout.contains("PASSED  Case c1"),
        "the final table stays: {}",
        out.stdout
    );
    let loud = support::run(support::gate(&sim.base_url()).arg("c1"));
    assert!(
        loud.stderr.contains("kapso-gate: 1 test case"),
        "without -q the start line is there: {}",
        loud.stderr
    );
}
