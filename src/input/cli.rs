//! Raw command-line arguments as clap parses them, and the environment the gate reads outside
//! clap (`Env`), by the names of [`crate::input::vars`]. Nothing here is validated; `settings`
//! turns `Args` into `Settings`.

use crate::input::vars;
use crate::policy::verdict::Aggregate;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use std::path::PathBuf;

const ABOUT: &str = "Run Kapso agent test cases and fail the build when any judge score is below the threshold.";

const AFTER_HELP: &str = "\
The API key is read from the KAPSO_API_KEY environment variable only.
Test case IDs come from the arguments and KAPSO_TEST_CASE_IDS together (split on commas, spaces
and newlines); a flag wins over its own environment variable.";

/// Command-line arguments, exactly as given. Options that a config file may also set are
/// `Option`s: their defaults are applied in `settings`, after the config file, so that a flag
/// wins over its variable, which wins over the config file, which wins over the default.
#[derive(Debug, Parser)]
#[command(name = "kapso-gate", version, about = ABOUT, after_help = after_help(), max_term_width = 100)]
pub struct Args {
    /// Test case IDs to run (also KAPSO_TEST_CASE_IDS, combined with these)
    #[arg(value_name = "TEST_CASE_ID")]
    pub test_case_ids: Vec<String>,

    /// Test case IDs from the environment: split on commas, spaces and newlines
    #[arg(
        long = "test-case-ids",
        env = vars::KAPSO_TEST_CASE_IDS,
        hide_env_values = true,
        hide = true,
        value_name = "IDS"
    )]
    pub test_case_ids_env: Option<String>,

    /// Run every test case of this suite (repeatable; values may be comma-separated)
    #[arg(long = "suite", value_name = "ID", env = vars::KAPSO_TEST_SUITE_IDS, hide_env_values = true, action = ArgAction::Append)]
    pub suites: Vec<String>,

    /// Run every test case of every suite of this agent (repeatable)
    #[arg(long = "agent", value_name = "ID", env = vars::KAPSO_AGENT_IDS, hide_env_values = true, action = ArgAction::Append)]
    pub agents: Vec<String>,

    /// Minimum passing score, inclusive
    #[arg(
        long,
        value_name = "SCORE",
        env = vars::KAPSO_THRESHOLD,
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub threshold: Option<String>,

    /// Runs per test case: N, or MIN..MAX to stop as soon as the verdict is certain at
    /// --confidence (e.g. 2..12)
    #[arg(long, value_name = "N", env = vars::KAPSO_TRIALS, hide_env_values = true)]
    pub trials: Option<String>,

    /// How trial scores combine: mean, median or min
    #[arg(
        long,
        value_name = "HOW",
        env = vars::KAPSO_AGGREGATE,
        hide_env_values = true,
        hide_possible_values = true,
        ignore_case = true,
        value_parser = aggregate_parser()
    )]
    pub aggregate: Option<Aggregate>,

    /// Confidence C of the intervals and of MIN..MAX decisions: a certain pass or fail is
    /// wrong with probability at most 1 - C
    #[arg(long, value_name = "C", env = vars::KAPSO_CONFIDENCE, hide_env_values = true)]
    pub confidence: Option<String>,

    /// A MIN..MAX case still uncertain at MAX: `estimate` judges it by its mean, `fail` fails it
    #[arg(long, value_name = "HOW", env = vars::KAPSO_INCONCLUSIVE, hide_env_values = true)]
    pub inconclusive: Option<String>,

    /// TOML file with default options and per-case thresholds, trials and blocking
    #[arg(long, value_name = "PATH", env = vars::KAPSO_CONFIG, hide_env_values = true)]
    pub config: Option<PathBuf>,

    /// JSON report of an earlier run to compare scores with
    #[arg(long, value_name = "PATH", env = vars::KAPSO_BASELINE, hide_env_values = true)]
    pub baseline: Option<PathBuf>,

    /// With --baseline: a case also fails when its score fell by more than this
    #[arg(
        long,
        value_name = "DELTA",
        env = vars::KAPSO_MAX_DROP,
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub max_drop: Option<String>,

    /// With --baseline: warn in every report when the baseline is older than this, e.g. 30days
    #[arg(
        long,
        value_name = "DURATION",
        env = vars::KAPSO_BASELINE_MAX_AGE,
        hide_env_values = true
    )]
    pub baseline_max_age: Option<String>,

    /// Resolve and check the selection, print the plan, create no runs
    #[arg(long, env = vars::KAPSO_DRY_RUN, hide_env_values = true, value_parser = clap::builder::FalseyValueParser::new())]
    pub dry_run: bool,

    /// Run only shard K of N (e.g. 2/3) of the selection, or `auto` from the CI's parallel-job variables
    #[arg(long, value_name = "K/N", env = vars::KAPSO_SHARD, hide_env_values = true)]
    pub shard: Option<String>,

    /// Create at most N test runs in this invocation (a shard gets its share); every case's MIN
    /// trials first, then extra trials to the cases nearest a decision [default: no cap]
    #[arg(long, value_name = "N", env = vars::KAPSO_MAX_RUNS, hide_env_values = true)]
    pub max_runs: Option<String>,

    /// Run a fixed sample of N cases of the selection (the same on every commit, spread over
    /// suites), e.g. for pull requests; the report lists the cases left out
    #[arg(long, value_name = "N", env = vars::KAPSO_SAMPLE, hide_env_values = true)]
    pub sample: Option<String>,

    /// Run only the cases that did not pass in this JSON report; carry its passes over
    #[arg(long, value_name = "PATH", env = vars::KAPSO_RERUN_FAILED, hide_env_values = true)]
    pub rerun_failed: Option<PathBuf>,

    /// With --rerun-failed: carry passes over from a report of another (or an unknown) commit;
    /// the settings must still match. Risky: a pass at another commit says nothing of this code
    #[arg(long, env = vars::KAPSO_RERUN_FAILED_ANY_COMMIT, hide_env_values = true, value_parser = clap::builder::FalseyValueParser::new())]
    pub rerun_failed_any_commit: bool,

    /// The commit under test, recorded in every report [default: GITHUB_SHA, CI_COMMIT_SHA,
    /// CIRCLE_SHA1 or BUILDKITE_COMMIT]
    #[arg(long, value_name = "SHA", env = vars::KAPSO_COMMIT, hide_env_values = true)]
    pub commit: Option<String>,

    /// Merge these shard JSON reports (files or folders of *.json) into one verdict; runs nothing
    #[arg(
        long,
        value_name = "REPORT",
        env = vars::KAPSO_MERGE,
        hide_env_values = true,
        num_args = 1..,
        action = ArgAction::Append,
        conflicts_with = "test_case_ids"
    )]
    pub merge: Vec<String>,

    /// Record created run IDs here; a later run with the same file re-attaches to them
    #[arg(long, value_name = "PATH", env = vars::KAPSO_STATE_FILE, hide_env_values = true)]
    pub state_file: Option<PathBuf>,

    /// Kapso API root (https, or http on a loopback host for local testing)
    #[arg(long, value_name = "URL", env = vars::KAPSO_BASE_URL, hide_env_values = true)]
    pub base_url: Option<String>,

    /// How often to poll each unfinished run, e.g. 5s, 1500ms
    #[arg(long, value_name = "DURATION", env = vars::KAPSO_POLL_INTERVAL, hide_env_values = true)]
    pub poll_interval: Option<String>,

    /// One deadline for the whole gate; runs not finished by then are incomplete
    #[arg(long, value_name = "DURATION", env = vars::KAPSO_TIMEOUT, hide_env_values = true)]
    pub timeout: Option<String>,

    /// Time limit for each HTTP request
    #[arg(long, value_name = "DURATION", env = vars::KAPSO_REQUEST_TIMEOUT, hide_env_values = true)]
    pub request_timeout: Option<String>,

    /// HTTP requests in flight at most
    #[arg(long, value_name = "N", env = vars::KAPSO_CONCURRENCY, hide_env_values = true)]
    pub concurrency: Option<String>,

    /// Requests per minute for everything the gate sends, paced across the minute: auto (start at 100, follow the server's X-RateLimit-Limit), a number (a hard cap), or 0 (no client-side limit)
    #[arg(long, value_name = "N|auto", env = vars::KAPSO_RATE_LIMIT, hide_env_values = true)]
    pub rate_limit: Option<String>,

    /// Length of the rate-limit window (for benchmarks that scale time)
    #[arg(
        long,
        value_name = "DURATION",
        env = vars::KAPSO_RATE_WINDOW,
        hide_env_values = true,
        hide = true
    )]
    pub rate_window: Option<String>,

    /// Turn off learning run durations from finished runs (for the benchmark's A/B comparison)
    #[arg(long, env = vars::KAPSO_NO_DURATION_MODEL, hide_env_values = true, hide = true, value_parser = clap::builder::FalseyValueParser::new())]
    pub no_duration_model: bool,

    /// Create or update one comment with the result on the pull request (GitHub Actions
    /// pull_request runs, GitLab merge request pipelines); never changes the exit code
    #[arg(long, env = vars::KAPSO_PR_COMMENT, hide_env_values = true, value_parser = clap::builder::FalseyValueParser::new())]
    pub pr_comment: bool,

    /// Which pull-request comment to update: runs with the same key share one comment
    /// [default: the workflow and job name]
    #[arg(long, value_name = "KEY", env = vars::KAPSO_COMMENT_KEY, hide_env_values = true)]
    pub comment_key: Option<String>,

    /// The pull-request comment's own deadline (hidden: for tests of a slow API)
    #[arg(
        long,
        value_name = "DURATION",
        env = vars::KAPSO_COMMENT_DEADLINE,
        hide_env_values = true,
        hide = true
    )]
    pub comment_deadline: Option<String>,

    /// Write the JSON report (schema_version 1) to this file
    #[arg(long, value_name = "PATH", env = vars::KAPSO_JSON, hide_env_values = true)]
    pub json: Option<PathBuf>,

    /// Write a JUnit XML report to this file
    #[arg(long, value_name = "PATH", env = vars::KAPSO_JUNIT, hide_env_values = true)]
    pub junit: Option<PathBuf>,

    /// More diagnostics on stderr: each created run and each retry
    #[arg(short, long, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only the final result table and failures
    #[arg(short, long)]
    pub quiet: bool,
}

fn after_help() -> String {
    format!("{AFTER_HELP}\n\n{}", crate::domain::exit::help_table())
}

/// The command line as `--help` shows it: the derived definition, with each option's default
/// taken from the one table in [`crate::policy::defaults`]. Defaults are not clap defaults because a
/// config file sits between a flag and its default.
pub fn command() -> clap::Command {
    let mut command = Args::command();
    for (long, value) in crate::policy::defaults::shown() {
        let id = long.replace('-', "_");
        command = command.mut_arg(id, |arg| {
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            arg.help(format!("{help} [default: {value}]"))
        });
    }
    command
}

impl Args {
    /// Parses the process's arguments with [`command`].
    pub fn parse_process() -> Result<Args, clap::Error> {
        Args::parse_iter(std::env::args_os())
    }

    /// Parses `argv` (the program name first) with [`command`].
    pub fn parse_iter<I, T>(argv: I) -> Result<Args, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut matches = command().try_get_matches_from(argv)?;
        Args::from_arg_matches_mut(&mut matches)
    }
}

/// One option and the environment variable it can be set with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvBinding {
    /// `--long-name`, or the positional's value name.
    pub option: String,
    pub var: String,
}

/// Every environment variable the CLI reads, with the option it backs. Derived from the clap
/// definitions so it cannot drift from them; the action.yml and options-reference tests read this. Hidden
/// options (benchmark knobs) are left out, except the one that carries the positional IDs.
pub fn env_bindings() -> Vec<EnvBinding> {
    let command = Args::command();
    let mut out: Vec<EnvBinding> = command
        .get_arguments()
        .filter(|arg| !arg.is_hide_set() || arg.get_id() == "test_case_ids_env")
        .filter_map(|arg| {
            let var = arg.get_env()?.to_str()?.to_owned();
            let option = match arg.get_long() {
                Some("test-case-ids") => "TEST_CASE_ID".to_owned(),
                Some(long) => format!("--{long}"),
                None => arg.get_id().to_string(),
            };
            Some(EnvBinding { option, var })
        })
        .collect();
    for var in [vars::KAPSO_API_KEY, vars::KAPSO_GITHUB_TOKEN] {
        out.push(EnvBinding {
            option: "(environment only)".into(),
            var: var.into(),
        });
    }
    out
}

/// Names of the `KAPSO_*` variables that are set but empty (or only whitespace). GitHub gives a
/// Docker action's `runs.env` an empty value for every input the workflow left out, and an
/// empty variable means "not set" to every user; `main` removes these before clap reads them.
pub fn empty_kapso_vars(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<std::ffi::OsString> {
    vars.into_iter()
        .filter(|(name, value)| {
            name.to_str().is_some_and(|n| n.starts_with(vars::KAPSO_PREFIX))
                && value.to_str().is_some_and(|v| v.trim().is_empty())
        })
        .map(|(name, _)| name)
        .collect()
}

/// Whether a GitHub `pull_request` event payload comes from a fork, by the one rule of
/// [`crate::domain::fork::github`] (what cannot be known is a fork).
pub fn is_fork_pull_request(event_json: &str) -> bool {
    crate::domain::fork::github_event(event_json)
}

/// The `KAPSO_*` values the action's inputs impose. A composite action's step env cannot be
/// trusted to beat a `KAPSO_*` variable of the job's env, so action.yml gives each input its own
/// `INPUT_<NAME>` variable; under GitHub Actions (`GITHUB_ACTIONS=true`) a non-empty one wins
/// over `KAPSO_<NAME>`. An empty one (an input left out) changes nothing. Only variables the CLI
/// reads are produced, so a stray `INPUT_*` cannot invent settings; `main` applies these before
/// it removes empty variables.
pub fn action_input_overrides(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<(String, std::ffi::OsString)> {
    let vars: Vec<(std::ffi::OsString, std::ffi::OsString)> = vars.into_iter().collect();
    let in_actions = vars
        .iter()
        .any(|(name, value)| name == vars::GITHUB_ACTIONS && value == "true");
    if !in_actions {
        return Vec::new();
    }
    let known: std::collections::BTreeSet<String> = env_bindings().into_iter().map(|b| b.var).collect();
    vars.into_iter()
        .filter_map(|(name, value)| {
            let suffix = name.to_str()?.strip_prefix(vars::ACTION_INPUT_PREFIX)?;
            let var = format!("{}{suffix}", vars::KAPSO_PREFIX);
            let given = value.to_str().is_none_or(|v| !v.trim().is_empty());
            (given && known.contains(&var)).then_some((var, value))
        })
        .collect()
}

/// The environment the gate reads outside clap, captured once so tests can inject it.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// The key, already wrapped so that `Debug` of `Env` or `Settings` cannot show it.
    pub api_key: Option<crate::domain::secret::ApiKey>,
    /// `KAPSO_GITHUB_TOKEN`, the pull-request comment's token, wrapped likewise.
    pub comment_token: Option<crate::domain::secret::ForgeToken>,
    /// Every forge token set: `KAPSO_GITHUB_TOKEN`, `GITHUB_TOKEN`, `GITLAB_TOKEN`, whichever
    /// the comment ends up using, to mask (`::add-mask::`) and to redact.
    pub forge_tokens: Vec<crate::domain::secret::ForgeToken>,
    /// `KAPSO_JSON` and `KAPSO_JUNIT`, for reports when the arguments cannot be parsed.
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub no_color: bool,
    pub github_actions: bool,
    pub github_step_summary: Option<PathBuf>,
    pub github_output: Option<PathBuf>,
    pub github_workspace: Option<PathBuf>,
    /// `GITHUB_EVENT_NAME` and `GITHUB_EVENT_PATH`, to explain a key missing on a fork's
    /// pull request.
    pub github_event_name: Option<String>,
    pub github_event_path: Option<PathBuf>,
    /// The CI parallel-job variables `--shard auto` reads (see [`crate::input::shard::CI_SYSTEMS`]),
    /// name and value, for those that are set.
    pub parallel_vars: Vec<(String, String)>,
    /// The first of [`vars::COMMIT_VARS`] that is set.
    pub ci_commit: Option<String>,
}

impl Env {
    /// A CI parallel-job variable captured for `--shard auto`.
    pub fn parallel_var(&self, name: &str) -> Option<String> {
        self.parallel_vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// Reads the process environment.
    pub fn from_process() -> Self {
        Self::from_lookup(|name| std::env::var_os(name).and_then(|v| v.into_string().ok()))
    }

    /// Reads variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |name: &str| lookup(name).filter(|v| !v.is_empty());
        Env {
            api_key: lookup(vars::KAPSO_API_KEY).map(|k| crate::domain::secret::ApiKey::new(&k)),
            comment_token: lookup(vars::KAPSO_GITHUB_TOKEN).and_then(|t| crate::domain::secret::ForgeToken::new(&t)),
            forge_tokens: [vars::KAPSO_GITHUB_TOKEN, vars::GITHUB_TOKEN, vars::GITLAB_TOKEN]
                .into_iter()
                .filter_map(|name| lookup(name).and_then(|t| crate::domain::secret::ForgeToken::new(&t)))
                .collect(),
            json: non_empty(vars::KAPSO_JSON).map(PathBuf::from),
            junit: non_empty(vars::KAPSO_JUNIT).map(PathBuf::from),
            no_color: non_empty(vars::NO_COLOR).is_some(),
            github_actions: lookup(vars::GITHUB_ACTIONS).as_deref() == Some("true"),
            github_step_summary: non_empty(vars::GITHUB_STEP_SUMMARY).map(PathBuf::from),
            github_output: non_empty(vars::GITHUB_OUTPUT).map(PathBuf::from),
            github_workspace: non_empty(vars::GITHUB_WORKSPACE).map(PathBuf::from),
            github_event_name: non_empty(vars::GITHUB_EVENT_NAME),
            github_event_path: non_empty(vars::GITHUB_EVENT_PATH).map(PathBuf::from),
            parallel_vars: crate::input::shard::auto_variables()
                .filter_map(|name| Some((name.to_owned(), non_empty(name)?)))
                .collect(),
            ci_commit: vars::COMMIT_VARS
                .iter()
                .find_map(|name| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())),
        }
    }
}

/// `--aggregate`: the verdict's aggregates by name (case-insensitive through the argument), so
/// the verdict rules need not know clap.
fn aggregate_parser() -> impl TypedValueParser<Value = Aggregate> {
    PossibleValuesParser::new(Aggregate::ALL.map(Aggregate::name)).map(|name| {
        Aggregate::ALL
            .into_iter()
            .find(|aggregate| aggregate.name().eq_ignore_ascii_case(&name))
            .expect("the parser accepts only the aggregates' names")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_pull_request_source_is_a_fork() {
        let missing_base =
            r#"{"pull_request":{"number":7,"head":{"repo":{"full_name":"acme/bot"}},"base":{"repo":null}}}"#;
        assert!(is_fork_pull_request(missing_base), "unknown base: a fork");
        assert!(is_fork_pull_request("{}"), "unreadable: unknown");
        let same = r#"{"pull_request":{"head":{"repo":{"full_name":"acme/bot","fork":true}},"base":{"repo":{"full_name":"acme/bot"}}}}"#;
        assert!(
            !is_fork_pull_request(same),
            "a pull request inside a forked repository is not from a fork"
        );
    }

    #[test]
    fn clap_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn help_shows_every_default_from_the_table() {
        let help = command().render_help().to_string();
        for (long, value) in crate::policy::defaults::shown() {
            let line = help
                .lines()
                .position(|l| l.trim_start().starts_with(&format!("--{long}")))
                .unwrap_or_else(|| panic!("--{long} missing from help"));
            let text: String = help.lines().skip(line).take(3).collect::<Vec<_>>().join(" ");
            assert!(text.contains(&format!("[default: {value}]")), "--{long}: {text}");
        }
    }

    /// The book's options reference is the complete table; the README's short table may leave
    /// options out, but a row it has shows the same default.
    #[test]
    fn options_tables_show_the_defaults() {
        let reference = include_str!("../../docs/options.md");
        let readme = include_str!("../../README.md");
        for (long, value) in crate::policy::defaults::shown() {
            let prefix = format!("| `--{long} ");
            let row = reference
                .lines()
                .find(|l| l.starts_with(&prefix))
                .unwrap_or_else(|| panic!("docs/options.md has no row for --{long}"));
            for (file, row) in [
                ("docs/options.md", Some(row)),
                ("README.md", readme.lines().find(|l| l.starts_with(&prefix))),
            ] {
                if let Some(row) = row {
                    assert!(
                        row.contains(&format!("| `{value}` |")),
                        "{file}: --{long} row lacks `{value}`: {row}"
                    );
                }
            }
        }
    }

    #[test]
    fn aggregate_is_parsed_here_by_the_verdict_names() {
        let args = Args::parse_iter(["kapso-gate", "--aggregate", "MEDIAN"]).expect("parses");
        assert_eq!(args.aggregate, Some(Aggregate::Median));
        for aggregate in Aggregate::ALL {
            let args = Args::parse_iter(["kapso-gate", "--aggregate", aggregate.name()]).expect("parses");
            assert_eq!(args.aggregate, Some(aggregate));
        }
        let refused = Args::parse_iter(["kapso-gate", "--aggregate", "average"]).expect_err("refused");
        assert!(
            refused.to_string().contains("[possible values: mean, median, min]"),
            "{refused}"
        );
    }

    #[test]
    fn bindings_cover_the_documented_variables() {
        let vars: Vec<String> = env_bindings().into_iter().map(|b| b.var).collect();
        for var in [
            "KAPSO_TEST_CASE_IDS",
            "KAPSO_TEST_SUITE_IDS",
            "KAPSO_THRESHOLD",
            "KAPSO_API_KEY",
            "KAPSO_RATE_LIMIT",
        ] {
            assert!(vars.iter().any(|v| v == var), "{var} missing");
        }
        assert!(
            !vars.iter().any(|v| v == "KAPSO_RATE_WINDOW"),
            "a benchmark knob is not a user option"
        );
    }

    #[test]
    fn empty_kapso_variables_count_as_unset() {
        let vars = [
            ("KAPSO_CONFIG", ""),
            ("KAPSO_THRESHOLD", " \n"),
            ("KAPSO_TRIALS", "3"),
            ("OTHER", ""),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        assert_eq!(
            empty_kapso_vars(vars),
            vec![std::ffi::OsString::from("KAPSO_CONFIG"), "KAPSO_THRESHOLD".into()]
        );
    }

    #[test]
    fn action_inputs_win_over_kapso_variables_in_github_actions() {
        let vars = |github: &str| {
            [
                ("GITHUB_ACTIONS", github),
                ("KAPSO_THRESHOLD", "0.95"),
                ("INPUT_THRESHOLD", "0.7"),
                ("KAPSO_TRIALS", "3"),
                ("INPUT_TRIALS", " "),
                ("INPUT_JSON", "r.json"),
                ("INPUT_NOT_AN_OPTION", "x"),
                ("INPUT_RATE_WINDOW", "1s"),
            ]
            .map(|(k, v)| (k.into(), v.into()))
        };
        let mut got = action_input_overrides(vars("true"));
        got.sort();
        assert_eq!(
            got,
            vec![
                ("KAPSO_JSON".to_owned(), "r.json".into()),
                ("KAPSO_THRESHOLD".to_owned(), "0.7".into())
            ]
        );
        assert_eq!(action_input_overrides(vars("false")), vec![]);
        assert_eq!(action_input_overrides(vars("")), vec![]);
    }

    #[test]
    fn env_reads_github_and_no_color() {
        let env = Env::from_lookup(|name| match name {
            "NO_COLOR" => Some("1".into()),
            "GITHUB_ACTIONS" => Some("true".into()),
            "GITHUB_OUTPUT" => Some("/tmp/out".into()),
            "GITHUB_STEP_SUMMARY" => Some(String::new()),
            _ => None,
        });
        assert!(env.no_color && env.github_actions);
        assert_eq!(env.github_output, Some(PathBuf::from("/tmp/out")));
        assert_eq!(env.github_step_summary, None);
        assert_eq!(env.api_key, None);
    }
}
