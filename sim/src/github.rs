//! [`FakeGithub`]: just enough of GitHub's REST API for pull-request comments (list issue
//! comments with `Link` pagination, create, update) and `GET /user`, on the shared fake forge
//! server of [`crate::forge`] (request log, injectable faults: any status, rate limits, delays,
//! half bodies, huge or non-JSON bodies, redirects).
//!
//! Like GitHub, it refuses requests without a `User-Agent` (403) and without a known
//! `Authorization` (401), and comment bodies over 65,536 characters (422), so a client that
//! gets these wrong fails its tests. Each token acts as someone: the token given to
//! [`FakeGithub::start`] is an installation token (the workflow's `GITHUB_TOKEN`), which writes
//! as `github-actions[bot]` and gets 403 from `GET /user`, as on GitHub; a personal token
//! ([`FakeGithub::add_personal_token`]) writes as its user, whom `GET /user` names.

use serde_json::{json, Value};

use crate::forge::{self, error, ForgeServer, Identity, Shared};
use crate::http::{Request, Response};

pub use crate::forge::{FakeComment, GithubFault, GithubRequest};

/// GitHub's limit on a comment body, in characters.
pub const MAX_COMMENT_CHARS: usize = 65_536;
/// The login GitHub shows for comments made with a workflow's `GITHUB_TOKEN`.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// A running fake GitHub REST API on 127.0.0.1. Dropping it shuts it down.
#[derive(Debug)]
pub struct FakeGithub {
    server: ForgeServer,
}

impl FakeGithub {
    /// Starts on an ephemeral port; requests must carry `Authorization: Bearer <token>` (or
    /// `token <token>`), an installation token that writes as [`ACTIONS_BOT`].
    ///
    /// # Panics
    /// When no port can be bound.
    pub fn start(token: &str) -> FakeGithub {
        Self::start_with_prefix(token, "")
    }

    /// Like [`FakeGithub::start`] with the API under a path prefix, as on GitHub Enterprise
    /// Server (`/api/v3`).
    ///
    /// # Panics
    /// When no port can be bound.
    pub fn start_with_prefix(token: &str, prefix: &str) -> FakeGithub {
        let bot = Identity {
            login: ACTIONS_BOT.to_owned(),
            installation: true,
        };
        FakeGithub {
            server: ForgeServer::start("fake-github", handle, prefix, token, bot),
        }
    }

    /// Accepts `token` too, as a personal access token of `login`.
    pub fn add_personal_token(&self, token: &str, login: &str) {
        self.server.add_token(
            token,
            Identity {
                login: login.to_owned(),
                installation: false,
            },
        );
    }

    /// The value for `GITHUB_API_URL`, for example `http://127.0.0.1:41236` (no trailing slash).
    pub fn api_url(&self) -> String {
        self.server.api_url()
    }

    /// Adds a comment as if `login` had posted it; returns its ID.
    pub fn add_comment(&self, repo: &str, issue: u64, body: &str, login: &str) -> u64 {
        self.server.add_comment(repo, issue, body, login)
    }

    /// Every comment, in creation order.
    pub fn comments(&self) -> Vec<FakeComment> {
        self.server.comments()
    }

    /// Every request received, in arrival order.
    pub fn requests(&self) -> Vec<GithubRequest> {
        self.server.requests()
    }

    /// Every request from now on gets `fault` (after the rules added earlier).
    pub fn fault(&self, fault: GithubFault) {
        self.server.add_rule(None, fault, None);
    }

    /// Every request with this method gets `fault`.
    pub fn fault_on(&self, method: &str, fault: GithubFault) {
        self.server.add_rule(Some(method), fault, None);
    }

    /// The next `times` requests with this method get `fault`.
    pub fn fault_on_times(&self, method: &str, fault: GithubFault, times: usize) {
        if times > 0 {
            self.server.add_rule(Some(method), fault, Some(times));
        }
    }
}

/// The routes, after the User-Agent and token checks.
fn handle(shared: &Shared, request: &Request) -> Response {
    if request.header("user-agent").is_none_or(str::is_empty) {
        return error(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
        );
    }
    let authorization = request.header("authorization").unwrap_or("");
    let token = authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("token "));
    let Some(me) = shared.identity(token) else {
        return error(401, "Bad credentials");
    };
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    let Some(path) = path.strip_prefix(shared.prefix.as_str()) else {
        return error(404, "Not Found");
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["user"]) if me.installation => error(403, "Resource not accessible by integration"),
        ("GET", ["user"]) => Response::json(200, &json!({ "login": me.login, "id": 583231, "type": "User" })),
        ("GET", ["repos", owner, repo, "issues", issue, "comments"]) => match issue.parse() {
            Ok(issue) => list(shared, request, &format!("{owner}/{repo}"), issue, query),
            Err(_) => error(404, "Not Found"),
        },
        ("POST", ["repos", owner, repo, "issues", issue, "comments"]) => match issue.parse() {
            Ok(issue) => create(shared, request, &format!("{owner}/{repo}"), issue, &me),
            Err(_) => error(404, "Not Found"),
        },
        ("PATCH", ["repos", owner, repo, "issues", "comments", id]) => match id.parse() {
            Ok(id) => update(shared, request, &format!("{owner}/{repo}"), id),
            Err(_) => error(404, "Not Found"),
        },
        _ => error(404, "Not Found"),
    }
}

fn list(shared: &Shared, request: &Request, repo: &str, issue: u64, query: &str) -> Response {
    let per_page = forge::query_number(query, "per_page").unwrap_or(30).clamp(1, 100);
    let page = forge::query_number(query, "page").unwrap_or(1).max(1);
    let store = shared.lock();
    let all: Vec<&FakeComment> = store
        .comments
        .iter()
        .filter(|c| c.repo == repo && c.issue == issue)
        .collect();
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|c| comment_json(request, c))
        .collect();
    let last = all.len().div_ceil(per_page).max(1);
    let mut response = Response::json(200, &Value::Array(items));
    if page < last {
        let host = request.header("host").unwrap_or("127.0.0.1");
        let base = format!("http://{host}{}", request.path.split('?').next().unwrap_or(""));
        response.headers.push((
            "Link".into(),
            format!(
                "<{base}?per_page={per_page}&page={}>; rel=\"next\", <{base}?per_page={per_page}&page={last}>; rel=\"last\"",
                page + 1
            ),
        ));
    }
    response
}

fn comment_json(request: &Request, c: &FakeComment) -> Value {
    let host = request.header("host").unwrap_or("127.0.0.1");
    json!({
        "id": c.id,
        "body": c.body,
        "user": { "login": c.login, "type": if c.login.ends_with("[bot]") { "Bot" } else { "User" } },
        "html_url": format!("http://{host}/{}/pull/{}#issuecomment-{}", c.repo, c.issue, c.id),
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    })
}

/// The `body` of a create or update request, or the 4xx answer GitHub would give.
fn comment_body(request: &Request) -> Result<String, Response> {
    forge::request_body(request, MAX_COMMENT_CHARS)
}

fn create(shared: &Shared, request: &Request, repo: &str, issue: u64, me: &Identity) -> Response {
    let body = match comment_body(request) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut store = shared.lock();
    let comment = store.push(repo, issue, body, &me.login);
    Response::json(201, &comment_json(request, comment))
}

/// Like GitHub with a token that can write to the repository, anyone's comment can be edited:
/// the client must pick its own.
fn update(shared: &Shared, request: &Request, repo: &str, id: u64) -> Response {
    let body = match comment_body(request) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut store = shared.lock();
    match store.comments.iter_mut().find(|c| c.id == id && c.repo == repo) {
        Some(comment) => {
            comment.body = body;
            comment.edits += 1;
            Response::json(200, &comment_json(request, comment))
        }
        None => error(404, "Not Found"),
    }
}
