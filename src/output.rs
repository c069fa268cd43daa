//! Where reports go: the report files (JSON, JUnit) and GitHub's file commands (step summary,
//! outputs). Renderers are pure; this module does the writing, and is called by `main` on
//! every exit path with the destinations the settings resolved.

use crate::file_write::{append, replace_atomically};
use crate::report::{github, json, junit, markdown, Report};
pub use crate::settings::{GithubTargets, Outputs};
use std::path::Path;

/// Writes every file report. Returns one message per destination that could not be written.
/// The JSON and JUnit files are replaced atomically; the GitHub files are appended to, as
/// GitHub's file commands require. `json-report` is announced only when the JSON was written.
pub fn write_files(report: &Report, outputs: &Outputs) -> Vec<String> {
    let mut problems = Vec::new();
    let mut json_written: Option<&Path> = None;
    if let Some(path) = &outputs.json {
        match replace_atomically(path, json::render(report).as_bytes()) {
            Ok(()) => json_written = Some(path),
            Err(error) => problems.push(format!(
                "could not write the JSON report to {}: {error}",
                path.display()
            )),
        }
    }
    if let Some(path) = &outputs.junit {
        if let Err(error) = replace_atomically(path, junit::render(report).as_bytes()) {
            problems.push(format!(
                "could not write the JUnit report to {}: {error}",
                path.display()
            ));
        }
    }
    if let Some(targets) = &outputs.github {
        if let Some(path) = &targets.step_summary {
            let summary = markdown::render(report, markdown::GITHUB_SUMMARY_BUDGET);
            if let Err(error) = append(path, &summary) {
                problems.push(format!(
                    "could not append the step summary to {}: {error}",
                    path.display()
                ));
            }
        }
        if let Some(path) = &targets.output {
            if let Err(error) = append(path, &github::outputs(report, json_written)) {
                problems.push(format!(
                    "could not append the step outputs to {}: {error}",
                    path.display()
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_fixtures::gate_failure;
    use std::fs;

    #[test]
    fn files_are_written_and_appended() {
        let dir = std::env::temp_dir().join(format!("kapso-gate-output-{}", std::process::id()));
        let outputs = Outputs {
            json: Some(dir.join("a/b/report.json")),
            junit: Some(dir.join("junit.xml")),
            github: Some(GithubTargets {
                step_summary: Some(dir.join("summary.md")),
                output: Some(dir.join("output")),
            }),
        };
        let report = gate_failure(crate::exit::Exit::Usage, "no test cases selected");
        assert!(write_files(&report, &outputs).is_empty());
        assert!(write_files(&report, &outputs).is_empty());
        let read = |name: &str| fs::read_to_string(dir.join(name)).expect("written");
        assert!(read("a/b/report.json").contains("\"verdict\": \"usage\""));
        assert!(read("junit.xml").starts_with("<?xml"));
        assert_eq!(
            read("summary.md").matches("kapso-gate usage error (exit 2)").count(),
            2,
            "appended"
        );
        assert_eq!(read("output").matches("json-report<<").count(), 2);
        let leftovers: Vec<_> = fs::read_dir(dir.join("a/b")).expect("dir").collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
        let blocked = Outputs {
            json: Some(dir.join("summary.md/report.json")),
            ..Outputs::default()
        };
        assert_eq!(write_files(&report, &blocked).len(), 1);
        let _ = fs::remove_dir_all(&dir);
    }
}
