//! The pull request a GitHub Actions run is about, read from the event payload the runner
//! writes to `GITHUB_EVENT_PATH`: its number, its head and base repositories (a fork by the
//! rule of [`crate::domain::fork::github`]) and the head commit.

use crate::domain::fork::{self, GithubRepo};
use serde::Deserialize;
use std::io::Read as _;
use std::path::Path;

/// GitHub caps webhook payloads at 25 MB; a larger file is not an event.
const MAX_EVENT_BYTES: u64 = 25 * 1024 * 1024;

/// What the comment needs from a `pull_request` or `pull_request_target` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestEvent {
    pub number: u64,
    /// `owner/repo` of the base (the repository the pull request targets).
    pub base_repo: Option<String>,
    /// `owner/repo` of the head; `None` when GitHub no longer knows it (a deleted fork).
    pub head_repo: Option<String>,
    /// The commit at the head of the pull request, the one the gate judged.
    pub head_sha: Option<String>,
    /// The head lives in another repository than the base, or in none GitHub still knows.
    pub from_fork: bool,
}

/// Why the event could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("could not read the event file: {0}")]
    Read(String),
    #[error("the event file is not a pull request event")]
    NotPullRequest,
}

#[derive(Deserialize)]
struct Payload {
    pull_request: Option<PullRequest>,
}

#[derive(Deserialize)]
struct PullRequest {
    number: u64,
    head: Side,
    base: Side,
}

#[derive(Deserialize)]
struct Side {
    sha: Option<String>,
    repo: Option<GithubRepo>,
}

/// Reads and parses the event file (see [`read_text`]).
pub fn read(path: &Path) -> Result<PullRequestEvent, EventError> {
    parse(&read_text(path)?)
}

/// The event file's text: a regular file of at most [`MAX_EVENT_BYTES`]. The open cannot block
/// (`O_NONBLOCK`), so a FIFO or a device at the path is refused instead of waited on.
pub fn read_text(path: &Path) -> Result<String, EventError> {
    let read_error = |e: std::io::Error| EventError::Read(e.kind().to_string());
    let file = crate::fs::file_write::non_blocking(std::fs::OpenOptions::new().read(true))
        .open(path)
        .map_err(read_error)?;
    if !file.metadata().map_err(read_error)?.is_file() {
        return Err(EventError::Read("not a regular file".into()));
    }
    let mut text = String::new();
    file.take(MAX_EVENT_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    if text.len() as u64 > MAX_EVENT_BYTES {
        return Err(EventError::Read("larger than 25 MB".into()));
    }
    Ok(text)
}

/// Parses an event payload.
pub fn parse(json: &str) -> Result<PullRequestEvent, EventError> {
    let payload: Payload = serde_json::from_str(json).map_err(|_| EventError::NotPullRequest)?;
    let pr = payload.pull_request.ok_or(EventError::NotPullRequest)?;
    let name = |side: &Side| side.repo.as_ref().and_then(|r| r.full_name.clone());
    let from_fork = fork::github(pr.head.repo.as_ref(), pr.base.repo.as_ref());
    Ok(PullRequestEvent {
        number: pr.number,
        base_repo: name(&pr.base),
        head_repo: name(&pr.head),
        head_sha: pr.head.sha,
        from_fork,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(head: &str, base: &str) -> String {
        format!(
            r#"{{"action":"synchronize","number":7,"pull_request":{{"number":7,"title":"@everyone #1",
               "head":{{"sha":"0123456789abcdef0123456789abcdef01234567","repo":{head}}},
               "base":{{"sha":"fedcba9876543210fedcba9876543210fedcba98","repo":{base}}}}}}}"#
        )
    }

    #[test]
    fn same_repository_pull_request() {
        let json = event(
            r#"{"id":1,"full_name":"acme/bot"}"#,
            r#"{"id":1,"full_name":"acme/bot"}"#,
        );
        assert_eq!(
            parse(&json),
            Ok(PullRequestEvent {
                number: 7,
                base_repo: Some("acme/bot".into()),
                head_repo: Some("acme/bot".into()),
                head_sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
                from_fork: false,
            })
        );
    }

    #[test]
    fn forks_are_recognised() {
        let fork = event(
            r#"{"id":2,"full_name":"mallory/bot"}"#,
            r#"{"id":1,"full_name":"acme/bot"}"#,
        );
        assert!(parse(&fork).expect("an event").from_fork);
        let by_name = event(r#"{"full_name":"mallory/bot"}"#, r#"{"full_name":"acme/bot"}"#);
        assert!(parse(&by_name).expect("an event").from_fork);
        let same_by_name = event(r#"{"full_name":"Acme/Bot"}"#, r#"{"full_name":"acme/bot"}"#);
        assert!(!parse(&same_by_name).expect("an event").from_fork);
        let deleted = event("null", r#"{"id":1,"full_name":"acme/bot"}"#);
        let deleted = parse(&deleted).expect("an event");
        assert!(deleted.from_fork, "a deleted head repository is not trusted");
        assert_eq!(deleted.head_repo, None);
    }

    #[test]
    fn other_payloads_are_refused() {
        assert_eq!(
            parse(r#"{"ref":"refs/heads/main","commits":[]}"#),
            Err(EventError::NotPullRequest)
        );
        assert_eq!(parse("not json"), Err(EventError::NotPullRequest));
        assert_eq!(
            parse(r#"{"pull_request":{"number":"seven"}}"#),
            Err(EventError::NotPullRequest)
        );
        assert!(matches!(
            read(Path::new("/nonexistent/kapso-gate/event.json")),
            Err(EventError::Read(_))
        ));
        assert_eq!(
            read(Path::new(".")),
            Err(EventError::Read("not a regular file".into())),
            "a folder"
        );
    }
}
