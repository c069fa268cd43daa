//! The simplest end-to-end check: one passing case against the simulator.

mod support;

use kapso_sim::{CaseSpec, Scenario, Sim};

#[test]
fn one_passing_case_exits_zero() {
    let sim = Sim::start(Scenario::new(support::KEY).case(CaseSpec::passing("c1", 0.9).duration_ms(50)));
    let out = support::run(support::gate(&sim.base_url()).arg("c1"));
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert!(out.stdout.contains("PASS"), "{}", out.stdout);
}
