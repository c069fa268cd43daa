//! Keeps the README honest: its two front-door commands and every exit code (in the README and
//! in the book's exit-code page) must match the binary. The options are checked in `docs`.

use kapso_gate::domain::exit::Exit;

const README: &str = include_str!("../../README.md");
const CI_RUN: &str = include_str!("../../.ci/run");
const EXIT_CODES: &str = include_str!("../../docs/exit-codes.md");

#[test]
fn front_door_has_exactly_the_demo_and_the_test_command() {
    let block = README.split("```").nth(1).expect("a code block near the top");
    let commands: Vec<&str> = block
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        commands,
        vec!["cargo run --example demo", "cargo test --workspace"],
        "{block}"
    );
    let first_heading_after = README.find("## ").expect("sections");
    assert!(
        README.find("```").expect("block") < first_heading_after,
        "the commands come before any section"
    );
}

#[test]
fn ci_runs_the_readme_test_command() {
    assert!(CI_RUN.lines().any(|l| l.trim() == "cargo test --workspace"), "{CI_RUN}");
    assert!(CI_RUN.contains("cargo fmt --all --check") && CI_RUN.contains("-D warnings"));
}

#[test]
fn every_exit_code_is_documented_in_readme_and_help() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_kapso-gate"))
        .arg("--help")
        .env_clear()
        .output()
        .expect("help runs");
    let help = String::from_utf8_lossy(&help.stdout);
    for exit in Exit::ALL {
        let row = format!("| {} | `{}` |", exit.code(), exit.name());
        assert!(README.contains(&row), "README lacks the row starting {row:?}");
        assert!(
            EXIT_CODES.contains(&row),
            "docs/exit-codes.md lacks the row starting {row:?}"
        );
        assert!(help.contains(exit.meaning()), "--help lacks exit {}", exit.code());
    }
}
