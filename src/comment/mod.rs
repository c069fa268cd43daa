//! The pull-request comment (`--pr-comment`): one comment per pull request and comment key,
//! created on the first run and updated in place on later ones, with the step summary, a link
//! to the run, the commit judged and the time.
//!
//! It never decides anything about the gate: [`publish`] returns a [`CommentOutcome`] that the
//! caller prints as one line, whatever happens (fork, missing permission, network, timeouts,
//! rate limits, hostile or huge answers), within its own deadline ([`DEFAULT_DEADLINE`]).
//! The token is a [`ForgeToken`] (never formatted), sent only to the configured API, which
//! must be https unless it is a loopback address, and redirects are never followed.
//!
//! [`CommentConfig::from_env`] reads everything from an injected environment lookup and makes
//! no network call; a fork, a non-pull-request event or a missing token end there, as a
//! [`CommentSkip`]. Backends implement the crate-private `NoteApi` (find by marker, create,
//! update); GitHub's REST API is the one built, a GitLab merge-request note would be a second.

pub mod body;
pub mod event;
mod github;
pub mod token;

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

pub use token::ForgeToken;
use url::{Host, Url};

/// The whole comment step gives up after this long (it is not part of the gate's `--timeout`).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(15);
/// Where GitHub's API is when `GITHUB_API_URL` is not set.
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";

/// The environment variables read, in one place.
pub mod vars {
    pub const GITHUB_ACTIONS: &str = "GITHUB_ACTIONS";
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
}

/// Where the comment goes and what its footer says; built by [`CommentConfig::from_env`].
#[derive(Debug, Clone)]
pub struct CommentConfig {
    pub forge: Forge,
    /// The sanitised comment key (see [`body::sanitize_key`]).
    pub key: String,
    /// The workflow run's page.
    pub run_url: Option<String>,
    /// The commit judged (the pull request's head), with its page when known.
    pub commit: Option<String>,
    /// The whole step's deadline.
    pub deadline: Duration,
}

/// The code forge and the conversation to comment on.
#[derive(Debug, Clone)]
pub enum Forge {
    Github(GithubTarget),
}

/// A GitHub pull request.
#[derive(Debug, Clone)]
pub struct GithubTarget {
    /// Checked: https, or http on a loopback address; no credentials, query or fragment.
    pub api_url: Url,
    /// The web root (`GITHUB_SERVER_URL`), for links; `None` when unset or unusable.
    pub server_url: Option<Url>,
    /// `owner/repo`.
    pub repository: String,
    pub pull_request: u64,
    pub token: ForgeToken,
}

/// Facts about this run that the environment does not give.
#[derive(Debug, Clone, Copy)]
pub struct RunContext {
    /// When the gate finished, shown in the footer.
    pub at: SystemTime,
}

impl RunContext {
    pub fn now() -> Self {
        RunContext { at: SystemTime::now() }
    }
}

/// Why no comment is attempted: nothing here is an error of the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentSkip {
    NotGithubActions,
    /// Another event than `pull_request` or `pull_request_target` (its name, letters and `_` only).
    NotPullRequest(String),
    Event(event::EventError),
    /// The head repository is not the base: the token cannot (or must not) write there.
    Fork,
    NoToken,
    NoRepository,
    /// `GITHUB_API_URL` is not https (nor http on a loopback address), or carries credentials.
    UnsafeApiUrl,
    /// GitHub answered 403: the token may not comment.
    Forbidden,
}

impl fmt::Display for CommentSkip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotGithubActions => f.write_str("not running in GitHub Actions"),
            Self::NotPullRequest(name) => write!(f, "the workflow event is {name}, not a pull request"),
            Self::Event(error) => write!(f, "{error} ({})", vars::GITHUB_EVENT_PATH),
            Self::Fork => f.write_str(
                "the pull request comes from a fork, whose workflow token cannot comment; the step summary has the results",
            ),
            Self::NoToken => f.write_str("no token: set the github-token input or GITHUB_TOKEN"),
            Self::NoRepository => f.write_str("GITHUB_REPOSITORY is not set to owner/repo"),
            Self::UnsafeApiUrl => f.write_str(
                "GITHUB_API_URL must be an https URL (http only on a loopback address) without credentials",
            ),
            Self::Forbidden => f.write_str(
                "GitHub refused the comment (403): give the job `permissions: pull-requests: write`",
            ),
        }
    }
}

/// Why a comment could not be posted. No variant holds text from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentFailure {
    /// The deadline passed.
    Timeout(Duration),
    Connect,
    /// The connection failed or broke during the exchange.
    Transport,
    RateLimited,
    /// A 3xx answer; it is not followed, so the token stays with the configured API.
    Redirected(u16),
    Status(u16),
    /// An answer larger than the cap for its kind.
    TooLarge,
    /// An answer that is not the JSON expected.
    Unreadable,
    /// The token cannot be sent in a header (it contains control characters).
    InvalidToken,
    /// The HTTP client could not be set up.
    Client,
    /// Internal only: turned into [`CommentSkip::Forbidden`].
    Forbidden,
}

impl fmt::Display for CommentFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(d) => write!(f, "no answer within {}s", d.as_secs_f64()),
            Self::Connect => f.write_str("could not connect to the API"),
            Self::Transport => f.write_str("the connection failed during the exchange"),
            Self::RateLimited => f.write_str("the API rate limit is exhausted"),
            Self::Redirected(code) => write!(f, "the API answered with a redirect ({code}), which is not followed"),
            Self::Status(401) => f.write_str("the token was refused (401)"),
            Self::Status(404) => f.write_str("the pull request or repository was not found (404)"),
            Self::Status(422) => f.write_str("the API refused the comment (422)"),
            Self::Status(code) => write!(f, "the API answered {code}"),
            Self::TooLarge => f.write_str("the API's answer was too large"),
            Self::Unreadable => f.write_str("the API's answer was not the JSON expected"),
            Self::InvalidToken => f.write_str("the token contains characters a header cannot carry"),
            Self::Client => f.write_str("the HTTP client could not be set up"),
            Self::Forbidden => f.write_str("the API refused the request (403)"),
        }
    }
}

/// What happened; print it as one line (its `Display`). None of it changes the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentOutcome {
    Created { url: Option<String> },
    Updated { url: Option<String> },
    Skipped(CommentSkip),
    Failed(CommentFailure),
}

/// How loudly to print an outcome (for example as a GitHub `::notice::` or `::warning::`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Notice,
    Warning,
}

impl CommentOutcome {
    pub fn level(&self) -> Level {
        match self {
            Self::Created { .. } | Self::Updated { .. } => Level::Info,
            Self::Skipped(CommentSkip::NotGithubActions | CommentSkip::NotPullRequest(_)) => Level::Info,
            Self::Skipped(_) => Level::Notice,
            Self::Failed(_) => Level::Warning,
        }
    }
}

impl fmt::Display for CommentOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |url: &Option<String>| url.as_deref().map(|u| format!(": {u}")).unwrap_or_default();
        match self {
            Self::Created { url } => write!(f, "pull request comment created{}", at(url)),
            Self::Updated { url } => write!(f, "pull request comment updated{}", at(url)),
            Self::Skipped(why) => write!(f, "pull request comment skipped: {why}"),
            Self::Failed(why) => write!(
                f,
                "pull request comment not posted: {why} (the gate's result and reports are unaffected)"
            ),
        }
    }
}

impl CommentConfig {
    /// Everything the comment needs, from `lookup` (the process environment in `main`) and the
    /// event file it names. `explicit_token` (the `github-token` input) wins over
    /// `GITHUB_TOKEN`; `key` (`--comment-key`) over `GITHUB_WORKFLOW/GITHUB_JOB`. Checks in
    /// the order a user would fix them; a fork is refused before the token is even looked at.
    pub fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
        explicit_token: Option<ForgeToken>,
        key: Option<String>,
    ) -> Result<CommentConfig, CommentSkip> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if var(vars::GITHUB_ACTIONS).as_deref() != Some("true") {
            return Err(CommentSkip::NotGithubActions);
        }
        let event_name = var(vars::GITHUB_EVENT_NAME).unwrap_or_default();
        if event_name != "pull_request" && event_name != "pull_request_target" {
            let shown: String = event_name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(40)
                .collect();
            return Err(CommentSkip::NotPullRequest(if shown.is_empty() {
                "unknown".into()
            } else {
                shown
            }));
        }
        let path = var(vars::GITHUB_EVENT_PATH).ok_or(CommentSkip::Event(event::EventError::NotPullRequest))?;
        let pr = event::read(Path::new(&path)).map_err(CommentSkip::Event)?;
        if pr.from_fork {
            return Err(CommentSkip::Fork);
        }
        let token = explicit_token
            .or_else(|| var(vars::GITHUB_TOKEN).and_then(|t| ForgeToken::new(&t)))
            .ok_or(CommentSkip::NoToken)?;
        let api_url = var(vars::GITHUB_API_URL).unwrap_or_else(|| DEFAULT_GITHUB_API_URL.to_owned());
        let api_url = safe_api_url(&api_url).ok_or(CommentSkip::UnsafeApiUrl)?;
        let repository = var(vars::GITHUB_REPOSITORY)
            .filter(|r| valid_repository(r))
            .ok_or(CommentSkip::NoRepository)?;
        let server_url = var(vars::GITHUB_SERVER_URL).and_then(|s| link_root(&s));
        let run_url = match (&server_url, var(vars::GITHUB_RUN_ID)) {
            (Some(server), Some(id)) if is_digits(&id) => Some(format!("{server}/{repository}/actions/runs/{id}")),
            _ => None,
        };
        let commit = pr
            .head_sha
            .clone()
            .or_else(|| var(vars::GITHUB_SHA))
            .filter(|s| is_sha(s));
        let key = key.filter(|k| !k.trim().is_empty()).unwrap_or_else(|| {
            format!(
                "{}/{}",
                var(vars::GITHUB_WORKFLOW).unwrap_or_default(),
                var(vars::GITHUB_JOB).unwrap_or_default()
            )
        });
        Ok(CommentConfig {
            forge: Forge::Github(GithubTarget {
                api_url,
                server_url: server_url.and_then(|s| Url::parse(&s).ok()),
                repository,
                pull_request: pr.number,
                token,
            }),
            key: body::sanitize_key(&key),
            run_url,
            commit,
            deadline: DEFAULT_DEADLINE,
        })
    }

    fn footer(&self, context: &RunContext) -> body::Footer {
        let Forge::Github(target) = &self.forge;
        let commit = self.commit.as_ref().map(|sha| {
            let page = target.server_url.as_ref().map(|s| {
                format!(
                    "{}/{}/commit/{sha}",
                    s.as_str().trim_end_matches('/'),
                    target.repository
                )
            });
            (sha.clone(), page)
        });
        body::Footer {
            run_url: self.run_url.clone(),
            commit,
            at: context.at,
            key: self.key.clone(),
        }
    }
}

/// The API root if it is safe to send the token to: https, or http on a loopback address (for
/// tests and local proxies); no user, password, query or fragment. No trailing slash.
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

/// The web root for links, only when it can go into a Markdown link as it is.
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

/// A comment the backend posted or updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Posted {
    /// `None` when the answer did not say (the comment was posted all the same).
    pub id: Option<u64>,
}

/// A forge's notes on one conversation (a GitHub pull request, a GitLab merge request).
pub(crate) trait NoteApi {
    /// The first note whose body starts with `marker`.
    async fn find(&self, marker: &str) -> Result<Option<u64>, CommentFailure>;
    async fn create(&self, body: &str) -> Result<Posted, CommentFailure>;
    async fn update(&self, id: u64, body: &str) -> Result<Posted, CommentFailure>;
}

/// Creates or updates the comment for `config.key`, within `config.deadline`. Never panics,
/// never prints, never returns an error: see [`CommentOutcome`].
pub async fn publish(config: &CommentConfig, markdown_summary: &str, context: &RunContext) -> CommentOutcome {
    let text = body::compose(markdown_summary, &config.footer(context));
    let marker = body::marker(&config.key);
    let Forge::Github(target) = &config.forge;
    let api = match github_api(target, config.deadline) {
        Ok(api) => api,
        Err(failure) => return CommentOutcome::Failed(failure),
    };
    let work = async {
        let result = upsert(&api, &marker, &text).await;
        outcome(result, |id| comment_url(target, id))
    };
    tokio::time::timeout(config.deadline, work)
        .await
        .unwrap_or(CommentOutcome::Failed(CommentFailure::Timeout(config.deadline)))
}

/// Created (`true`) or updated, and the comment.
async fn upsert(api: &impl NoteApi, marker: &str, text: &str) -> Result<(bool, Posted), CommentFailure> {
    match api.find(marker).await? {
        Some(id) => match api.update(id, text).await {
            // Deleted since it was listed: post a new one.
            Err(CommentFailure::Status(404)) => api.create(text).await.map(|p| (true, p)),
            other => other.map(|p| (false, p)),
        },
        None => api.create(text).await.map(|p| (true, p)),
    }
}

fn outcome(result: Result<(bool, Posted), CommentFailure>, url: impl Fn(u64) -> Option<String>) -> CommentOutcome {
    match result {
        Ok((true, posted)) => CommentOutcome::Created {
            url: posted.id.and_then(&url),
        },
        Ok((false, posted)) => CommentOutcome::Updated {
            url: posted.id.and_then(&url),
        },
        Err(CommentFailure::Forbidden) => CommentOutcome::Skipped(CommentSkip::Forbidden),
        Err(failure) => CommentOutcome::Failed(failure),
    }
}

fn comment_url(target: &GithubTarget, id: u64) -> Option<String> {
    let server = target.server_url.as_ref()?;
    Some(format!(
        "{}/{}/pull/{}#issuecomment-{id}",
        server.as_str().trim_end_matches('/'),
        target.repository,
        target.pull_request
    ))
}

fn github_api(target: &GithubTarget, deadline: Duration) -> Result<github::GithubApi, CommentFailure> {
    let http = reqwest::Client::builder()
        .user_agent(concat!("kapso-gate/", env!("CARGO_PKG_VERSION")))
        // No overall request timeout: the step's deadline in `publish` covers every request.
        .connect_timeout(deadline.min(Duration::from_secs(5)))
        // A redirect could take the Authorization header to another host.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|_| CommentFailure::Client)?;
    Ok(github::GithubApi {
        http,
        api: target.api_url.as_str().trim_end_matches('/').to_owned(),
        repository: target.repository.clone(),
        pull_request: target.pull_request,
        token: target.token.clone(),
    })
}

/// A transport error as a failure without its text (which can name URLs).
fn transport_failure(error: &reqwest::Error) -> CommentFailure {
    if error.is_connect() {
        CommentFailure::Connect
    } else {
        CommentFailure::Transport
    }
}

/// Reads at most `limit` bytes of a body; more is [`CommentFailure::TooLarge`].
async fn read_bounded(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, CommentFailure> {
    if response.content_length().is_some_and(|len| len > limit as u64) {
        return Err(CommentFailure::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_failure(&e))? {
        if body.len() + chunk.len() > limit {
            return Err(CommentFailure::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests;
