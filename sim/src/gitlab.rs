//! [`FakeGitlab`]: GitLab's merge-request notes API (list with `X-Next-Page` pagination,
//! create, update) on the same server, store, request log and faults as
//! [`crate::github::FakeGithub`]. Like GitLab it lists notes newest first unless asked for
//! `sort=asc`, and takes the token in `PRIVATE-TOKEN` (or `Authorization: Bearer`).

use serde_json::{json, Value};

use crate::github::{self, Dialect, FakeComment, FakeGithub, GithubFault, GithubRequest, Shared};
use crate::http::{Request, Response};

/// GitLab's limit on a note, in characters.
pub const MAX_NOTE_CHARS: usize = 1_000_000;

/// A running fake GitLab API under `/api/v4`. Dropping it shuts it down.
#[derive(Debug)]
pub struct FakeGitlab {
    inner: FakeGithub,
}

impl FakeGitlab {
    /// Starts on an ephemeral port of 127.0.0.1.
    ///
    /// # Panics
    /// When no port can be bound.
    pub fn start(token: &str) -> FakeGitlab {
        FakeGitlab {
            inner: FakeGithub::start_speaking(Dialect::Gitlab, token, "/api/v4"),
        }
    }

    /// The value for `CI_API_V4_URL`, for example `http://127.0.0.1:41237/api/v4`.
    pub fn api_url(&self) -> String {
        self.inner.api_url()
    }

    /// Adds a note to merge request `iid` of project `project` (its numeric ID); returns its ID.
    pub fn add_note(&self, project: &str, iid: u64, body: &str, username: &str) -> u64 {
        self.inner.add_comment(project, iid, body, username)
    }

    /// Every note (`repo` is the project ID, `issue` the merge request IID), oldest first.
    pub fn notes(&self) -> Vec<FakeComment> {
        self.inner.comments()
    }

    pub fn requests(&self) -> Vec<GithubRequest> {
        self.inner.requests()
    }

    /// Every request from now on gets `fault`.
    pub fn fault(&self, fault: GithubFault) {
        self.inner.fault(fault);
    }
}

fn error(status: u16, message: &str) -> Response {
    Response::json(status, &json!({ "message": format!("{status} {message}") }))
}

pub(crate) fn handle(shared: &Shared, request: &Request) -> Response {
    let bearer = request.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
    let token = request.header("private-token").or(bearer);
    if token != Some(shared.token.as_str()) {
        return error(401, "Unauthorized");
    }
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    let Some(path) = path.strip_prefix(shared.prefix.as_str()) else {
        return error(404, "Not Found");
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let number = |text: &str| text.parse::<u64>().ok();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["projects", project, "merge_requests", iid, "notes"]) => match number(iid) {
            Some(iid) => list(shared, project, iid, query),
            None => error(404, "Not Found"),
        },
        ("POST", ["projects", project, "merge_requests", iid, "notes"]) => match number(iid) {
            Some(iid) => create(shared, request, project, iid),
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
        "author": { "username": c.login },
        "system": false,
        "noteable_iid": c.issue,
    })
}

fn list(shared: &Shared, project: &str, iid: u64, query: &str) -> Response {
    let per_page = github::query_number(query, "per_page").unwrap_or(20).clamp(1, 100);
    let page = github::query_number(query, "page").unwrap_or(1).max(1);
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

fn create(shared: &Shared, request: &Request, project: &str, iid: u64) -> Response {
    let body = match github::request_body(request, MAX_NOTE_CHARS) {
        Ok(body) => body,
        Err(_) => return error(400, "Bad request - note is missing or too long"),
    };
    let mut store = shared.lock();
    store.next_id += 1;
    let note = FakeComment {
        id: store.next_id,
        repo: project.to_owned(),
        issue: iid,
        body,
        login: "project_1_bot".to_owned(),
        edits: 0,
    };
    let response = Response::json(201, &note_json(&note));
    store.comments.push(note);
    response
}

fn update(shared: &Shared, request: &Request, project: &str, iid: u64, id: u64) -> Response {
    let body = match github::request_body(request, MAX_NOTE_CHARS) {
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
