//! The GitHub REST backend: list a pull request's issue comments page by page, create one,
//! update one. Nothing a server sends is followed (no redirects, no `Link` URLs: the next page
//! is asked for by number at the configured API) and nothing it sends reaches the outcome
//! text, so neither the token nor hostile text can leave through them.

use super::notes::{Author, Created, Note, NoteApi, User};
use super::{CommentFailure, GithubTarget, Posted};
use crate::domain::secret::ForgeToken;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, LINK, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

/// Comments asked for per page (GitHub's maximum).
const PER_PAGE: usize = 100;
/// A page of 100 comments of up to 65,536 characters each can be large; a bigger answer is refused.
const MAX_LIST_BYTES: usize = 32 * 1024 * 1024;
/// Answers to a create or update repeat one comment.
const MAX_ONE_BYTES: usize = 2 * 1024 * 1024;
/// `GET /user` answers with one user.
const MAX_USER_BYTES: usize = 256 * 1024;
/// Who writes with the workflow's `GITHUB_TOKEN`, which `GET /user` refuses.
pub(crate) const ACTIONS_BOT: &str = "github-actions[bot]";

/// One pull request's comments on one GitHub (github.com or Enterprise Server).
#[derive(Debug)]
pub(crate) struct GithubApi {
    http: reqwest::Client,
    /// `https://api.github.com` or `https://ghe.example.com/api/v3`, without a trailing slash.
    api: String,
    /// `owner/repo`, validated to URL-safe characters.
    repository: String,
    pull_request: u64,
    token: ForgeToken,
}

#[derive(Deserialize)]
struct Comment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    user: Option<User>,
}

impl GithubApi {
    pub fn new(http: reqwest::Client, target: &GithubTarget) -> Self {
        GithubApi {
            http,
            api: target.api_url.as_str().trim_end_matches('/').to_owned(),
            repository: target.repository.clone(),
            pull_request: target.pull_request,
            token: target.token.clone(),
        }
    }

    fn headers(&self) -> Result<HeaderMap, CommentFailure> {
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", self.token.expose()))
            .map_err(|_| CommentFailure::InvalidToken)?;
        authorization.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, authorization);
        headers.insert(ACCEPT, HeaderValue::from_static("application/vnd.github+json"));
        headers.insert("x-github-api-version", HeaderValue::from_static("2022-11-28"));
        Ok(headers)
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&str>,
        limit: usize,
    ) -> Result<(HeaderMap, Vec<u8>), CommentFailure> {
        let request = self.http.request(method, url).headers(self.headers()?);
        super::send(request, body, limit, classify).await
    }

    fn comments_url(&self) -> String {
        format!(
            "{}/repos/{}/issues/{}/comments",
            self.api, self.repository, self.pull_request
        )
    }
}

/// 403 is a refusal unless GitHub says it is a (primary or secondary) rate limit.
fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> CommentFailure {
    let exhausted = headers
        .get("x-ratelimit-remaining")
        .is_some_and(|v| v.as_bytes() == b"0");
    let says_rate_limit = String::from_utf8_lossy(body)
        .to_ascii_lowercase()
        .contains("rate limit");
    match status.as_u16() {
        429 => CommentFailure::RateLimited,
        403 if exhausted || headers.contains_key(RETRY_AFTER) || says_rate_limit => CommentFailure::RateLimited,
        403 => CommentFailure::Forbidden,
        code => CommentFailure::Status(code),
    }
}

/// Whether a `Link` header announces a next page. Its URL is not used.
pub(crate) fn has_next_page(headers: &HeaderMap) -> bool {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|link| link.split(';').skip(1).any(|p| p.trim() == "rel=\"next\""))
}

impl NoteApi for GithubApi {
    async fn page(&self, page: usize) -> Result<(Vec<Note>, bool), CommentFailure> {
        let url = format!("{}?per_page={PER_PAGE}&page={page}", self.comments_url());
        let (headers, bytes) = self.send(Method::GET, &url, None, MAX_LIST_BYTES).await?;
        let comments: Vec<Comment> = serde_json::from_slice(&bytes).map_err(|_| CommentFailure::Unreadable)?;
        let notes = comments
            .into_iter()
            .map(|c| Note {
                id: c.id,
                body: c.body,
                author: c.user.and_then(User::author),
            })
            .collect();
        Ok((notes, has_next_page(&headers)))
    }

    /// `GET /user` names the owner of a personal token. An installation token (the workflow's
    /// `GITHUB_TOKEN`, a GitHub App's) gets 403 (or 401) there: it then acts as
    /// `github-actions[bot]`, which is right for the workflow's token. A GitHub App's own
    /// installation token writes as `<app>[bot]`, which no endpoint open to that token names:
    /// its earlier comments are then not recognised, and the gate posts a new one.
    async fn me(&self) -> Result<Author, CommentFailure> {
        let url = format!("{}/user", self.api);
        match self.send(Method::GET, &url, None, MAX_USER_BYTES).await {
            Ok((_, bytes)) => serde_json::from_slice::<User>(&bytes)
                .ok()
                .and_then(User::author)
                .ok_or(CommentFailure::Unreadable),
            Err(CommentFailure::Forbidden | CommentFailure::Status(401)) => Ok(Author {
                id: None,
                login: ACTIONS_BOT.to_owned(),
            }),
            Err(failure) => Err(failure),
        }
    }

    async fn create(&self, body: &str) -> Result<Posted, CommentFailure> {
        let (_, bytes) = self
            .send(Method::POST, &self.comments_url(), Some(body), MAX_ONE_BYTES)
            .await?;
        Ok(Posted {
            id: serde_json::from_slice::<Created>(&bytes).ok().map(|c| c.id),
        })
    }

    async fn update(&self, id: u64, body: &str) -> Result<Posted, CommentFailure> {
        let url = format!("{}/repos/{}/issues/comments/{id}", self.api, self.repository);
        self.send(Method::PATCH, &url, Some(body), MAX_ONE_BYTES).await?;
        Ok(Posted { id: Some(id) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("a header value"));
        }
        map
    }

    #[test]
    fn link_header_next_page() {
        let next = headers(&[(
            "link",
            "<https://api.github.com/x?page=2>; rel=\"next\", <https://api.github.com/x?page=5>; rel=\"last\"",
        )]);
        assert!(has_next_page(&next));
        let last = headers(&[(
            "link",
            "<https://api.github.com/x?page=1>; rel=\"first\", <https://api.github.com/x?page=4>; rel=\"prev\"",
        )]);
        assert!(!has_next_page(&last));
        assert!(!has_next_page(&HeaderMap::new()));
    }

    #[test]
    fn forbidden_or_rate_limited() {
        let forbidden = StatusCode::FORBIDDEN;
        assert_eq!(
            classify(
                forbidden,
                &HeaderMap::new(),
                b"{\"message\":\"Resource not accessible by integration\"}"
            ),
            CommentFailure::Forbidden
        );
        assert_eq!(
            classify(forbidden, &headers(&[("x-ratelimit-remaining", "0")]), b""),
            CommentFailure::RateLimited
        );
        assert_eq!(
            classify(forbidden, &headers(&[("retry-after", "60")]), b""),
            CommentFailure::RateLimited
        );
        assert_eq!(
            classify(
                forbidden,
                &HeaderMap::new(),
                b"You have exceeded a secondary rate limit"
            ),
            CommentFailure::RateLimited
        );
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), b""),
            CommentFailure::RateLimited
        );
        assert_eq!(
            classify(StatusCode::UNPROCESSABLE_ENTITY, &HeaderMap::new(), b""),
            CommentFailure::Status(422)
        );
    }
}
