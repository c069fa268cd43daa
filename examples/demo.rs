//! The demo: starts kapso-sim in this process with a small, realistic scenario (a WhatsApp
//! support agent's regression suite: three cases pass, one scores below the threshold with the
//! judge's feedback, one crashes) and runs the real `kapso-gate` binary against it.
//!
//! Run with `cargo run --example demo`. No Kapso account is needed. Reports are written to
//! `target/demo/` (JSON and JUnit) so you can look at them afterwards.

use kapso_sim::{Scenario, Sim};
use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let scenario = match Scenario::load(root.join("sim/scenarios/demo.json")) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("demo: {error}");
            return ExitCode::FAILURE;
        }
    };
    let key = scenario.api_key.clone();
    let sim = Sim::start(scenario);
    let reports = root.join("target/demo");
    eprintln!("demo: simulated Kapso API at {}", sim.base_url());
    eprintln!("demo: $ kapso-gate --suite support-regressions --threshold 0.8 --json target/demo/report.json --junit target/demo/junit.xml\n");

    // The real binary, built by the same cargo that runs this example.
    let status = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--bin", "kapso-gate", "--"])
        .args(["--suite", "support-regressions", "--threshold", "0.8"])
        .arg("--json")
        .arg(reports.join("report.json"))
        .arg("--junit")
        .arg(reports.join("junit.xml"))
        .env("KAPSO_API_KEY", key)
        .env("KAPSO_BASE_URL", sim.base_url())
        .env("KAPSO_POLL_INTERVAL", "500ms")
        .env_remove("GITHUB_ACTIONS")
        .status();
    match status {
        Ok(status) => {
            let code = status.code().unwrap_or(-1);
            eprintln!("\ndemo: kapso-gate exited with {code} (1 = a case failed: the build would go red, with the reason above)");
            eprintln!("demo: reports in {}", reports.display());
            eprintln!("demo: the simulator received {} requests", sim.requests().len());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("demo: could not run kapso-gate: {error}");
            ExitCode::FAILURE
        }
    }
}
