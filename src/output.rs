//! Where reports go: files (JSON, JUnit, GitHub step summary and outputs) and the GitHub
//! workflow commands printed to stdout. Renderers are pure; this module does the writing, and is
//! called by `main` on every exit path.

use crate::cli::{Args, Env, DEFAULT_BASE_URL};
use crate::client::StatsSnapshot;
use crate::exit::Exit;
use crate::report::build::{self, RunInfo};
pub use crate::report::github;
use crate::report::{json, junit, markdown, Report};
use crate::verdict::Aggregate;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Every report destination, known even when the other options are invalid.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    /// Set when running in GitHub Actions.
    pub github: Option<GithubTargets>,
}

/// GitHub's file commands.
#[derive(Debug, Clone, Default)]
pub struct GithubTargets {
    pub step_summary: Option<PathBuf>,
    pub output: Option<PathBuf>,
}

impl Outputs {
    /// The destinations the environment names, for when the arguments cannot be parsed.
    pub fn from_env(env: &Env) -> Outputs {
        Outputs {
            json: env.json.clone(),
            junit: env.junit.clone(),
            github: env.github_actions.then(|| GithubTargets {
                step_summary: env.github_step_summary.clone(),
                output: env.github_output.clone(),
            }),
        }
    }

    /// Reads the destinations from raw arguments, so that even a usage error can be reported.
    pub fn from_args(args: &Args, env: &Env) -> Outputs {
        Outputs {
            json: args.json.clone().filter(|p| !p.as_os_str().is_empty()),
            junit: args.junit.clone().filter(|p| !p.as_os_str().is_empty()),
            ..Outputs::from_env(env)
        }
    }
}

/// Writes every file report. Returns one message per destination that could not be written.
/// The JSON and JUnit files are replaced atomically; the GitHub files are appended to, as
/// GitHub's file commands require. `json-report` is announced only when the JSON was written.
pub fn write_files(report: &Report, outputs: &Outputs) -> Vec<String> {
    let mut problems = Vec::new();
    let mut json_written: Option<&Path> = None;
    if let Some(path) = &outputs.json {
        match write_atomically(path, &json::render(report)) {
            Ok(()) => json_written = Some(path),
            Err(error) => problems.push(format!(
                "could not write the JSON report to {}: {error}",
                path.display()
            )),
        }
    }
    if let Some(path) = &outputs.junit {
        if let Err(error) = write_atomically(path, &junit::render(report)) {
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

/// The report for invalid options: verdict `usage` (exit 2), no cases, and the message, so the
/// JSON, JUnit and GitHub outputs still say what went wrong. Only what is safe to show is taken
/// from the raw arguments: the base URL without credentials, query or fragment.
pub fn usage_failure_report(message: &str, args: Option<&Args>) -> Report {
    let now = SystemTime::now();
    let threshold = args
        .and_then(|a| a.threshold.as_deref())
        .and_then(crate::settings::non_negative)
        .unwrap_or(DEFAULT_THRESHOLD);
    let raw_url = args.and_then(|a| a.base_url.as_deref()).unwrap_or(DEFAULT_BASE_URL);
    let base_url = match url::Url::parse(raw_url.trim()) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => String::new(),
    };
    let info = RunInfo {
        threshold,
        aggregate: Aggregate::default(),
        trials: 1,
        base_url,
        started_at: now,
        finished_at: now,
        requests: StatsSnapshot::default(),
    };
    build::report(
        &info,
        Vec::new(),
        Some(message.to_owned()),
        Some(Exit::Usage),
        Vec::new(),
    )
}

/// The threshold a usage-error report shows when `--threshold` is missing or invalid (the
/// documented default; a config file's value is not read when the options are invalid).
const DEFAULT_THRESHOLD: f64 = 0.8;

/// Writes `contents` to a temporary file next to `path`, then renames it over `path`, so a
/// reader never sees half a report. Creates missing parent directories.
fn write_atomically(path: &Path, contents: &str) -> io::Result<()> {
    crate::state::write_atomically(path, contents.as_bytes())
}

/// Appends `contents` to `path`, creating it (and its parent directories) when missing.
fn append(path: &Path, contents: &str) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let mut file = fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(contents.as_bytes())?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn usage_reports_hide_credentials() {
        let args = Args::parse_from([
            "kapso-gate",
            "--threshold",
            "nope",
            "--base-url",
            "https://user:pw@example.com/api?token=1#x",
        ]);
        let report = usage_failure_report("bad", Some(&args));
        assert_eq!(report.verdict, Exit::Usage);
        assert_eq!(report.exit_code, 2);
        assert_eq!(report.base_url, "https://example.com/api");
        assert_eq!(report.threshold, DEFAULT_THRESHOLD);
        assert_eq!(report.message.as_deref(), Some("bad"));
        assert!(report.cases.is_empty());
    }

    #[test]
    fn inert_blocks_end_with_their_token() {
        let out = github::inert("::error::x");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        let token = lines[0].strip_prefix("::stop-commands::").expect("opening line");
        assert_eq!(lines[2], format!("::{token}::"));
    }

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
        let args = Args::parse_from(["kapso-gate"]);
        let report = usage_failure_report("no test cases selected", Some(&args));
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
