//! Where reports go: the report files (JSON, JUnit) and GitHub's file commands (step summary,
//! step outputs). Renderers are pure; this module does the writing, and is called by `main` on
//! every exit path with the destinations the settings resolved.
//!
//! [`deliver`] owns the order that keeps every output in agreement with the exit code: open
//! every destination, settle, write everything without making any of it final (report files to
//! their temporary files, GitHub files appended so that the append can be taken back), settle
//! again when a write failed and rewrite what the new verdict changes, and only then rename the
//! report files into place. A cancel before that point leaves nothing written.

use crate::fs::file_write::{is_cancelled, Appending, Pending};
pub use crate::input::settings::{GithubTargets, ReportPaths};
use crate::report::{build, github, json, junit, markdown, Report};
use std::path::{Path, PathBuf};

/// A report destination, as the messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    JsonReport,
    JunitReport,
    StepSummary,
    StepOutputs,
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Destination::JsonReport => "JSON report",
            Destination::JunitReport => "JUnit report",
            Destination::StepSummary => "step summary",
            Destination::StepOutputs => "step outputs",
        })
    }
}

/// A destination that could not be written (or appended to), and why.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryProblem {
    /// A report file: its temporary file could not be created, written or renamed into place.
    #[error("could not write the {what} to {}: {error}", path.display())]
    Write {
        what: Destination,
        path: PathBuf,
        error: std::io::Error,
    },
    /// A GitHub file command: the file could not be opened or appended to.
    #[error("could not append the {what} to {}: {error}", path.display())]
    Append {
        what: Destination,
        path: PathBuf,
        error: std::io::Error,
    },
}

/// What became of the reports.
#[derive(Debug)]
pub enum Delivery {
    /// Every destination was tried. `report` is settled: what every written output says;
    /// `problems` names each destination that could not be written.
    Done {
        report: Box<Report>,
        problems: Vec<DeliveryProblem>,
    },
    /// The cancel came before the reports were final: none was written (temporary files
    /// removed, appends taken back).
    Cancelled,
}

/// Opens, settles, writes and commits every report (see the module's documentation).
/// `cancelled` is asked between chunks of every write and before the commit.
pub fn deliver(report: Report, paths: &ReportPaths, cancelled: &dyn Fn() -> bool) -> Delivery {
    let (mut opened, mut problems) = open(paths);
    let mut report = build::settle(report, &problems);
    // Settling changes a verdict once at most (passed to incomplete), so this runs twice at most.
    loop {
        let Some(failed) = opened.stage(&report, cancelled) else {
            return Delivery::Cancelled;
        };
        if failed.is_empty() {
            break;
        }
        problems.extend(failed);
        let before = report.verdict;
        report = build::settle(report, &problems);
        if report.verdict == before {
            break;
        }
    }
    if cancelled() {
        return Delivery::Cancelled;
    }
    problems.extend(opened.commit());
    Delivery::Done {
        report: Box::new(report),
        problems,
    }
}

/// The destinations, opened before anything is written: a destination that cannot be opened is
/// known before the outcome is settled, so every report can agree with the exit code.
#[derive(Debug, Default)]
struct Opened {
    json: Option<(PathBuf, Pending)>,
    junit: Option<(PathBuf, Pending)>,
    step_summary: Option<(PathBuf, Appending)>,
    output: Option<(PathBuf, Appending)>,
    workspace: Option<PathBuf>,
}

/// Opens every destination. Returns one problem per destination that cannot be written.
fn open(paths: &ReportPaths) -> (Opened, Vec<DeliveryProblem>) {
    let mut problems = Vec::new();
    let mut opened = Opened::default();
    let mut pending = |path: &Option<PathBuf>, what: Destination| {
        let path = path.as_ref()?;
        match Pending::create(path) {
            Ok(file) => Some((path.clone(), file)),
            Err(error) => {
                let path = path.clone();
                problems.push(DeliveryProblem::Write { what, path, error });
                None
            }
        }
    };
    opened.json = pending(&paths.json, Destination::JsonReport);
    opened.junit = pending(&paths.junit, Destination::JunitReport);
    if let Some(targets) = &paths.github {
        let mut append = |path: &Option<PathBuf>, what: Destination| {
            let path = path.as_ref()?;
            match Appending::open(path) {
                Ok(file) => Some((path.clone(), file)),
                Err(error) => {
                    let path = path.clone();
                    problems.push(DeliveryProblem::Append { what, path, error });
                    None
                }
            }
        };
        opened.step_summary = append(&targets.step_summary, Destination::StepSummary);
        opened.output = append(&targets.output, Destination::StepOutputs);
        opened.workspace.clone_from(&targets.workspace);
    }
    (opened, problems)
}

/// Where one staged write stands.
enum Staged {
    Written,
    Failed(DeliveryProblem),
    Cancelled,
}

fn staged(result: std::io::Result<()>, describe: impl FnOnce(std::io::Error) -> DeliveryProblem) -> Staged {
    match result {
        Ok(()) => Staged::Written,
        Err(error) if is_cancelled(&error) => Staged::Cancelled,
        Err(error) => Staged::Failed(describe(error)),
    }
}

/// Closes the destination in `slot` when its write failed (dropping it removes its temporary
/// file) and notes why; `None` when the write was cancelled.
fn close_failed<T>(slot: &mut Option<T>, result: Staged, problems: &mut Vec<DeliveryProblem>) -> Option<()> {
    match result {
        Staged::Written => {}
        Staged::Failed(problem) => {
            *slot = None;
            problems.push(problem);
        }
        Staged::Cancelled => return None,
    }
    Some(())
}

impl Opened {
    /// Writes `report` to every destination still open, nothing final yet. A destination that
    /// fails is closed (its temporary file removed, its append taken back) and named in the
    /// result; `None` when cancelled. The JSON and JUnit files are replaced atomically at the
    /// commit; the GitHub files are appended to, as GitHub's file commands require.
    /// `json-report` is announced only when the JSON was written, relative to the workspace
    /// when it lies inside it (a path inside a container means nothing to the next step).
    fn stage(&mut self, report: &Report, cancelled: &dyn Fn() -> bool) -> Option<Vec<DeliveryProblem>> {
        let mut problems = Vec::new();
        if let Some((path, file)) = self.json.as_mut() {
            let result = staged(file.stage(json::render(report).as_bytes(), cancelled), |error| {
                DeliveryProblem::Write {
                    what: Destination::JsonReport,
                    path: path.clone(),
                    error,
                }
            });
            close_failed(&mut self.json, result, &mut problems)?;
        }
        if let Some((path, file)) = self.junit.as_mut() {
            let result = staged(file.stage(junit::render(report).as_bytes(), cancelled), |error| {
                DeliveryProblem::Write {
                    what: Destination::JunitReport,
                    path: path.clone(),
                    error,
                }
            });
            close_failed(&mut self.junit, result, &mut problems)?;
        }
        let shown = self
            .json
            .as_ref()
            .map(|(p, _)| relative_to(p, self.workspace.as_deref()));
        if let Some((path, file)) = self.output.as_mut() {
            let text = github::step_outputs(report, shown.as_deref());
            let result = staged(file.stage(text.as_bytes(), cancelled), |error| {
                DeliveryProblem::Append {
                    what: Destination::StepOutputs,
                    path: path.clone(),
                    error,
                }
            });
            close_failed(&mut self.output, result, &mut problems)?;
        }
        if let Some((path, file)) = self.step_summary.as_mut() {
            let summary = markdown::render(report, markdown::GITHUB_SUMMARY_BUDGET);
            let result = staged(file.stage(summary.as_bytes(), cancelled), |error| {
                DeliveryProblem::Append {
                    what: Destination::StepSummary,
                    path: path.clone(),
                    error,
                }
            });
            close_failed(&mut self.step_summary, result, &mut problems)?;
        }
        Some(problems)
    }

    /// Renames the staged report files into place.
    fn commit(self) -> Vec<DeliveryProblem> {
        let mut problems = Vec::new();
        for (slot, what) in [
            (self.json, Destination::JsonReport),
            (self.junit, Destination::JunitReport),
        ] {
            if let Some((path, file)) = slot {
                if let Err(error) = file.commit() {
                    problems.push(DeliveryProblem::Write { what, path, error });
                }
            }
        }
        problems
    }
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

    fn write_files(report: &Report, paths: &ReportPaths) -> Vec<DeliveryProblem> {
        match deliver(report.clone(), paths, &|| false) {
            Delivery::Done { problems, .. } => problems,
            Delivery::Cancelled => panic!("not cancelled"),
        }
    }

    #[test]
    fn files_are_written_and_appended() {
        let dir = std::env::temp_dir().join(format!("kapso-gate-output-{}", std::process::id()));
        let paths = ReportPaths {
            json: Some(dir.join("a/b/report.json")),
            junit: Some(dir.join("junit.xml")),
            github: Some(GithubTargets {
                step_summary: Some(dir.join("summary.md")),
                output: Some(dir.join("output")),
                workspace: None,
            }),
        };
        let report = gate_failure(crate::domain::exit::Exit::Usage, "no test cases selected");
        assert!(write_files(&report, &paths).is_empty());
        assert!(write_files(&report, &paths).is_empty());
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
        let blocked = ReportPaths {
            json: Some(dir.join("summary.md/report.json")),
            ..ReportPaths::default()
        };
        let problems = write_files(&report, &blocked);
        assert_eq!(problems.len(), 1);
        let expected = format!(
            "could not write the JSON report to {}: ",
            dir.join("summary.md/report.json").display()
        );
        assert!(problems[0].to_string().starts_with(&expected), "{}", problems[0]);
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
