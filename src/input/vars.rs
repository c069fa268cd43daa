//! The one table of environment variable names the gate reads: its own `KAPSO_*` settings, and
//! the CI systems' variables (GitHub Actions, GitLab CI, CircleCI, Buildkite). Every other file
//! names a variable through these constants, never as a string literal.

/// Prefix of the gate's own variables: an empty one counts as not set (see
/// `cli::empty_kapso_vars`).
pub const KAPSO_PREFIX: &str = "KAPSO_";
/// Prefix of the variables action.yml sets from its inputs: `INPUT_THRESHOLD` carries the
/// `threshold` input for `KAPSO_THRESHOLD`.
pub const ACTION_INPUT_PREFIX: &str = "INPUT_";

// The gate's settings, one per option (see `cli::Args`).
pub const KAPSO_TEST_CASE_IDS: &str = "KAPSO_TEST_CASE_IDS";
pub const KAPSO_TEST_SUITE_IDS: &str = "KAPSO_TEST_SUITE_IDS";
pub const KAPSO_AGENT_IDS: &str = "KAPSO_AGENT_IDS";
pub const KAPSO_THRESHOLD: &str = "KAPSO_THRESHOLD";
pub const KAPSO_TRIALS: &str = "KAPSO_TRIALS";
pub const KAPSO_AGGREGATE: &str = "KAPSO_AGGREGATE";
pub const KAPSO_CONFIDENCE: &str = "KAPSO_CONFIDENCE";
pub const KAPSO_INCONCLUSIVE: &str = "KAPSO_INCONCLUSIVE";
pub const KAPSO_CONFIG: &str = "KAPSO_CONFIG";
pub const KAPSO_BASELINE: &str = "KAPSO_BASELINE";
pub const KAPSO_BASELINE_MAX_AGE: &str = "KAPSO_BASELINE_MAX_AGE";
pub const KAPSO_MAX_DROP: &str = "KAPSO_MAX_DROP";
pub const KAPSO_DRY_RUN: &str = "KAPSO_DRY_RUN";
pub const KAPSO_SHARD: &str = "KAPSO_SHARD";
pub const KAPSO_MAX_RUNS: &str = "KAPSO_MAX_RUNS";
pub const KAPSO_SAMPLE: &str = "KAPSO_SAMPLE";
pub const KAPSO_RERUN_FAILED: &str = "KAPSO_RERUN_FAILED";
pub const KAPSO_RERUN_FAILED_ANY_COMMIT: &str = "KAPSO_RERUN_FAILED_ANY_COMMIT";
pub const KAPSO_COMMIT: &str = "KAPSO_COMMIT";
pub const KAPSO_MERGE: &str = "KAPSO_MERGE";
pub const KAPSO_STATE_FILE: &str = "KAPSO_STATE_FILE";
pub const KAPSO_BASE_URL: &str = "KAPSO_BASE_URL";
pub const KAPSO_POLL_INTERVAL: &str = "KAPSO_POLL_INTERVAL";
pub const KAPSO_TIMEOUT: &str = "KAPSO_TIMEOUT";
pub const KAPSO_REQUEST_TIMEOUT: &str = "KAPSO_REQUEST_TIMEOUT";
pub const KAPSO_CONCURRENCY: &str = "KAPSO_CONCURRENCY";
pub const KAPSO_RATE_LIMIT: &str = "KAPSO_RATE_LIMIT";
pub const KAPSO_RATE_WINDOW: &str = "KAPSO_RATE_WINDOW";
pub const KAPSO_NO_DURATION_MODEL: &str = "KAPSO_NO_DURATION_MODEL";
pub const KAPSO_PR_COMMENT: &str = "KAPSO_PR_COMMENT";
pub const KAPSO_COMMENT_KEY: &str = "KAPSO_COMMENT_KEY";
pub const KAPSO_COMMENT_DEADLINE: &str = "KAPSO_COMMENT_DEADLINE";
pub const KAPSO_JSON: &str = "KAPSO_JSON";
pub const KAPSO_JUNIT: &str = "KAPSO_JUNIT";

/// The API key: read from the environment only, never from a flag, because a flag value shows
/// in process lists and CI logs.
pub const KAPSO_API_KEY: &str = "KAPSO_API_KEY";
/// The token for the pull-request comment: environment only, like the API key.
pub const KAPSO_GITHUB_TOKEN: &str = "KAPSO_GITHUB_TOKEN";
/// `NO_COLOR` (<https://no-color.org>): any non-empty value turns colour off.
pub const NO_COLOR: &str = "NO_COLOR";

// GitHub Actions.
/// Set to `true` by GitHub Actions runners.
pub const GITHUB_ACTIONS: &str = "GITHUB_ACTIONS";
/// File GitHub renders as the job summary.
pub const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";
/// File GitHub reads step outputs from.
pub const GITHUB_OUTPUT: &str = "GITHUB_OUTPUT";
/// Report paths inside the workspace are announced relative to it.
pub const GITHUB_WORKSPACE: &str = "GITHUB_WORKSPACE";
pub const GITHUB_EVENT_NAME: &str = "GITHUB_EVENT_NAME";
pub const GITHUB_EVENT_PATH: &str = "GITHUB_EVENT_PATH";
pub const GITHUB_TOKEN: &str = "GITHUB_TOKEN";
pub const GITHUB_API_URL: &str = "GITHUB_API_URL";
pub const GITHUB_SERVER_URL: &str = "GITHUB_SERVER_URL";
pub const GITHUB_REPOSITORY: &str = "GITHUB_REPOSITORY";
pub const GITHUB_RUN_ID: &str = "GITHUB_RUN_ID";
pub const GITHUB_SHA: &str = "GITHUB_SHA";
pub const GITHUB_WORKFLOW: &str = "GITHUB_WORKFLOW";
pub const GITHUB_JOB: &str = "GITHUB_JOB";

// GitLab CI.
pub const GITLAB_CI: &str = "GITLAB_CI";
pub const GITLAB_TOKEN: &str = "GITLAB_TOKEN";
pub const CI_API_V4_URL: &str = "CI_API_V4_URL";
pub const CI_MERGE_REQUEST_IID: &str = "CI_MERGE_REQUEST_IID";
pub const CI_MERGE_REQUEST_PROJECT_ID: &str = "CI_MERGE_REQUEST_PROJECT_ID";
pub const CI_MERGE_REQUEST_SOURCE_PROJECT_ID: &str = "CI_MERGE_REQUEST_SOURCE_PROJECT_ID";
pub const CI_MERGE_REQUEST_PROJECT_URL: &str = "CI_MERGE_REQUEST_PROJECT_URL";
pub const CI_MERGE_REQUEST_SOURCE_BRANCH_SHA: &str = "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA";
pub const CI_PIPELINE_URL: &str = "CI_PIPELINE_URL";
pub const CI_COMMIT_SHA: &str = "CI_COMMIT_SHA";
pub const CI_JOB_NAME: &str = "CI_JOB_NAME";
pub const CI_NODE_INDEX: &str = "CI_NODE_INDEX";
pub const CI_NODE_TOTAL: &str = "CI_NODE_TOTAL";

// CircleCI and Buildkite.
pub const CIRCLE_SHA1: &str = "CIRCLE_SHA1";
pub const CIRCLE_NODE_INDEX: &str = "CIRCLE_NODE_INDEX";
pub const CIRCLE_NODE_TOTAL: &str = "CIRCLE_NODE_TOTAL";
pub const BUILDKITE_COMMIT: &str = "BUILDKITE_COMMIT";
pub const BUILDKITE_PARALLEL_JOB: &str = "BUILDKITE_PARALLEL_JOB";
pub const BUILDKITE_PARALLEL_JOB_COUNT: &str = "BUILDKITE_PARALLEL_JOB_COUNT";

/// The CI variables that name the commit under test, read in this order when neither
/// `--commit` nor `KAPSO_COMMIT` is given: GitHub Actions, GitLab CI, CircleCI, Buildkite.
pub const COMMIT_VARS: [&str; 4] = [GITHUB_SHA, CI_COMMIT_SHA, CIRCLE_SHA1, BUILDKITE_COMMIT];

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Production code of `file`: a file's text before its `#[cfg(test)]` module; test files
    /// (`tests.rs`, `tests/`) have none.
    fn production_code(file: &Path) -> String {
        if file.file_name().is_some_and(|n| n == "tests.rs") || file.components().any(|c| c.as_os_str() == "tests") {
            return String::new();
        }
        let text = std::fs::read_to_string(file).expect("a source file");
        text.split("#[cfg(test)]").next().unwrap_or_default().to_owned()
    }

    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a source directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn variable_names_are_spelled_only_in_this_table() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let prefixes = [
            "KAPSO_",
            "GITHUB_",
            "GITLAB_",
            "CI_",
            "CIRCLE_",
            "BUILDKITE_",
            "NO_COLOR",
            "INPUT_",
        ];
        let mut found = Vec::new();
        for file in files.iter().filter(|f| !f.ends_with("input/vars.rs")) {
            let code = production_code(file);
            for prefix in prefixes {
                if code.contains(&format!("\"{prefix}")) {
                    found.push(format!("{} spells a \"{prefix}…\" name", file.display()));
                }
            }
        }
        assert!(files.len() > 50, "the scan saw the sources: {}", files.len());
        assert!(found.is_empty(), "use crate::input::vars instead: {found:#?}");
    }
}
