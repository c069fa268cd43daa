//! [`FakeGitlab`]: GitLab's merge-request notes API (list with `X-Next-Page` pagination,
//! create, update) and `GET /user`, on the shared fake forge server of [`crate::forge`] (request
//! log, faults). Like GitLab it lists notes newest first unless asked for `sort=asc`, takes the
//! token in `PRIVATE-TOKEN` (or `Authorization: Bearer`), and names each note's `author`: the
//! token given to [`FakeGitlab::start`] acts as the project's bot user, `project_1_bot`.

use serde_json::{json, Value};

use crate::forge::{self, FakeComment, ForgeServer, GithubFault, GithubRequest, Identity, Shared};
use crate::http::{Request, Response};

/// GitLab's limit on a note, in characters.
pub const MAX_NOTE_CHARS: usize = 1_000_000;
/// The username of the project access token given to [`FakeGitlab::start`].
pub const PROJECT_BOT: &str = "project_1_bot";

/// A running fake GitLab API under `/api/v4`. Dropping it shuts it down.
#[derive(Debug)]
pub struct FakeGitlab {
    server: ForgeServer,
}

impl FakeGitlab {
    /// Starts on an ephemeral port of 127.0.0.1; `token` acts as [`PROJECT_BOT`].
    ///
    /// # Panics
    /// When no port can be bound.
    pub fn start(token: &str) -> FakeGitlab {
        FakeGitlab {
            server: ForgeServer::start("fake-gitlab", handle, "/api/v4", token, user(PROJECT_BOT)),
        }
    }

    /// Accepts `token` too, as a personal access token of `username`.
    pub fn add_user_token(&self, token: &str, username: &str) {
        self.server.add_token(token, user(username));
    }

    /// The value for `CI_API_V4_URL`, for example `http://127.0.0.1:41237/api/v4`.
    pub fn api_url(&self) -> String {
        self.server.api_url()
    }

    /// Adds a note by `username` to merge request `iid` of project `project` (its numeric ID);
    /// returns its ID.
    pub fn add_note(&self, project: &str, iid: u64, body: &str, username: &str) -> u64 {
        self.server.add_comment(project, iid, body, username)
    }

    /// Every note (`repo` is the project ID, `issue` the merge request IID), oldest first.
    pub fn notes(&self) -> Vec<FakeComment> {
        self.server.comments()
    }

    pub fn requests(&self) -> Vec<GithubRequest> {
        self.server.requests()
    }

    /// Every request from now on gets `fault`.
    pub fn fault(&self, fault: GithubFault) {
        self.server.add_rule(None, fault, None);
    }
}

fn user(username: &str) -> Identity {
    Identity {
        login: username.to_owned(),
        installation: false,
    }
}

/// A stable numeric user ID for a username, as GitLab gives every user one.
fn user_id(username: &str) -> u64 {
    username
        .bytes()
        .fold(7_u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        % 1_000_000
}

fn error(status: u16, message: &str) -> Response {
    Response::json(status, &json!({ "message": format!("{status} {message}") }))
}

fn handle(shared: &Shared, request: &Request) -> Response {
    let bearer = request.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
    let Some(me) = shared.identity(request.header("private-token").or(bearer)) else {
        return error(401, "Unauthorized");
    };
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    let Some(path) = path.strip_prefix(shared.prefix.as_str()) else {
        return error(404, "Not Found");
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let number = |text: &str| text.parse::<u64>().ok();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["user"]) => Response::json(
            200,
            &json!({ "id": user_id(&me.login), "username": me.login, "bot": me.login.ends_with("_bot") }),
        ),
        ("GET", ["projects", project, "merge_requests", iid, "notes"]) => match number(iid) {
            Some(iid) => list(shared, project, iid, query),
            None => error(404, "Not Found"),
        },
        ("POST", ["projects", project, "merge_requests", iid, "notes"]) => match number(iid) {
            Some(iid) => create(shared, request, project, iid, &me),
            None => error(404, "Not Found"),
        },
        ("PUT", ["projects", project, "merge_requests", iid, "notes", id]) => match (number(iid), number(id)) {
            (Some(iid), Some(id)) => update(shared, request, project, iid, id),
            _ => error(404, "Not Found"),
        },
        _ => error(404, "Not Found"),
    }
}

fn note_json(c: &FakeComment) -> Value {
    json!({
        "id": c.id,
        "body": c.body,
        "author": { "id": user_id(&c.login), "username": c.login },
        "system": false,
        "noteable_iid": c.issue,
    })
}

fn list(shared: &Shared, project: &str, iid: u64, query: &str) -> Response {
    let per_page = forge::query_number(query, "per_page").unwrap_or(20).clamp(1, 100);
    let page = forge::query_number(query, "page").unwrap_or(1).max(1);
    let ascending = query.split('&').any(|pair| pair == "sort=asc");
    let store = shared.lock();
    let mut all: Vec<&FakeComment> = store
        .comments
        .iter()
        .filter(|c| c.repo == project && c.issue == iid)
        .collect();
    if !ascending {
        all.reverse();
    }
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|c| note_json(c))
        .collect();
    let pages = all.len().div_ceil(per_page).max(1);
    let mut response = Response::json(200, &Value::Array(items));
    let next = if page < pages {
        (page + 1).to_string()
    } else {
        String::new()
    };
    response.headers.extend([
        ("X-Page".to_owned(), page.to_string()),
        ("X-Per-Page".to_owned(), per_page.to_string()),
        ("X-Next-Page".to_owned(), next),
        ("X-Total".to_owned(), all.len().to_string()),
        ("X-Total-Pages".to_owned(), pages.to_string()),
    ]);
    response
}

fn create(shared: &Shared, request: &Request, project: &str, iid: u64, me: &Identity) -> Response {
    let body = match forge::request_body(request, MAX_NOTE_CHARS) {
        Ok(body) => body,
        Err(_) => return error(400, "Bad request - note is missing or too long"),
    };
    let mut store = shared.lock();
    let note = store.push(project, iid, body, &me.login);
    Response::json(201, &note_json(note))
}

fn update(shared: &Shared, request: &Request, project: &str, iid: u64, id: u64) -> Response {
    let body = match forge::request_body(request, MAX_NOTE_CHARS) {
        Ok(body) => body,
        Err(_) => return error(400, "Bad request - note is missing or too long"),
    };
    let mut store = shared.lock();
    match store
        .comments
        .iter_mut()
        .find(|c| c.id == id && c.repo == project && c.issue == iid)
    {
        Some(note) => {
            note.body = body;
            note.edits += 1;
            Response::json(200, &note_json(note))
        }
        None => error(404, "Not found"),
    }
}
