//! What the fake GitHub and the fake GitLab share: one HTTP server on 127.0.0.1 with a store of
//! comments (notes), the tokens it accepts and whom each acts as, a request log and injectable
//! faults. Each forge's routes are a plain function handed to [`ForgeServer::start`], so this
//! module knows neither forge and `github`/`gitlab` import only this one.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

use crate::background::Background;
use crate::http::{self, ReadError, Request, Response};

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
    /// Who wrote it (a GitHub login, a GitLab username).
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

/// Whom a token acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The author of what the token writes.
    pub login: String,
    /// An installation token (GitHub's workflow `GITHUB_TOKEN`, an App's): `GET /user` refuses it.
    pub installation: bool,
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
    /// The tokens accepted, and whom each acts as.
    tokens: Vec<(String, Identity)>,
    pub next_id: u64,
}

impl Store {
    /// Adds a comment; returns its ID.
    pub fn push(&mut self, repo: &str, issue: u64, body: String, login: &str) -> &FakeComment {
        self.next_id += 1;
        self.comments.push(FakeComment {
            id: self.next_id,
            repo: repo.to_owned(),
            issue,
            body,
            login: login.to_owned(),
            edits: 0,
        });
        self.comments.last().expect("just pushed")
    }
}

/// A forge's routes, called after faults: the request and the shared state in, the answer out.
pub(crate) type Handler = fn(&Shared, &Request) -> Response;

#[derive(Debug)]
pub(crate) struct Shared {
    pub prefix: String,
    handler: Handler,
    store: Mutex<Store>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whom `token` acts as; `None` for a token the fake does not know.
    pub fn identity(&self, token: Option<&str>) -> Option<Identity> {
        let token = token?;
        self.lock()
            .tokens
            .iter()
            .find(|(t, _)| t == token)
            .map(|(_, who)| who.clone())
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

/// A running fake forge API on 127.0.0.1. Dropping it shuts it down.
#[derive(Debug)]
pub(crate) struct ForgeServer {
    shared: Arc<Shared>,
    server: Background,
}

impl ForgeServer {
    /// Starts on an ephemeral port, accepting `token` as `identity`, answering with `handler`.
    pub fn start(name: &str, handler: Handler, prefix: &str, token: &str, identity: Identity) -> ForgeServer {
        let shared = Arc::new(Shared {
            prefix: prefix.trim_end_matches('/').to_owned(),
            handler,
            store: Mutex::new(Store {
                next_id: 1_000,
                tokens: vec![(token.to_owned(), identity)],
                ..Store::default()
            }),
        });
        let for_server = Arc::clone(&shared);
        let server = Background::spawn(name, SocketAddr::from(([127, 0, 0, 1], 0)), move |listener| {
            accept_loop(listener, for_server)
        })
        .expect("kapso-sim: cannot start the fake forge API");
        ForgeServer { shared, server }
    }

    pub fn api_url(&self) -> String {
        format!("http://{}{}", self.server.addr(), self.shared.prefix)
    }

    /// Accepts `token` too, acting as `identity`.
    pub fn add_token(&self, token: &str, identity: Identity) {
        self.shared.lock().tokens.push((token.to_owned(), identity));
    }

    pub fn add_comment(&self, repo: &str, issue: u64, body: &str, login: &str) -> u64 {
        self.shared.lock().push(repo, issue, body.to_owned(), login).id
    }

    pub fn comments(&self) -> Vec<FakeComment> {
        self.shared.lock().comments.clone()
    }

    pub fn requests(&self) -> Vec<GithubRequest> {
        self.shared.lock().requests.clone()
    }

    /// Every request with `method` (every request for `None`) gets `fault`, `remaining` times
    /// (`None`: always), after the rules added earlier.
    pub fn add_rule(&self, method: Option<&str>, fault: GithubFault, remaining: Option<usize>) {
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
            Some(GithubFault::Delay(_) | GithubFault::HalfBody) | None => (shared.handler)(shared, &request),
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

/// A GitHub-style JSON error (faults answer this way on either forge).
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

/// A number from a query string (`per_page=100&page=2`).
pub(crate) fn query_number(query: &str, name: &str) -> Option<usize> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.parse().ok())
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
