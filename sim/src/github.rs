//! [`FakeGithub`]: just enough of GitHub's REST API for pull-request comments (list issue
//! comments with `Link` pagination, create, update), with a request log and injectable faults
//! (any status, rate limits, delays, half bodies, huge or non-JSON bodies, redirects).
//!
//! Like GitHub, it refuses requests without a `User-Agent` (403) and without the expected
//! `Authorization` (401), and comment bodies over 65,536 characters (422), so a client that
//! gets these wrong fails its tests.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

use crate::background::Background;
use crate::http::{self, ReadError, Request, Response};

/// GitHub's limit on a comment body, in characters.
pub const MAX_COMMENT_CHARS: usize = 65_536;
/// The login GitHub shows for comments made with a workflow's `GITHUB_TOKEN`.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// Something the fake does instead of (or before) answering normally.
#[derive(Debug, Clone)]
pub enum GithubFault {
    /// Answer with this status and a GitHub-style JSON error.
    Status(u16),
    /// A primary rate limit as GitHub sends it: 403 with `x-ratelimit-remaining: 0`.
    RateLimited,
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// The normal answer's head and half its body, then close the connection.
    HalfBody,
    /// 200 with a body of this many bytes (JSON that never ends).
    Huge(usize),
    /// 200 with an HTML page instead of JSON.
    NotJson,
    /// 307 to this URL (a client must not follow it with its token).
    Redirect(String),
    /// 500 whose body quotes the request's `Authorization` header back.
    EchoAuthorization,
}

/// One comment the fake holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeComment {
    pub id: u64,
    /// `owner/repo`.
    pub repo: String,
    pub issue: u64,
    pub body: String,
    pub login: String,
    /// How many times it was updated.
    pub edits: usize,
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct GithubRequest {
    pub method: String,
    /// Path and query as received.
    pub path: String,
    /// Lowercased names, in order (`authorization` included, so tests can check where the token went).
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Status sent; 0 when the connection was closed without a full answer.
    pub status: u16,
}

impl GithubRequest {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
struct Rule {
    method: Option<String>,
    fault: GithubFault,
    /// `None`: every matching request; otherwise the number of requests left.
    remaining: Option<usize>,
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    pub comments: Vec<FakeComment>,
    requests: Vec<GithubRequest>,
    rules: VecDeque<Rule>,
    pub next_id: u64,
}

/// Which forge's API the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Github,
    Gitlab,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub token: String,
    pub prefix: String,
    pub dialect: Dialect,
    store: Mutex<Store>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The fault for this request, consuming one use of a counted rule.
    fn fault_for(&self, method: &str) -> Option<GithubFault> {
        let mut store = self.lock();
        let index = store
            .rules
            .iter()
            .position(|r| r.method.as_deref().is_none_or(|m| m == method))?;
        let rule = &mut store.rules[index];
        let fault = rule.fault.clone();
        if let Some(left) = rule.remaining.as_mut() {
            *left -= 1;
            if *left == 0 {
                store.rules.remove(index);
            }
        }
        Some(fault)
    }
}

/// A running fake GitHub REST API on 127.0.0.1. Dropping it shuts it down.
#[derive(Debug)]
pub struct FakeGithub {
    shared: Arc<Shared>,
    server: Background,
}

impl FakeGithub {
    /// Starts on an ephemeral port; requests must carry `Authorization: Bearer <token>` (or
    /// `token <token>`).
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
        Self::start_speaking(Dialect::Github, token, prefix)
    }

    pub(crate) fn start_speaking(dialect: Dialect, token: &str, prefix: &str) -> FakeGithub {
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            prefix: prefix.trim_end_matches('/').to_owned(),
            dialect,
            store: Mutex::new(Store {
                next_id: 1_000,
                ..Store::default()
            }),
        });
        let for_server = Arc::clone(&shared);
        let server = Background::spawn("fake-github", SocketAddr::from(([127, 0, 0, 1], 0)), move |listener| {
            accept_loop(listener, for_server)
        })
        .expect("kapso-sim: cannot start the fake GitHub API");
        FakeGithub { shared, server }
    }

    /// The value for `GITHUB_API_URL`, for example `http://127.0.0.1:41236` (no trailing slash).
    pub fn api_url(&self) -> String {
        format!("http://{}{}", self.server.addr(), self.shared.prefix)
    }

    /// Adds a comment as if someone had posted it; returns its ID.
    pub fn add_comment(&self, repo: &str, issue: u64, body: &str, login: &str) -> u64 {
        let mut store = self.shared.lock();
        store.next_id += 1;
        let id = store.next_id;
        store.comments.push(FakeComment {
            id,
            repo: repo.to_owned(),
            issue,
            body: body.to_owned(),
            login: login.to_owned(),
            edits: 0,
        });
        id
    }

    /// Every comment, in creation order.
    pub fn comments(&self) -> Vec<FakeComment> {
        self.shared.lock().comments.clone()
    }

    /// Every request received, in arrival order.
    pub fn requests(&self) -> Vec<GithubRequest> {
        self.shared.lock().requests.clone()
    }

    /// Every request from now on gets `fault` (after the rules added earlier).
    pub fn fault(&self, fault: GithubFault) {
        self.add_rule(None, fault, None);
    }

    /// Every request with this method gets `fault`.
    pub fn fault_on(&self, method: &str, fault: GithubFault) {
        self.add_rule(Some(method), fault, None);
    }

    /// The next `times` requests with this method get `fault`.
    pub fn fault_on_times(&self, method: &str, fault: GithubFault, times: usize) {
        if times > 0 {
            self.add_rule(Some(method), fault, Some(times));
        }
    }

    fn add_rule(&self, method: Option<&str>, fault: GithubFault, remaining: Option<usize>) {
        self.shared.lock().rules.push_back(Rule {
            method: method.map(str::to_owned),
            fault,
            remaining,
        });
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        if let Ok((stream, _)) = listener.accept().await {
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let _ = serve_connection(stream, &shared).await;
            });
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn serve_connection(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        let request = match http::read_request(&mut stream, &mut buf).await {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(()),
            Err(ReadError::Io(e)) => return Err(e),
            Err(ReadError::Bad(status)) => {
                return http::write_response(&mut stream, &error(status, "Malformed request"), true).await;
            }
        };
        let close = request.close;
        let index = log(shared, &request);
        let fault = shared.fault_for(&request.method);
        if let Some(GithubFault::Delay(delay)) = fault {
            tokio::time::sleep(delay).await;
        }
        let response = match &fault {
            Some(GithubFault::Delay(_) | GithubFault::HalfBody) | None => handle(shared, &request),
            Some(other) => faulty(other, &request),
        };
        if matches!(fault, Some(GithubFault::HalfBody)) {
            set_status(shared, index, 0);
            return http::write_half_response(&mut stream, &response).await;
        }
        set_status(shared, index, response.status);
        http::write_response(&mut stream, &response, close).await?;
        if close {
            return Ok(());
        }
    }
}

fn log(shared: &Shared, request: &Request) -> usize {
    let mut store = shared.lock();
    store.requests.push(GithubRequest {
        method: request.method.clone(),
        path: request.path.clone(),
        headers: request.headers.clone(),
        body: String::from_utf8_lossy(&request.body).into_owned(),
        status: 0,
    });
    store.requests.len() - 1
}

fn set_status(shared: &Shared, index: usize, status: u16) {
    if let Some(logged) = shared.lock().requests.get_mut(index) {
        logged.status = status;
    }
}

pub(crate) fn error(status: u16, message: &str) -> Response {
    Response::json(
        status,
        &json!({ "message": message, "documentation_url": "https://docs.github.com/rest" }),
    )
}

fn faulty(fault: &GithubFault, request: &Request) -> Response {
    match fault {
        GithubFault::Status(status) => error(*status, http::reason(*status)),
        GithubFault::RateLimited => {
            let mut response = error(403, "API rate limit exceeded");
            response.headers.push(("x-ratelimit-remaining".into(), "0".into()));
            response.headers.push(("x-ratelimit-reset".into(), "4102444800".into()));
            response
        }
        GithubFault::Huge(bytes) => {
            let mut body = b"[{\"id\":1,\"body\":\"".to_vec();
            body.resize(body.len().max(*bytes), b'x');
            Response {
                status: 200,
                headers: Vec::new(),
                content_type: Some("application/json; charset=utf-8".into()),
                body,
            }
        }
        GithubFault::NotJson => Response {
            status: 200,
            headers: Vec::new(),
            content_type: Some("text/html".into()),
            body: b"<html><body>Unicorn! This page is taking too long to load.</body></html>".to_vec(),
        },
        GithubFault::Redirect(location) => {
            let mut response = error(307, "Temporary Redirect");
            response.headers.push(("Location".into(), location.clone()));
            response
        }
        GithubFault::EchoAuthorization => {
            let echoed = request.header("authorization").unwrap_or("");
            error(500, &format!("internal error while handling Authorization: {echoed}"))
        }
        GithubFault::Delay(_) | GithubFault::HalfBody => error(500, "unreachable fault"),
    }
}

fn handle(shared: &Shared, request: &Request) -> Response {
    match shared.dialect {
        Dialect::Github => handle_github(shared, request),
        Dialect::Gitlab => crate::gitlab::handle(shared, request),
    }
}

/// The routes, after the User-Agent and token checks.
fn handle_github(shared: &Shared, request: &Request) -> Response {
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
    if token != Some(shared.token.as_str()) {
        return error(401, "Bad credentials");
    }
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    let Some(path) = path.strip_prefix(shared.prefix.as_str()) else {
        return error(404, "Not Found");
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["repos", owner, repo, "issues", issue, "comments"]) => match issue.parse() {
            Ok(issue) => list(shared, request, &format!("{owner}/{repo}"), issue, query),
            Err(_) => error(404, "Not Found"),
        },
        ("POST", ["repos", owner, repo, "issues", issue, "comments"]) => match issue.parse() {
            Ok(issue) => create(shared, request, &format!("{owner}/{repo}"), issue),
            Err(_) => error(404, "Not Found"),
        },
        ("PATCH", ["repos", owner, repo, "issues", "comments", id]) => match id.parse() {
            Ok(id) => update(shared, request, &format!("{owner}/{repo}"), id),
            Err(_) => error(404, "Not Found"),
        },
        _ => error(404, "Not Found"),
    }
}

pub(crate) fn query_number(query: &str, name: &str) -> Option<usize> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.parse().ok())
}

fn list(shared: &Shared, request: &Request, repo: &str, issue: u64, query: &str) -> Response {
    let per_page = query_number(query, "per_page").unwrap_or(30).clamp(1, 100);
    let page = query_number(query, "page").unwrap_or(1).max(1);
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
    request_body(request, MAX_COMMENT_CHARS)
}

/// The `body` field of a JSON request, refused (422) over `max_chars` characters.
pub(crate) fn request_body(request: &Request, max_chars: usize) -> Result<String, Response> {
    let value: Value = serde_json::from_slice(&request.body).map_err(|_| error(400, "Problems parsing JSON"))?;
    let body = value
        .get("body")
        .and_then(Value::as_str)
        .ok_or_else(|| error(422, "Validation Failed"))?;
    if body.chars().count() > max_chars {
        return Err(Response::json(
            422,
            &json!({
                "message": "Validation Failed",
                "errors": [{ "resource": "IssueComment", "code": "custom", "field": "body",
                             "message": format!("body is too long (maximum is {max_chars} characters)") }],
            }),
        ));
    }
    Ok(body.to_owned())
}

fn create(shared: &Shared, request: &Request, repo: &str, issue: u64) -> Response {
    let body = match comment_body(request) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut store = shared.lock();
    store.next_id += 1;
    let comment = FakeComment {
        id: store.next_id,
        repo: repo.to_owned(),
        issue,
        body,
        login: ACTIONS_BOT.to_owned(),
        edits: 0,
    };
    let response = Response::json(201, &comment_json(request, &comment));
    store.comments.push(comment);
    response
}

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
