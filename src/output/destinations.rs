//! Where reports go: the report files (JSON, JUnit) and GitHub's file commands (step summary,
//! outputs). Renderers are pure; this module does the writing, and is called by `main` on
//! every exit path with the destinations the settings resolved.

use crate::file_write::{open_append, Pending};
use crate::report::{github, json, junit, markdown, Report};
pub use crate::settings::{GithubTargets, Outputs};
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The destinations, opened before anything is written: a destination that cannot be opened is
/// known before the outcome is settled, so every report can agree with the exit code.
#[derive(Debug, Default)]
pub struct Opened {
    json: Option<(PathBuf, Pending)>,
    junit: Option<(PathBuf, Pending)>,
    step_summary: Option<(PathBuf, File)>,
    output: Option<(PathBuf, File)>,
    workspace: Option<PathBuf>,
}

/// Opens every destination. Returns one message per destination that cannot be written.
pub fn open(outputs: &Outputs) -> (Opened, Vec<String>) {
    let mut problems = Vec::new();
    let mut opened = Opened::default();
    let mut pending = |path: &Option<PathBuf>, what: &str| {
        let path = path.as_ref()?;
        match Pending::create(path) {
            Ok(file) => Some((path.clone(), file)),
            Err(error) => {
                problems.push(format!("could not write the {what} to {}: {error}", path.display()));
                None
            }
        }
    };
    opened.json = pending(&outputs.json, "JSON report");
    opened.junit = pending(&outputs.junit, "JUnit report");
    if let Some(targets) = &outputs.github {
        let mut append = |path: &Option<PathBuf>, what: &str| {
            let path = path.as_ref()?;
            match open_append(path) {
                Ok(file) => Some((path.clone(), file)),
                Err(error) => {
                    problems.push(format!("could not append the {what} to {}: {error}", path.display()));
                    None
                }
            }
        };
        opened.step_summary = append(&targets.step_summary, "step summary");
        opened.output = append(&targets.output, "step outputs");
        opened.workspace.clone_from(&targets.workspace);
    }
    (opened, problems)
}

/// Writes `report` to every opened destination. The JSON and JUnit files are replaced
/// atomically; the GitHub files are appended to, as GitHub's file commands require.
/// `json-report` is announced only when the JSON was written, relative to the workspace when
/// it lies inside it (a path inside a container means nothing to the next step).
pub fn write(opened: Opened, report: &Report) -> Vec<String> {
    let mut problems = Vec::new();
    let mut json_written: Option<PathBuf> = None;
    if let Some((path, file)) = opened.json {
        match file.commit(json::render(report).as_bytes()) {
            Ok(()) => json_written = Some(path),
            Err(error) => problems.push(format!(
                "could not write the JSON report to {}: {error}",
                path.display()
            )),
        }
    }
    if let Some((path, file)) = opened.junit {
        if let Err(error) = file.commit(junit::render(report).as_bytes()) {
            problems.push(format!(
                "could not write the JUnit report to {}: {error}",
                path.display()
            ));
        }
    }
    if let Some((path, mut file)) = opened.step_summary {
        let summary = markdown::render(report, markdown::GITHUB_SUMMARY_BUDGET);
        if let Err(error) = file.write_all(summary.as_bytes()) {
            problems.push(format!(
                "could not append the step summary to {}: {error}",
                path.display()
            ));
        }
    }
    if let Some((path, mut file)) = opened.output {
        let shown = json_written.map(|p| relative_to(&p, opened.workspace.as_deref()));
        if let Err(error) = file.write_all(github::outputs(report, shown.as_deref()).as_bytes()) {
            problems.push(format!(
                "could not append the step outputs to {}: {error}",
                path.display()
            ));
        }
    }
    problems
}

/// Opens and writes in one go, for callers with nothing to settle in between.
pub fn write_files(report: &Report, outputs: &Outputs) -> Vec<String> {
    let (opened, mut problems) = open(outputs);
    problems.extend(write(opened, report));
    problems
}

/// `path` relative to `workspace` when it lies inside it.
fn relative_to(path: &Path, workspace: Option<&Path>) -> PathBuf {
    workspace
        .and_then(|w| path.strip_prefix(w).ok())
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| path.to_owned(), Path::to_path_buf)
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
                workspace: None,
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

    #[test]
    fn json_report_is_announced_relative_to_the_workspace() {
        let ws = Path::new("/github/workspace");
        assert_eq!(
            relative_to(&ws.join("out/r.json"), Some(ws)),
            PathBuf::from("out/r.json")
        );
        assert_eq!(
            relative_to(Path::new("/tmp/r.json"), Some(ws)),
            PathBuf::from("/tmp/r.json")
        );
        assert_eq!(relative_to(Path::new("r.json"), None), PathBuf::from("r.json"));
    }
}
