//! The Kapso API itself: routing a request to an endpoint, then in order rate limiting, fault
//! injection, authentication and the endpoint's behaviour. Produces a [`Reply`] for the
//! connection to send; never holds the state lock across an await.

use serde_json::{json, Value};

use crate::http::{percent_decode, Request, Response};
use crate::rate_limit::Verdict;
use crate::render::{self, Phase};
use crate::scenario::{Endpoint, FaultAction};
use crate::state::{LoggedRequest, Run, RunRecord, Shared};

/// What the connection does with a request.
#[derive(Debug)]
pub(crate) enum Reply {
    Send(Response),
    /// Close without responding.
    Reset,
    /// Send the head and half the body, then close.
    SendHalf(Response),
}

/// The endpoint a request addresses, with its (decoded) id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub endpoint: Endpoint,
    pub id: String,
}

/// Maps method and path (query ignored) to an endpoint.
pub(crate) fn route(method: &str, path: &str) -> Route {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segments: Vec<String> = path
        .strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (endpoint, id) = match (method, segments.as_slice()) {
        ("POST", ["api", "v1", "test_cases", id, "test_runs"]) => (Endpoint::CreateRun, *id),
        ("GET", ["api", "v1", "test_runs", id]) => (Endpoint::GetRun, *id),
        ("GET", ["api", "v1", "test_cases", id]) => (Endpoint::GetCase, *id),
        ("GET", ["api", "v1", "test_suites", id]) => (Endpoint::GetSuite, *id),
        ("GET", ["api", "v1", "agents", id, "test_suites"]) => (Endpoint::ListAgentSuites, *id),
        _ => (Endpoint::Other, ""),
    };
    Route {
        endpoint,
        id: id.to_owned(),
    }
}

/// Handles one request end to end and records it in the log.
pub(crate) async fn handle(shared: &Shared, request: Request) -> Reply {
    let route = route(&request.method, &request.path);
    let late = late_by(shared, &route);
    if let Some((_, ms)) = late {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let (log_index, verdict, fault) = {
        let mut state = shared.lock();
        // Stamped under the lock, so that arrivals are counted in the order of their stamps: a
        // handler that stalls between the two would otherwise count an earlier time after a
        // later one, and the window would hold it longer than a server's would.
        let at = shared.now();
        let log_index = state.log.len();
        state.log.push(LoggedRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            headers: request.headers.clone(),
            body: String::from_utf8_lossy(&request.body).into_owned(),
            at,
            status: 0,
            endpoint: route.endpoint,
        });
        let mut case_of_request = None;
        if route.endpoint == Endpoint::GetRun {
            if let Some(run) = state.run_mut(&route.id) {
                run.record.polls += 1;
                if run.finished_seen {
                    run.record.polls_after_finished_seen += 1;
                }
                case_of_request = Some(run.record.case_id.clone());
            }
        } else if matches!(route.endpoint, Endpoint::CreateRun | Endpoint::GetCase) {
            case_of_request = Some(route.id.clone());
        }
        let verdict = state.limiter.as_mut().map(|l| l.check(at));
        let mut fault = None;
        if !matches!(verdict, Some(Verdict::Limited { .. })) {
            for (i, spec) in shared.scenario.faults.iter().enumerate() {
                // A `Late` action is taken on the way in (`late_by`): the request that took it
                // takes nothing more from that fault, and no other request takes it here.
                let matches = fault_matches(spec, &route, case_of_request.as_deref())
                    && late.is_none_or(|(late, _)| late != i)
                    && !matches!(spec.actions.get(state.fault_cursors[i]), Some(FaultAction::Late { .. }));
                if matches && state.fault_cursors[i] < spec.actions.len() {
                    fault = Some(spec.actions[state.fault_cursors[i]].clone());
                    state.fault_cursors[i] += 1;
                    break;
                }
            }
        }
        (log_index, verdict, fault)
    };
    let rate_headers = verdict.as_ref().map(Verdict::headers).unwrap_or_default();
    let reply = if matches!(verdict, Some(Verdict::Limited { .. })) {
        Reply::Send(error(429, "Rate limit exceeded", "Too many requests"))
    } else {
        apply(shared, &request, &route, fault).await
    };
    let reply = match reply {
        Reply::Send(mut r) => {
            r.headers.extend(rate_headers);
            if shared.scenario.escape_underscores {
                escape_underscores(&mut r);
            }
            Reply::Send(r)
        }
        Reply::SendHalf(mut r) => {
            r.headers.extend(rate_headers);
            Reply::SendHalf(r)
        }
        Reply::Reset => Reply::Reset,
    };
    let status = match &reply {
        Reply::Send(r) | Reply::SendHalf(r) => r.status,
        Reply::Reset => 0,
    };
    shared.lock().log[log_index].status = status;
    reply
}

/// Whether `spec` applies to a request for `route` about test case `case`.
fn fault_matches(spec: &crate::scenario::Fault, route: &Route, case: Option<&str>) -> bool {
    spec.endpoint == route.endpoint && spec.case_id.as_deref().is_none_or(|c| case == Some(c))
}

/// The fault (by index) and the time a request is held up on its way when the next action
/// of a matching fault is `Late`: the server stamps and counts it only after that.
fn late_by(shared: &Shared, route: &Route) -> Option<(usize, u64)> {
    let mut state = shared.lock();
    let case = match route.endpoint {
        Endpoint::GetRun => state.run_mut(&route.id).map(|run| run.record.case_id.clone()),
        Endpoint::CreateRun | Endpoint::GetCase => Some(route.id.clone()),
        _ => None,
    };
    let (index, ms) = shared.scenario.faults.iter().enumerate().find_map(|(i, spec)| {
        match spec.actions.get(state.fault_cursors[i]) {
            Some(FaultAction::Late { ms }) if fault_matches(spec, route, case.as_deref()) => Some((i, *ms)),
            _ => None,
        }
    })?;
    state.fault_cursors[index] += 1;
    Some((index, ms))
}

/// Spells every `_` of a JSON answer as `\u005f`. In JSON a `_` can only be inside a string
/// (keys included), where the escape means the same character: a client that decodes JSON
/// reads the same answer, one that searches the raw bytes does not.
fn escape_underscores(response: &mut Response) {
    if response.content_type.as_deref().is_some_and(|t| t.contains("json")) {
        let text = String::from_utf8_lossy(&response.body).replace('_', "\\u005f");
        response.body = text.into_bytes();
    }
}

/// Applies the fault action (if any) around the normal behaviour.
async fn apply(shared: &Shared, request: &Request, route: &Route, fault: Option<FaultAction>) -> Reply {
    let Some(action) = fault else {
        return Reply::Send(normal(shared, request, route, true).into_response());
    };
    match action {
        FaultAction::Delay { ms } => {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            Reply::Send(normal(shared, request, route, true).into_response())
        }
        // Taken on the way in (`late_by`), never here.
        FaultAction::Late { .. } => Reply::Send(normal(shared, request, route, true).into_response()),
        FaultAction::Reset => Reply::Reset,
        FaultAction::Status {
            status,
            body,
            content_type,
            headers,
            create_anyway,
        } => {
            if create_anyway && route.endpoint == Endpoint::CreateRun {
                normal(shared, request, route, false);
            }
            let content_type = content_type.or_else(|| body.as_ref().map(|_| "application/json; charset=utf-8".into()));
            Reply::Send(Response {
                status,
                headers,
                content_type,
                body: body.unwrap_or_default().into_bytes(),
            })
        }
        FaultAction::Html { status } => Reply::Send(Response {
            status,
            headers: Vec::new(),
            content_type: Some("text/html; charset=utf-8".into()),
            body: html_page(status).into_bytes(),
        }),
        FaultAction::Redirect { status, location } => Reply::Send(Response {
            status,
            headers: vec![("Location".into(), location)],
            content_type: None,
            body: Vec::new(),
        }),
        FaultAction::ResetMidBody => Reply::SendHalf(normal(shared, request, route, false).into_response()),
        FaultAction::Truncated => {
            let mut response = normal(shared, request, route, false).into_response();
            let mut cut = response.body.len() / 2;
            // Cut on a character boundary (never before a UTF-8 continuation byte).
            while cut > 0 && response.body[cut] & 0xC0 == 0x80 {
                cut -= 1;
            }
            response.body.truncate(cut);
            Reply::Send(response)
        }
        FaultAction::WrongDataType => {
            let mut outcome = normal(shared, request, route, false);
            outcome.body = if route.endpoint == Endpoint::ListAgentSuites {
                json!({"data": [1, 2]})
            } else {
                json!({"data": "a string"})
            };
            Reply::Send(outcome.into_response())
        }
        FaultAction::HugeFeedback { bytes } => {
            let mut outcome = normal(shared, request, route, true);
            if let Some(data) = outcome.body.get_mut("data").and_then(Value::as_object_mut) {
                if data.contains_key("feedback") {
                    data.insert("feedback".into(), Value::String(filler(bytes)));
                }
            }
            Reply::Send(outcome.into_response())
        }
    }
}

/// A JSON status and body before serialisation.
#[derive(Debug)]
struct Outcome {
    status: u16,
    body: Value,
}

impl Outcome {
    fn into_response(self) -> Response {
        Response::json(self.status, &self.body)
    }
}

fn error(status: u16, error: &str, message: &str) -> Response {
    Response::json(status, &json!({"error": error, "message": message}))
}

fn not_found(what: &str) -> Outcome {
    Outcome {
        status: 404,
        body: json!({"error": "Not found", "message": format!("{what} not found")}),
    }
}

/// Authentication then the endpoint's behaviour. `intact` says whether the client receives the
/// response whole and well-formed (only then does a finished run count as seen finished).
fn normal(shared: &Shared, request: &Request, route: &Route, intact: bool) -> Outcome {
    if request.header("x-api-key") != Some(shared.scenario.api_key.as_str()) {
        return Outcome {
            status: 401,
            body: json!({"error": "Unauthorized", "message": "Invalid API key"}),
        };
    }
    let scenario = &shared.scenario;
    let data = |status: u16, data: Value| Outcome {
        status,
        body: json!({ "data": data }),
    };
    match route.endpoint {
        Endpoint::CreateRun => {
            let Some(case) = scenario.cases.iter().find(|c| c.id == route.id) else {
                return not_found("Test case");
            };
            let body: Option<Value> = serde_json::from_slice(&request.body).ok();
            let Some(params) = body.as_ref().and_then(Value::as_object) else {
                return blank_agent_test_run();
            };
            if params.get("agent_test_run").is_none_or(Value::is_null) {
                return blank_agent_test_run();
            }
            let run_now = params
                .get("run_now")
                .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"));
            let now = shared.now();
            let mut state = shared.lock();
            let n = state.runs.len() as u64;
            let trial_index = state.runs_per_case.entry(case.id.clone()).or_insert(0);
            let trial_number = *trial_index;
            *trial_index += 1;
            let trial = if case.trials.is_empty() {
                Default::default()
            } else {
                case.trials[trial_number % case.trials.len()].clone()
            };
            let finishes_at =
                (run_now && !trial.never_finishes).then(|| now + std::time::Duration::from_millis(trial.duration_ms));
            let run = Run {
                record: RunRecord {
                    id: render::uuid(shared.id_seed, 2 * n),
                    case_id: case.id.clone(),
                    trial: trial_number,
                    run_now,
                    created_at: now,
                    finishes_at,
                    polls: 0,
                    polls_after_finished_seen: 0,
                },
                trial,
                thread_id: render::uuid(shared.id_seed, 2 * n + 1),
                finished_seen: false,
            };
            let value = render::run(shared, &run, Some(case), now);
            let index = state.runs.len();
            state.run_by_id.insert(run.record.id.clone(), index);
            state.runs.push(run);
            data(201, value)
        }
        Endpoint::GetRun => {
            let now = shared.now();
            let mut state = shared.lock();
            let Some(run) = state.run_mut(&route.id) else {
                return not_found("Test run");
            };
            let case = scenario.cases.iter().find(|c| c.id == run.record.case_id);
            if intact && Phase::of(run, now).is_final() {
                run.finished_seen = true;
            }
            data(200, render::run(shared, run, case, now))
        }
        Endpoint::GetCase => match scenario.cases.iter().find(|c| c.id == route.id) {
            Some(case) => data(200, render::case(shared, case)),
            None => not_found("Test case"),
        },
        Endpoint::GetSuite => match scenario.suites.iter().find(|s| s.id == route.id) {
            Some(suite) => data(200, render::suite(shared, suite)),
            None => not_found("Test suite"),
        },
        Endpoint::ListAgentSuites => {
            let agent = scenario.agents.iter().find(|a| a.id == route.id);
            let mut suites: Vec<_> = agent
                .into_iter()
                .flat_map(|a| &a.suite_ids)
                .filter_map(|id| scenario.suites.iter().find(|s| &s.id == id))
                .collect();
            for suite in &scenario.suites {
                if suite.agent_id.as_deref() == Some(route.id.as_str()) && !suites.iter().any(|s| s.id == suite.id) {
                    suites.push(suite);
                }
            }
            if agent.is_none() && suites.is_empty() {
                return not_found("Agent");
            }
            let list: Vec<Value> = suites.iter().map(|s| render::suite(shared, s)).collect();
            data(200, Value::Array(list))
        }
        Endpoint::Other => Outcome {
            status: 404,
            body: json!({"error": "Not found", "message": "No route matches this request"}),
        },
    }
}

fn blank_agent_test_run() -> Outcome {
    Outcome {
        status: 422,
        body: json!({"errors": {"agent_test_run": ["can't be blank"]}}),
    }
}

fn html_page(status: u16) -> String {
    let reason = crate::http::reason(status);
    format!(
        "<!DOCTYPE html>\n<html>\n<head><title>{status} {reason}</title></head>\n<body>\n\
         <center><h1>{status} {reason}</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
    )
}

/// `bytes` bytes of readable ASCII text.
fn filler(bytes: usize) -> String {
    const TEXT: &str = "The agent answered the question but the judge keeps talking. ";
    TEXT.chars().cycle().take(bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = route("POST", "/api/v1/test_cases/a%2Fb/test_runs?x=1");
        assert_eq!(r.endpoint, Endpoint::CreateRun);
        assert_eq!(r.id, "a/b");
        assert_eq!(route("GET", "/api/v1/test_runs/r1").endpoint, Endpoint::GetRun);
        assert_eq!(route("GET", "/api/v1/test_cases/c").endpoint, Endpoint::GetCase);
        assert_eq!(route("GET", "/api/v1/test_suites/s").endpoint, Endpoint::GetSuite);
        assert_eq!(
            route("GET", "/api/v1/agents/a/test_suites").endpoint,
            Endpoint::ListAgentSuites
        );
        assert_eq!(route("DELETE", "/api/v1/test_runs/r1").endpoint, Endpoint::Other);
        assert_eq!(route("GET", "/api/v1/test_runs/a/b").endpoint, Endpoint::Other);
        assert_eq!(route("GET", "/api/v2/test_runs/r").endpoint, Endpoint::Other);
    }

    #[test]
    fn filler_has_exact_length() {
        assert_eq!(filler(100_000).len(), 100_000);
        assert_eq!(filler(0), "");
    }
}
