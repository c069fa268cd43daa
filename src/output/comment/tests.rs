use super::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const TOKEN: &str = "ghs_unitTestToken9Kq2";
const HEAD_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// An event file unique to this test process and `name`.
/// An event file, removed when dropped.
struct EventFile(PathBuf);

impl Drop for EventFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl std::ops::Deref for EventFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

fn event_file(name: &str, head: &str) -> EventFile {
    let path = std::env::temp_dir().join(format!("kapso-gate-comment-{}-{name}.json", std::process::id()));
    let json = format!(
        r#"{{"number":7,"pull_request":{{"number":7,"head":{{"sha":"{HEAD_SHA}","repo":{{"full_name":"{head}"}}}},"base":{{"sha":"x","repo":{{"full_name":"acme/bot"}}}}}}}}"#
    );
    std::fs::write(&path, json).expect("write the event file");
    EventFile(path)
}

fn env(event: &Path) -> HashMap<String, String> {
    [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_EVENT_PATH", event.to_str().expect("a UTF-8 path")),
        ("GITHUB_TOKEN", TOKEN),
        ("GITHUB_REPOSITORY", "acme/bot"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_RUN_ID", "9001"),
        ("GITHUB_SHA", "fedcba9876543210fedcba9876543210fedcba98"),
        ("GITHUB_WORKFLOW", "Agent evals"),
        ("GITHUB_JOB", "gate"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn config(vars: &HashMap<String, String>) -> Result<CommentConfig, CommentSkip> {
    CommentConfig::from_env(|name| vars.get(name).cloned(), None, None)
}

fn github(config: &CommentConfig) -> &GithubTarget {
    match &config.forge {
        Forge::Github(target) => target,
        Forge::Gitlab(_) => panic!("a GitHub target expected"),
    }
}

#[test]
fn reads_a_pull_request_run() {
    let event = event_file("full", "acme/bot");
    let vars = env(&event);
    let config = config(&vars).expect("a config");
    let target = github(&config);
    assert_eq!(target.api_url.as_str(), "https://api.github.com/");
    assert_eq!(target.repository, "acme/bot");
    assert_eq!(target.pull_request, 7);
    assert_eq!(target.token.expose(), TOKEN);
    assert_eq!(config.key, "Agent evals/gate");
    assert_eq!(
        config.run_url.as_deref(),
        Some("https://github.com/acme/bot/actions/runs/9001")
    );
    assert_eq!(
        config.commit.as_deref(),
        Some(HEAD_SHA),
        "the pull request's head, not the merge commit"
    );
    assert_eq!(config.deadline, crate::policy::defaults::COMMENT_DEADLINE);
    assert!(!format!("{config:?} {config:#?}").contains("unitTestToken"));
}

#[test]
fn explicit_token_and_key_win() {
    let event = event_file("explicit", "acme/bot");
    let vars = env(&event);
    let token = ForgeToken::new("ghp_explicitOne123");
    let config =
        CommentConfig::from_env(|n| vars.get(n).cloned(), token, Some("matrix --> py3.12".into())).expect("a config");
    assert_eq!(github(&config).token.expose(), "ghp_explicitOne123");
    assert_eq!(config.key, "matrix --> py3.12", "exact; the marker encodes it");
    let mut without = vars.clone();
    without.remove("GITHUB_TOKEN");
    assert_eq!(config_err(&without), CommentSkip::NoToken);
    without.insert("GITHUB_TOKEN".into(), "  ".into());
    assert_eq!(config_err(&without), CommentSkip::NoToken, "an empty input is no token");
}

fn config_err(vars: &HashMap<String, String>) -> CommentSkip {
    config(vars).expect_err("a skip")
}

#[test]
fn only_pull_request_events_in_github_actions() {
    let event = event_file("events", "acme/bot");
    let vars = env(&event);
    let mut other = vars.clone();
    other.remove("GITHUB_ACTIONS");
    assert_eq!(config_err(&other), CommentSkip::NotInCi);
    other = vars.clone();
    other.insert("GITHUB_EVENT_NAME".into(), "push".into());
    assert_eq!(config_err(&other), CommentSkip::NotPullRequest("push".into()));
    other.insert("GITHUB_EVENT_NAME".into(), "::error::x\n@all".into());
    assert_eq!(config_err(&other), CommentSkip::NotPullRequest("errorxall".into()));
    other = vars.clone();
    other.insert("GITHUB_EVENT_NAME".into(), "pull_request_target".into());
    assert!(config(&other).is_ok());
    other.insert("GITHUB_EVENT_PATH".into(), "/nonexistent/event.json".into());
    assert!(matches!(
        config_err(&other),
        CommentSkip::Event(event::EventError::Read(_))
    ));
}

#[test]
fn a_fork_is_refused_before_anything_else() {
    let event = event_file("fork", "mallory/bot");
    let vars = env(&event);
    assert_eq!(config_err(&vars), CommentSkip::Fork);
    let mut no_token = vars.clone();
    no_token.remove("GITHUB_TOKEN");
    assert_eq!(
        config_err(&no_token),
        CommentSkip::Fork,
        "the notice names the real reason"
    );
}

#[test]
fn the_token_goes_only_to_a_safe_api() {
    let event = event_file("urls", "acme/bot");
    let vars = env(&event);
    let with_api = |url: &str| {
        let mut v = vars.clone();
        v.insert("GITHUB_API_URL".into(), url.into());
        config(&v).map(|c| github(&c).api_url.to_string())
    };
    assert_eq!(
        with_api("https://ghe.example.com/api/v3"),
        Ok("https://ghe.example.com/api/v3".into())
    );
    assert_eq!(with_api("http://127.0.0.1:8080"), Ok("http://127.0.0.1:8080/".into()));
    assert_eq!(with_api("http://[::1]:8080/api"), Ok("http://[::1]:8080/api".into()));
    assert_eq!(with_api("http://localhost:1"), Ok("http://localhost:1/".into()));
    for unsafe_url in [
        "http://api.github.com",
        "http://10.0.0.1",
        "https://user:pw@api.github.com",
        "https://api.github.com/?x=1",
        "ftp://127.0.0.1",
        "not a url",
    ] {
        assert_eq!(with_api(unsafe_url), Err(CommentSkip::UnsafeApiUrl), "{unsafe_url}");
    }
}

#[test]
fn repository_and_links_are_validated() {
    let event = event_file("repo", "acme/bot");
    let vars = env(&event);
    for bad in ["acme", "acme/bot/x", "../bot", "acme/..", "acme/b ot", "acme/bot?x"] {
        let mut v = vars.clone();
        v.insert("GITHUB_REPOSITORY".into(), bad.into());
        assert_eq!(config_err(&v), CommentSkip::NoRepository, "{bad}");
    }
    let mut v = vars.clone();
    v.insert("GITHUB_SERVER_URL".into(), "https://x.example/a)(b".into());
    v.insert("GITHUB_RUN_ID".into(), "12".into());
    assert_eq!(
        config(&v).expect("a config").run_url,
        None,
        "a URL that would break the link"
    );
    v = vars.clone();
    v.insert("GITHUB_RUN_ID".into(), "12/../../x".into());
    assert_eq!(config(&v).expect("a config").run_url, None);
}

#[test]
fn outcomes_are_one_line_and_never_fatal() {
    let created = CommentOutcome::Created {
        url: Some("https://github.com/acme/bot/pull/7#issuecomment-5".into()),
    };
    assert_eq!(
        created.to_string(),
        "pull request comment created: https://github.com/acme/bot/pull/7#issuecomment-5"
    );
    assert_eq!(created.level(), Level::Info);
    let fork = CommentOutcome::Skipped(CommentSkip::Fork);
    assert_eq!(fork.level(), Level::Notice);
    assert!(fork
        .to_string()
        .starts_with("pull request comment skipped: the pull request comes from a fork"));
    let forbidden = CommentOutcome::Skipped(CommentSkip::Forbidden);
    assert!(forbidden.to_string().contains("permissions: pull-requests: write"));
    let failed = CommentOutcome::Failed(CommentFailure::Status(500));
    assert_eq!(failed.level(), Level::Warning);
    assert_eq!(
        failed.to_string(),
        "pull request comment not posted: the API answered 500 (the gate's result and reports are unaffected)"
    );
    assert_eq!(
        created.github_line(),
        "kapso-gate: pull request comment created: https://github.com/acme/bot/pull/7#issuecomment-5\n"
    );
    assert_eq!(
        fork.github_line(),
        format!("::notice title=kapso-gate::kapso-gate: {fork}\n")
    );
    assert!(failed
        .github_line()
        .starts_with("::warning title=kapso-gate::kapso-gate: pull request comment not posted: the API answered 500"));
    for outcome in [created, fork, forbidden, failed] {
        assert!(!outcome.to_string().contains('\n'));
        assert_eq!(outcome.github_line().matches('\n').count(), 1);
    }
}

fn gitlab_env() -> HashMap<String, String> {
    [
        ("GITLAB_CI", "true"),
        ("CI_API_V4_URL", "https://gitlab.example.com/api/v4"),
        ("CI_MERGE_REQUEST_IID", "12"),
        ("CI_MERGE_REQUEST_PROJECT_ID", "345"),
        ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "345"),
        ("CI_MERGE_REQUEST_PROJECT_URL", "https://gitlab.example.com/acme/bot"),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", HEAD_SHA),
        ("CI_PIPELINE_URL", "https://gitlab.example.com/acme/bot/-/pipelines/77"),
        ("CI_JOB_NAME", "kapso gate"),
        ("GITLAB_TOKEN", "glpat-unitTestToken"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[test]
fn reads_a_gitlab_merge_request_pipeline() {
    let vars = gitlab_env();
    let config = config(&vars).expect("a config");
    let Forge::Gitlab(target) = &config.forge else {
        panic!("a GitLab target expected");
    };
    assert_eq!(target.api_url.as_str(), "https://gitlab.example.com/api/v4");
    assert_eq!((target.project.as_str(), target.merge_request), ("345", 12));
    assert_eq!(target.token.expose(), "glpat-unitTestToken");
    assert_eq!(config.key, "kapso gate");
    assert_eq!(
        config.run_url.as_deref(),
        Some("https://gitlab.example.com/acme/bot/-/pipelines/77")
    );
    assert_eq!(
        config.forge.comment_page(9),
        Some("https://gitlab.example.com/acme/bot/-/merge_requests/12#note_9".into())
    );
    assert!(!format!("{config:?}").contains("unitTestToken"));

    let mut other = vars.clone();
    other.insert("CI_MERGE_REQUEST_SOURCE_PROJECT_ID".into(), "999".into());
    assert_eq!(config_err(&other), CommentSkip::Fork);
    other.remove("CI_MERGE_REQUEST_SOURCE_PROJECT_ID");
    assert_eq!(
        config_err(&other),
        CommentSkip::Fork,
        "an unknown source project is a fork"
    );
    other = vars.clone();
    other.remove("CI_MERGE_REQUEST_IID");
    assert_eq!(config_err(&other), CommentSkip::NotMergeRequest);
    other = vars.clone();
    other.insert("CI_API_V4_URL".into(), "http://gitlab.example.com/api/v4".into());
    assert_eq!(config_err(&other), CommentSkip::UnsafeApiUrl);
    other = vars.clone();
    other.remove("GITLAB_TOKEN");
    assert_eq!(config_err(&other), CommentSkip::NoToken);
}

#[test]
fn the_comment_and_the_gate_share_one_fork_rule() {
    let missing_base = r#"{"pull_request":{"number":7,"head":{"repo":{"full_name":"acme/bot"}},"base":{"repo":null}}}"#;
    let same = r#"{"pull_request":{"number":7,"head":{"repo":{"full_name":"acme/bot"}},"base":{"repo":{"full_name":"acme/bot"}}}}"#;
    for event in [missing_base, same] {
        assert_eq!(
            event::parse(event).expect("an event").from_fork,
            crate::input::cli::is_fork_pull_request(event),
            "{event}"
        );
    }
}
