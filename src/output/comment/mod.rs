//! The pull-request comment (`--pr-comment`): one comment per pull request and comment key,
//! created on the first run and updated in place on later ones, with the step summary, a link
//! to the run, the commit judged and the time.
//!
//! It never decides anything about the gate: [`publish`] returns a [`CommentOutcome`] that the
//! caller prints as one line, whatever happens (fork, missing permission, network, timeouts,
//! rate limits, hostile or huge answers), within its own deadline (`--comment-deadline`, [`crate::policy::defaults::COMMENT_DEADLINE`]).
//! The token is a [`ForgeToken`] (never formatted), sent only to the configured API, which
//! must be https unless it is a loopback address (then reached without any proxy), and
//! redirects are never followed.
//!
//! [`CommentConfig::from_env`] reads everything from an injected environment lookup and makes
//! no network call; a fork, a non-pull-request event or a missing token end there, as a
//! [`CommentSkip`]. Two backends, GitHub's REST API (pull-request comments, github.com or
//! Enterprise Server) and GitLab's (merge-request notes), implement the crate-private
//! `notes::NoteApi` (list a page, whom the token acts as, create, update); `notes` owns the
//! rule of which comment is the gate's: its marker and its author. `publish` must run inside a
//! tokio runtime with time enabled.

pub mod body;
mod config;
pub mod event;
mod github;
mod gitlab;
mod notes;

use crate::input::vars;
pub use config::DEFAULT_GITHUB_API_URL;

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::domain::secret::ForgeToken;
use url::Url;

/// What the gate's settings ask of the comment, beside what the CI's variables say.
#[derive(Debug, Clone)]
pub struct CommentRequest {
    /// `KAPSO_GITHUB_TOKEN` (the action's `github-token` input), preferred over the CI's token.
    pub explicit_token: Option<ForgeToken>,
    /// `--comment-key`: which of the gate's comments this run owns.
    pub key: Option<String>,
    /// `--comment-deadline`: the whole comment step gives up after this long.
    pub deadline: Duration,
}

/// Where the comment goes and what its footer says; built by [`CommentConfig::from_env`].
#[derive(Debug, Clone)]
pub struct CommentConfig {
    pub forge: Forge,
    /// The exact comment key, trimmed; the marker carries all of it (see [`body::exact_key`]).
    pub key: String,
    /// The workflow run's page.
    pub run_url: Option<String>,
    /// The commit judged (the pull request's head).
    pub commit: Option<String>,
    /// The whole step's deadline.
    pub deadline: Duration,
}

/// The code forge and the conversation to comment on.
#[derive(Debug, Clone)]
pub enum Forge {
    Github(GithubTarget),
    Gitlab(GitlabTarget),
}

/// A GitHub pull request.
#[derive(Debug, Clone)]
pub struct GithubTarget {
    /// Checked: https, or http on a loopback address; no credentials, query or fragment.
    pub api_url: Url,
    /// The repository's page (`GITHUB_SERVER_URL/GITHUB_REPOSITORY`), for links; `None` when
    /// unset or unusable in a Markdown link.
    pub web_url: Option<String>,
    /// `owner/repo`.
    pub repository: String,
    pub pull_request: u64,
    pub token: ForgeToken,
}

/// A GitLab merge request.
#[derive(Debug, Clone)]
pub struct GitlabTarget {
    /// `CI_API_V4_URL`, checked like [`GithubTarget::api_url`].
    pub api_url: Url,
    /// The project's page (`CI_MERGE_REQUEST_PROJECT_URL`), for links.
    pub web_url: Option<String>,
    /// The numeric project ID.
    pub project: String,
    /// The merge request's IID.
    pub merge_request: u64,
    pub token: ForgeToken,
}

impl Forge {
    fn api_url(&self) -> &Url {
        match self {
            Forge::Github(t) => &t.api_url,
            Forge::Gitlab(t) => &t.api_url,
        }
    }

    fn web_url(&self) -> Option<&str> {
        match self {
            Forge::Github(t) => t.web_url.as_deref(),
            Forge::Gitlab(t) => t.web_url.as_deref(),
        }
    }

    fn commit_page(&self, sha: &str) -> Option<String> {
        let web = self.web_url()?;
        Some(match self {
            Forge::Github(_) => format!("{web}/commit/{sha}"),
            Forge::Gitlab(_) => format!("{web}/-/commit/{sha}"),
        })
    }

    fn comment_page(&self, id: u64) -> Option<String> {
        let web = self.web_url()?;
        Some(match self {
            Forge::Github(t) => format!("{web}/pull/{}#issuecomment-{id}", t.pull_request),
            Forge::Gitlab(t) => format!("{web}/-/merge_requests/{}#note_{id}", t.merge_request),
        })
    }
}

impl CommentConfig {
    fn footer(&self, context: &RunContext) -> body::Footer {
        body::Footer {
            run_url: self.run_url.clone(),
            commit: self
                .commit
                .as_ref()
                .map(|sha| (sha.clone(), self.forge.commit_page(sha))),
            at: context.at,
            key: self.key.clone(),
        }
    }
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
    /// Neither GitHub Actions nor GitLab CI.
    NotInCi,
    /// Another event than `pull_request` or `pull_request_target` (its name, letters and `_` only).
    NotPullRequest(String),
    /// A GitLab pipeline that is not for a merge request.
    NotMergeRequest,
    Event(event::EventError),
    /// The head repository is not the base: the token cannot (or must not) write there.
    Fork,
    NoToken,
    NoRepository,
    /// The API URL is not https (nor http on a loopback address), or carries credentials.
    UnsafeApiUrl,
    /// The API answered 403 (not a rate limit): the token may not comment.
    Forbidden,
}

impl fmt::Display for CommentSkip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInCi => f.write_str("not running in GitHub Actions or GitLab CI"),
            Self::NotPullRequest(name) => write!(f, "the workflow event is {name}, not a pull request"),
            Self::NotMergeRequest => f.write_str("the pipeline is not a merge request pipeline"),
            Self::Event(error) => write!(f, "{error} ({})", vars::GITHUB_EVENT_PATH),
            Self::Fork => f.write_str(
                "the pull request comes from a fork, whose token must not comment; the job's summary has the results",
            ),
            Self::NoToken => {
                write!(
                    f,
                    "no token: set the github-token input or {} ({} on GitLab)",
                    vars::GITHUB_TOKEN,
                    vars::GITLAB_TOKEN
                )
            }
            Self::NoRepository => {
                write!(
                    f,
                    "{} ({} on GitLab) is not set or not valid",
                    vars::GITHUB_REPOSITORY,
                    vars::CI_MERGE_REQUEST_PROJECT_ID
                )
            }
            Self::UnsafeApiUrl => f.write_str(
                "the API URL (GITHUB_API_URL or CI_API_V4_URL) must be https (http only on a loopback address), without credentials",
            ),
            Self::Forbidden => f.write_str(
                "the token may not comment (403): on GitHub give the job `permissions: pull-requests: write`, on GitLab use a token with the api scope",
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
            Self::Skipped(CommentSkip::NotInCi | CommentSkip::NotPullRequest(_) | CommentSkip::NotMergeRequest) => {
                Level::Info
            }
            Self::Skipped(_) => Level::Notice,
            Self::Failed(_) => Level::Warning,
        }
    }
}

impl CommentOutcome {
    /// The outcome for a GitHub Actions log, with a newline: skips that need the user's
    /// attention as a `::notice` and failures as a `::warning` (both show on the run's page),
    /// anything else as the plain line. Prefixed with `kapso-gate: `.
    pub fn github_line(&self) -> String {
        let text = format!("kapso-gate: {self}");
        match self.level() {
            Level::Info => format!("{text}\n"),
            Level::Notice => format!(
                "::notice title=kapso-gate::{}\n",
                crate::report::github::escape_data(&text)
            ),
            Level::Warning => format!(
                "::warning title=kapso-gate::{}\n",
                crate::report::github::escape_data(&text)
            ),
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

/// A comment the backend posted or updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Posted {
    /// `None` when the answer did not say (the comment was posted all the same).
    pub id: Option<u64>,
}

/// Creates or updates the comment for `config.key`, within `config.deadline`. Never panics,
/// never prints, never returns an error: see [`CommentOutcome`].
pub async fn publish(config: &CommentConfig, markdown_summary: &str, context: &RunContext) -> CommentOutcome {
    let text = body::compose(markdown_summary, &config.footer(context));
    let marker = body::marker(&config.key);
    let http = match http_client(config.deadline, config.forge.api_url()) {
        Ok(http) => http,
        Err(failure) => return CommentOutcome::Failed(failure),
    };
    let work = async {
        let result = match &config.forge {
            Forge::Github(target) => notes::upsert(&github::GithubApi::new(http, target), &marker, &text).await,
            Forge::Gitlab(target) => notes::upsert(&gitlab::GitlabApi::new(http, target), &marker, &text).await,
        };
        outcome(result, |id| config.forge.comment_page(id))
    };
    tokio::time::timeout(config.deadline, work)
        .await
        .unwrap_or(CommentOutcome::Failed(CommentFailure::Timeout(config.deadline)))
}

/// The one entry point `main` calls: [`CommentConfig::from_env`] with the request's token and
/// key, then [`publish`] within the request's deadline; a skip becomes the outcome.
pub async fn publish_from_env(
    lookup: impl Fn(&str) -> Option<String>,
    request: &CommentRequest,
    markdown_summary: &str,
    context: &RunContext,
) -> CommentOutcome {
    match CommentConfig::from_env(lookup, request.explicit_token.clone(), request.key.clone()) {
        Ok(config) => {
            let config = CommentConfig {
                deadline: request.deadline,
                ..config
            };
            publish(&config, markdown_summary, context).await
        }
        Err(skip) => CommentOutcome::Skipped(skip),
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

/// One client per publish: no redirects (one could take the token to another host), and no
/// overall request timeout, because the step's deadline in [`publish`] covers every request.
/// A plain-http API (allowed only on a loopback address) is never reached through a proxy
/// (`HTTP_PROXY`, `ALL_PROXY`), which would see the token in clear text; an https API may be,
/// as a tunnel the proxy cannot read.
fn http_client(deadline: Duration, api_url: &Url) -> Result<reqwest::Client, CommentFailure> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("kapso-gate/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(deadline.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none());
    if api_url.scheme() != "https" {
        builder = builder.no_proxy();
    }
    builder.build().map_err(|_| CommentFailure::Client)
}

/// Error answers are read only to tell a rate limit from a refusal.
const MAX_ERROR_BYTES: usize = 16 * 1024;

/// Sends one request with an optional `{"body": ...}` JSON; returns the headers and at most
/// `limit` bytes of a 2xx answer. Other answers become the failure `classify` gives (from the
/// status, headers and the start of the body); redirects are not followed.
async fn send(
    mut request: reqwest::RequestBuilder,
    body: Option<&str>,
    limit: usize,
    classify: fn(reqwest::StatusCode, &reqwest::header::HeaderMap, &[u8]) -> CommentFailure,
) -> Result<(reqwest::header::HeaderMap, Vec<u8>), CommentFailure> {
    if let Some(body) = body {
        let json = serde_json::json!({ "body": body }).to_string();
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(json);
    }
    let response = request.send().await.map_err(|e| transport_failure(&e))?;
    let status = response.status();
    let headers = response.headers().clone();
    if status.is_success() {
        return Ok((headers, read_bounded(response, limit).await?));
    }
    if status.is_redirection() {
        return Err(CommentFailure::Redirected(status.as_u16()));
    }
    let text = read_bounded(response, MAX_ERROR_BYTES).await.unwrap_or_default();
    Err(classify(status, &headers, &text))
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
