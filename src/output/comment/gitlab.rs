//! The GitLab backend: a merge request's notes (list oldest first, page by page; create;
//! update), with the token in `PRIVATE-TOKEN`. As on GitHub, the next page is asked for by
//! number at the configured API, redirects are not followed and no server text reaches the
//! outcome.

use super::github::has_next_page;
use super::notes::{Author, Created, Note, NoteApi, User};
use super::{CommentFailure, GitlabTarget, Posted};
use crate::domain::secret::ForgeToken;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

const PER_PAGE: usize = 100;
const MAX_LIST_BYTES: usize = 32 * 1024 * 1024;
const MAX_ONE_BYTES: usize = 2 * 1024 * 1024;
const MAX_USER_BYTES: usize = 256 * 1024;

/// One merge request's notes.
#[derive(Debug)]
pub(crate) struct GitlabApi {
    http: reqwest::Client,
    /// `https://gitlab.example.com/api/v4`, without a trailing slash.
    api: String,
    /// Digits only.
    project: String,
    merge_request: u64,
    token: ForgeToken,
}

#[derive(Deserialize)]
struct GitlabNote {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    /// GitLab's own notes ("added 1 commit"), never ours.
    #[serde(default)]
    system: bool,
    #[serde(default)]
    author: Option<User>,
}

/// A note's `author`, and what `GET /user` answers.
impl GitlabApi {
    pub fn new(http: reqwest::Client, target: &GitlabTarget) -> Self {
        GitlabApi {
            http,
            api: target.api_url.as_str().trim_end_matches('/').to_owned(),
            project: target.project.clone(),
            merge_request: target.merge_request,
            token: target.token.clone(),
        }
    }

    fn notes_url(&self) -> String {
        format!(
            "{}/projects/{}/merge_requests/{}/notes",
            self.api, self.project, self.merge_request
        )
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&str>,
        limit: usize,
    ) -> Result<(HeaderMap, Vec<u8>), CommentFailure> {
        let mut token = HeaderValue::from_str(self.token.expose()).map_err(|_| CommentFailure::InvalidToken)?;
        token.set_sensitive(true);
        let request = self
            .http
            .request(method, url)
            .header("private-token", token)
            .header(ACCEPT, "application/json");
        super::send(request, body, limit, classify).await
    }
}

fn classify(status: StatusCode, _: &HeaderMap, _: &[u8]) -> CommentFailure {
    match status.as_u16() {
        429 => CommentFailure::RateLimited,
        403 => CommentFailure::Forbidden,
        code => CommentFailure::Status(code),
    }
}

/// GitLab says `X-Next-Page: <n>` (empty on the last page); some proxies keep only `Link`.
fn next_page(headers: &HeaderMap) -> bool {
    let announced = headers
        .get("x-next-page")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.trim().is_empty());
    announced || has_next_page(headers)
}

impl NoteApi for GitlabApi {
    async fn page(&self, page: usize) -> Result<(Vec<Note>, bool), CommentFailure> {
        // GitLab lists newest first unless asked: the oldest marked note is the one kept.
        let url = format!(
            "{}?per_page={PER_PAGE}&page={page}&sort=asc&order_by=created_at",
            self.notes_url()
        );
        let (headers, bytes) = self.send(Method::GET, &url, None, MAX_LIST_BYTES).await?;
        let notes: Vec<GitlabNote> = serde_json::from_slice(&bytes).map_err(|_| CommentFailure::Unreadable)?;
        let notes = notes
            .into_iter()
            .map(|n| Note {
                id: n.id,
                body: n.body,
                // GitLab's own notes are nobody's.
                author: n.author.filter(|_| !n.system).and_then(User::author),
            })
            .collect();
        Ok((notes, next_page(&headers)))
    }

    /// `GET /user`: the user (or a project or group token's bot user) the token belongs to.
    async fn me(&self) -> Result<Author, CommentFailure> {
        let url = format!("{}/user", self.api);
        let (_, bytes) = self.send(Method::GET, &url, None, MAX_USER_BYTES).await?;
        serde_json::from_slice::<User>(&bytes)
            .ok()
            .and_then(User::author)
            .ok_or(CommentFailure::Unreadable)
    }

    async fn create(&self, body: &str) -> Result<Posted, CommentFailure> {
        let (_, bytes) = self
            .send(Method::POST, &self.notes_url(), Some(body), MAX_ONE_BYTES)
            .await?;
        Ok(Posted {
            id: serde_json::from_slice::<Created>(&bytes).ok().map(|c| c.id),
        })
    }

    async fn update(&self, id: u64, body: &str) -> Result<Posted, CommentFailure> {
        let url = format!("{}/{id}", self.notes_url());
        self.send(Method::PUT, &url, Some(body), MAX_ONE_BYTES).await?;
        Ok(Posted { id: Some(id) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_page_from_gitlab_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("x-next-page", HeaderValue::from_static("3"));
        assert!(next_page(&headers));
        headers.insert("x-next-page", HeaderValue::from_static(""));
        assert!(!next_page(&headers));
        assert!(!next_page(&HeaderMap::new()));
        assert_eq!(
            classify(StatusCode::FORBIDDEN, &headers, b""),
            CommentFailure::Forbidden
        );
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &headers, b""),
            CommentFailure::RateLimited
        );
    }
}
