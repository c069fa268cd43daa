//! The Kapso API client: one `reqwest::Client`, Kapso's endpoints and wire format, bounded
//! response bodies, and request statistics. It knows HTTP and JSON, nothing about verdicts.
//! Every send needs a [`Permit`] from the shared rate budget.

pub mod error;
mod redact;
pub mod retry;
mod stats;
pub mod wire;

pub use stats::{Stats, StatsSnapshot};

use crate::domain::ids::path_segment;
use crate::domain::secret::{ApiKey, Redactor};
use crate::run::budget::{Permit, RateBudget};
use error::RequestError;
use redact::Redact;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use wire::{TestCase, TestRun, TestSuite};

/// Responses larger than this are refused, so a broken server cannot exhaust memory.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The body Kapso needs to create a run that executes now (`run_now` defaults to false, and
/// such a run may never execute).
pub const CREATE_RUN_BODY: &str = r#"{"agent_test_run":{},"run_now":true}"#;

/// How to build the client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: reqwest::Url,
    pub api_key: ApiKey,
    /// Takes the key (and the forge tokens) out of what Kapso sends, once decoded.
    pub redactor: Redactor,
    pub request_timeout: Duration,
}

/// Why the HTTP client could not be built (for example, TLS could not be set up).
#[derive(Debug, thiserror::Error)]
#[error("could not set up the HTTP client: {0}")]
pub struct BuildError(String);

/// The Kapso API.
#[derive(Debug, Clone)]
pub struct KapsoClient {
    http: reqwest::Client,
    base: String,
    budget: Arc<RateBudget>,
    stats: Arc<Stats>,
    /// Set by the first success: Kapso accepted the key and the account. Until then requests
    /// go one at a time, so a refused key (401, 402) costs exactly one request.
    key_accepted: Arc<AtomicBool>,
    /// Applied to every decoded answer and error text (a server may echo the key).
    redactor: Redactor,
}

impl KapsoClient {
    pub fn new(config: &ClientConfig, budget: Arc<RateBudget>) -> Result<Self, BuildError> {
        let mut key = HeaderValue::from_str(config.api_key.expose())
            .map_err(|_| BuildError("the API key is not a valid header value".into()))?;
        key.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", key);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .user_agent(concat!("kapso-gate/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
            .timeout(config.request_timeout)
            // The key travels in a custom header, which reqwest would forward on a cross-host
            // redirect. Kapso's API does not redirect, so none is followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| BuildError(error_chain(&e)))?;
        Ok(KapsoClient {
            http,
            base: config.base_url.as_str().trim_end_matches('/').to_owned(),
            budget,
            stats: Arc::new(Stats::default()),
            key_accepted: Arc::new(AtomicBool::new(false)),
            redactor: config.redactor.clone(),
        })
    }

    pub fn budget(&self) -> &Arc<RateBudget> {
        &self.budget
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Whether Kapso has answered any request with success yet.
    pub fn key_accepted(&self) -> bool {
        self.key_accepted.load(Ordering::Relaxed)
    }

    /// How many requests may be in flight: `concurrency` once the key is known to work, one
    /// before, so that a refused key stops the gate after a single request.
    pub fn fan_out(&self, concurrency: usize) -> usize {
        if self.key_accepted() {
            concurrency.max(1)
        } else {
            1
        }
    }

    fn url(&self, segments: &[&str]) -> String {
        let mut url = self.base.clone();
        for (i, segment) in segments.iter().enumerate() {
            url.push('/');
            // Odd positions are IDs; even ones are fixed path words.
            if i % 2 == 1 {
                url.push_str(&path_segment(segment));
            } else {
                url.push_str(segment);
            }
        }
        url
    }

    /// `POST /test_cases/{id}/test_runs` with `run_now: true`.
    pub async fn create_run(&self, permit: Permit, test_case_id: &str) -> Result<TestRun, RequestError> {
        let request = self
            .http
            .post(self.url(&["test_cases", test_case_id, "test_runs"]))
            .header(CONTENT_TYPE, "application/json")
            .body(CREATE_RUN_BODY);
        self.call(permit, request, || format!("test case {test_case_id}"), wire::parse_run)
            .await
    }

    /// `GET /test_runs/{id}`.
    pub async fn get_run(&self, permit: Permit, run_id: &str) -> Result<TestRun, RequestError> {
        let request = self.http.get(self.url(&["test_runs", run_id]));
        self.call(permit, request, || format!("test run {run_id}"), wire::parse_run)
            .await
    }

    /// `GET /test_cases/{id}`.
    pub async fn get_case(&self, permit: Permit, test_case_id: &str) -> Result<TestCase, RequestError> {
        let request = self.http.get(self.url(&["test_cases", test_case_id]));
        self.call(
            permit,
            request,
            || format!("test case {test_case_id}"),
            wire::parse_case,
        )
        .await
    }

    /// `GET /test_suites/{id}`, with its test cases embedded.
    pub async fn get_suite(&self, permit: Permit, suite_id: &str) -> Result<TestSuite, RequestError> {
        let request = self.http.get(self.url(&["test_suites", suite_id]));
        self.call(permit, request, || format!("test suite {suite_id}"), wire::parse_suite)
            .await
    }

    /// `GET /agents/{id}/test_suites`.
    pub async fn agent_suites(&self, permit: Permit, agent_id: &str) -> Result<Vec<TestSuite>, RequestError> {
        let request = self.http.get(self.url(&["agents", agent_id, "test_suites"]));
        self.call(permit, request, || format!("agent {agent_id}"), wire::parse_suites)
            .await
    }

    /// Sends `request` and parses a success body with `parse`. A 404 says "`what` not found".
    /// Secrets are redacted from the decoded result and from every error text.
    async fn call<T: Redact>(
        &self,
        permit: Permit,
        request: reqwest::RequestBuilder,
        what: impl FnOnce() -> String,
        parse: fn(&[u8]) -> Result<T, wire::WireError>,
    ) -> Result<T, RequestError> {
        let parsed = match self.send(permit, request).await {
            Ok(body) => parse(&body).map_err(|e| RequestError::Body(e.to_string())),
            Err(error) => Err(not_found_as(error, || format!("{} not found", what()))),
        };
        match parsed {
            Ok(mut value) => {
                value.redact(&self.redactor);
                Ok(value)
            }
            Err(error) => Err(redact::redact_error(error, &self.redactor)),
        }
    }

    /// Sends one request and returns the body of a 2xx response. The permit is confirmed just
    /// before the send (a Retry-After pause that began since it was issued is waited out), and
    /// answered when the response (or the failure) comes: the server counted the request by
    /// then, at a moment this side cannot know, so the budget counts it from the answer.
    async fn send(&self, permit: Permit, request: reqwest::RequestBuilder) -> Result<Vec<u8>, RequestError> {
        permit.confirm().await;
        self.stats.record_sent();
        let response = request.send().await;
        permit.answered(tokio::time::Instant::now());
        let response = response.map_err(|e| transport_error(&e))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(redirect_target);
            return Err(RequestError::Redirect {
                status: status.as_u16(),
                location,
            });
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
        let refused = status == StatusCode::TOO_MANY_REQUESTS;
        if refused {
            self.stats.record_rate_limited();
        }
        self.observe_rate_headers(&response, retry_after.filter(|_| refused));
        let body = read_body(response).await;
        if status.is_success() {
            self.key_accepted.store(true, Ordering::Relaxed);
            return body;
        }
        let reason = body.ok().and_then(|b| wire::error_reason(&b));
        Err(RequestError::Status {
            status: status.as_u16(),
            reason,
            retry_after,
        })
    }

    /// Passes the server's rate headers to the budget. A 429's `Retry-After` says when the
    /// next request may go, whatever `X-RateLimit-Remaining` says; otherwise Remaining counts,
    /// until `X-RateLimit-Reset` when the server sends one.
    fn observe_rate_headers(&self, response: &Response, retry_after: Option<Duration>) {
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
        let number = |name: &str| header(name).and_then(|v| v.trim().parse::<u32>().ok());
        let limit = number("x-ratelimit-limit");
        let now = tokio::time::Instant::now();
        if let Some(wait) = retry_after {
            self.budget.refused(wait, limit, now);
            return;
        }
        let remaining = number("x-ratelimit-remaining");
        let reset = header("x-ratelimit-reset").and_then(|v| retry::parse_rate_limit_reset(v, SystemTime::now()));
        if limit.is_some() || remaining.is_some() {
            self.budget.observe(limit, remaining, reset, now);
        }
    }
}

/// Reads at most [`MAX_BODY_BYTES`].
async fn read_body(mut response: Response) -> Result<Vec<u8>, RequestError> {
    if response.content_length().is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(RequestError::TooLarge { limit: MAX_BODY_BYTES });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(&e))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(RequestError::TooLarge { limit: MAX_BODY_BYTES });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A 404 gets a message naming what was not found.
fn not_found_as(error: RequestError, what: impl FnOnce() -> String) -> RequestError {
    match error {
        RequestError::Status {
            status: 404,
            retry_after,
            ..
        } => RequestError::Status {
            status: 404,
            reason: Some(what()),
            retry_after,
        },
        other => other,
    }
}

/// Only scheme, host and port of a redirect target: enough to explain, nothing that could
/// carry a token.
fn redirect_target(location: &str) -> String {
    match reqwest::Url::parse(location) {
        Ok(url) => format!("{}://{}", url.scheme(), url.host_str().unwrap_or("?")),
        Err(_) => "a relative URL".to_owned(),
    }
}

fn transport_error(error: &reqwest::Error) -> RequestError {
    let chain = error_chain(error);
    if chain.contains("certificate") {
        RequestError::Tls(chain)
    } else if error.is_connect() {
        RequestError::Connect(chain)
    } else if error.is_timeout() {
        RequestError::Timeout
    } else {
        RequestError::Network(chain)
    }
}

/// The error and its sources, without the URL (which reqwest includes and which could be long).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(err) = current {
        let text = err.to_string();
        let text = match text.find(" for url (") {
            Some(i) => text[..i].to_owned(),
            None => text,
        };
        if !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    wire::sanitise(&parts.join(": "), 300)
}
