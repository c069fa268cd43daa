//! Which reports to write and where ([`ReportPaths`]): the JSON and JUnit files and GitHub's
//! file commands. Resolved on its own, from the raw arguments and the environment, because
//! even a usage error must be reported to every destination the user asked for.

use crate::input::cli::{Args, Env};
use std::path::PathBuf;

/// Every report destination.
#[derive(Debug, Clone, Default)]
pub struct ReportPaths {
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
    /// `GITHUB_WORKSPACE`: report paths inside it are announced relative to it.
    pub workspace: Option<PathBuf>,
}

impl ReportPaths {
    /// The destinations the environment names, for when the arguments cannot be parsed.
    pub fn from_env(env: &Env) -> ReportPaths {
        ReportPaths {
            json: env.json.clone(),
            junit: env.junit.clone(),
            github: env.github_actions.then(|| GithubTargets {
                step_summary: env.github_step_summary.clone(),
                output: env.github_output.clone(),
                workspace: env.github_workspace.clone(),
            }),
        }
    }

    /// The destinations of parsed arguments (flags win over their variables, in clap).
    pub fn resolve(args: &Args, env: &Env) -> ReportPaths {
        ReportPaths {
            json: args.json.clone().filter(|p| !p.as_os_str().is_empty()),
            junit: args.junit.clone().filter(|p| !p.as_os_str().is_empty()),
            ..ReportPaths::from_env(env)
        }
    }
}
