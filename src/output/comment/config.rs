//! [`CommentConfig::from_env`]: where the comment goes, read from the CI's variables through an
//! injected lookup, checked before any network call (a fork, a non-pull-request run, a missing
//! token or an unsafe API URL end here as a [`CommentSkip`]). The variable names are
//! [`crate::input::vars`].

use super::{event, CommentConfig, CommentSkip, Forge, GithubTarget, GitlabTarget};
use crate::domain::secret::ForgeToken;
use crate::input::vars;
use crate::policy::defaults::COMMENT_DEADLINE;
use std::path::Path;
use url::{Host, Url};

/// Where GitHub's API is when `GITHUB_API_URL` is not set.
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";

impl CommentConfig {
    /// Everything the comment needs, from `lookup` (the process environment in `main`) and, on
    /// GitHub, the event file it names. `explicit_token` (the `github-token` input) wins over
    /// `GITHUB_TOKEN` (`GITLAB_TOKEN` on GitLab); `key` (`--comment-key`) over
    /// `GITHUB_WORKFLOW/GITHUB_JOB` (`CI_JOB_NAME`). Checks come in the order a user would fix
    /// them, and a fork is refused before the token is even looked at.
    pub fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
        explicit_token: Option<ForgeToken>,
        key: Option<String>,
    ) -> Result<CommentConfig, CommentSkip> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let key = key.filter(|k| !k.trim().is_empty());
        if is_true(var(vars::GITHUB_ACTIONS)) {
            github(&var, explicit_token, key)
        } else if is_true(var(vars::GITLAB_CI)) {
            gitlab(&var, explicit_token, key)
        } else {
            Err(CommentSkip::NotInCi)
        }
    }
}

/// The key as given, trimmed (`default` when blank): the marker carries all of it.
fn exact_key(raw: &str) -> String {
    let key = raw.trim();
    if key.is_empty() {
        "default".to_owned()
    } else {
        key.to_owned()
    }
}

fn is_true(value: Option<String>) -> bool {
    value.as_deref() == Some("true")
}

fn github(
    var: &impl Fn(&str) -> Option<String>,
    explicit_token: Option<ForgeToken>,
    key: Option<String>,
) -> Result<CommentConfig, CommentSkip> {
    let pr = pull_request_event(var)?;
    let token = explicit_token
        .or_else(|| var(vars::GITHUB_TOKEN).and_then(|t| ForgeToken::new(&t)))
        .ok_or(CommentSkip::NoToken)?;
    let api_url = var(vars::GITHUB_API_URL).unwrap_or_else(|| DEFAULT_GITHUB_API_URL.to_owned());
    let api_url = safe_api_url(&api_url).ok_or(CommentSkip::UnsafeApiUrl)?;
    let repository = var(vars::GITHUB_REPOSITORY)
        .filter(|r| valid_repository(r))
        .ok_or(CommentSkip::NoRepository)?;
    let web_url = var(vars::GITHUB_SERVER_URL)
        .and_then(|s| link_root(&s))
        .map(|server| format!("{server}/{repository}"));
    let run_url = match (&web_url, var(vars::GITHUB_RUN_ID)) {
        (Some(web), Some(id)) if is_digits(&id) => Some(format!("{web}/actions/runs/{id}")),
        _ => None,
    };
    let commit = pr
        .head_sha
        .clone()
        .or_else(|| var(vars::GITHUB_SHA))
        .filter(|s| is_sha(s));
    let key = key.unwrap_or_else(|| {
        let part = |name| var(name).unwrap_or_default();
        format!("{}/{}", part(vars::GITHUB_WORKFLOW), part(vars::GITHUB_JOB))
    });
    Ok(CommentConfig {
        forge: Forge::Github(GithubTarget {
            api_url,
            web_url,
            repository,
            pull_request: pr.number,
            token,
        }),
        key: exact_key(&key),
        run_url,
        commit,
        deadline: COMMENT_DEADLINE,
    })
}

/// The pull request of a `pull_request` or `pull_request_target` run, unless it is a fork's.
fn pull_request_event(var: &impl Fn(&str) -> Option<String>) -> Result<event::PullRequestEvent, CommentSkip> {
    let event_name = var(vars::GITHUB_EVENT_NAME).unwrap_or_default();
    if event_name != "pull_request" && event_name != "pull_request_target" {
        return Err(CommentSkip::NotPullRequest(shown_name(&event_name)));
    }
    let path = var(vars::GITHUB_EVENT_PATH).ok_or(CommentSkip::Event(event::EventError::NotPullRequest))?;
    let pr = event::read(Path::new(&path)).map_err(CommentSkip::Event)?;
    if pr.from_fork {
        return Err(CommentSkip::Fork);
    }
    Ok(pr)
}

/// An event name as it may be shown: letters, digits and `_` only.
fn shown_name(name: &str) -> String {
    let shown: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect();
    if shown.is_empty() {
        "unknown".into()
    } else {
        shown
    }
}

fn gitlab(
    var: &impl Fn(&str) -> Option<String>,
    explicit_token: Option<ForgeToken>,
    key: Option<String>,
) -> Result<CommentConfig, CommentSkip> {
    let merge_request = var(vars::CI_MERGE_REQUEST_IID)
        .and_then(|iid| iid.parse::<u64>().ok())
        .ok_or(CommentSkip::NotMergeRequest)?;
    let project = var(vars::CI_MERGE_REQUEST_PROJECT_ID)
        .filter(|id| is_digits(id))
        .ok_or(CommentSkip::NoRepository)?;
    if crate::domain::fork::gitlab(Some(&project), var(vars::CI_MERGE_REQUEST_SOURCE_PROJECT_ID).as_deref()) {
        return Err(CommentSkip::Fork);
    }
    let token = explicit_token
        .or_else(|| var(vars::GITLAB_TOKEN).and_then(|t| ForgeToken::new(&t)))
        .ok_or(CommentSkip::NoToken)?;
    let api_url = var(vars::CI_API_V4_URL)
        .and_then(|u| safe_api_url(&u))
        .ok_or(CommentSkip::UnsafeApiUrl)?;
    let web_url = var(vars::CI_MERGE_REQUEST_PROJECT_URL).and_then(|u| link_root(&u));
    let commit = var(vars::CI_MERGE_REQUEST_SOURCE_BRANCH_SHA)
        .or_else(|| var(vars::CI_COMMIT_SHA))
        .filter(|s| is_sha(s));
    let key = key.or_else(|| var(vars::CI_JOB_NAME)).unwrap_or_default();
    Ok(CommentConfig {
        forge: Forge::Gitlab(GitlabTarget {
            api_url,
            web_url,
            project,
            merge_request,
            token,
        }),
        key: exact_key(&key),
        run_url: var(vars::CI_PIPELINE_URL).and_then(|u| link_root(&u)),
        commit,
        deadline: COMMENT_DEADLINE,
    })
}

/// The API root if it is safe to send the token to: https, or http on a loopback address (for
/// tests and local proxies); no user, password, query or fragment.
fn safe_api_url(raw: &str) -> Option<Url> {
    let url = Url::parse(raw.trim()).ok()?;
    let loopback = match url.host()? {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    };
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    let clean =
        url.username().is_empty() && url.password().is_none() && url.query().is_none() && url.fragment().is_none();
    (scheme_ok && clean).then_some(url)
}

/// A web URL for links, only when it can go into a Markdown link as it is. No trailing slash.
fn link_root(raw: &str) -> Option<String> {
    let url = Url::parse(raw.trim()).ok()?;
    let root = url.as_str().trim_end_matches('/').to_owned();
    let plain = root.chars().all(|c| c.is_ascii_alphanumeric() || "-._~:/".contains(c));
    (matches!(url.scheme(), "https" | "http") && url.username().is_empty() && plain).then_some(root)
}

fn valid_repository(repository: &str) -> bool {
    let safe = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    matches!(repository.split_once('/'), Some((owner, name)) if safe(owner) && safe(name))
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.len() <= 20 && text.chars().all(|c| c.is_ascii_digit())
}

fn is_sha(text: &str) -> bool {
    (7..=64).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit())
}
