//! The scenario: what the simulated Kapso project contains (test cases, suites, agents), how its
//! runs behave (scores, durations, crashes), the rate limit and the injected faults.
//!
//! Plain serde data so the binary can read it from a JSON file, plus small builders for tests.

use serde::{Deserialize, Serialize};

/// Everything the simulated server knows and does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Scenario {
    /// The only accepted `X-API-Key` value.
    pub api_key: String,
    pub cases: Vec<CaseSpec>,
    pub suites: Vec<SuiteSpec>,
    pub agents: Vec<AgentSpec>,
    pub rate_limit: Option<RateLimit>,
    /// Checked in order; the first fault that matches a request and still has actions left
    /// supplies that request's action.
    pub faults: Vec<Fault>,
    /// Every JSON answer spells `_` as the JSON escape `\u005f` (the same text once decoded).
    pub escape_underscores: bool,
}

impl Scenario {
    /// An empty project reachable with `api_key`.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            ..Self::default()
        }
    }

    /// Every JSON answer spells `_` as `\u005f`, as a server may escape any character.
    pub fn escape_underscores(mut self) -> Self {
        self.escape_underscores = true;
        self
    }

    /// Reads a scenario from a JSON file.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("invalid scenario {}: {e}", path.display()))
    }

    pub fn case(mut self, case: CaseSpec) -> Self {
        self.cases.push(case);
        self
    }

    pub fn suite(mut self, suite: SuiteSpec) -> Self {
        self.suites.push(suite);
        self
    }

    pub fn agent(mut self, agent: AgentSpec) -> Self {
        self.agents.push(agent);
        self
    }

    /// At most `limit` requests in any sliding window of `window_ms`; `Retry-After` is computed.
    pub fn rate_limit(mut self, limit: u32, window_ms: u64) -> Self {
        self.rate_limit = Some(RateLimit {
            limit,
            window_ms,
            ..RateLimit::default()
        });
        self
    }

    /// Any rate limit: another counting mode, announced headers that differ, a fixed
    /// `Retry-After`, changes along the way.
    pub fn rate_limit_with(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = Some(rate_limit);
        self
    }

    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }
}

/// A test case and how its successive runs turn out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaseSpec {
    pub id: String,
    pub name: String,
    pub description: String,
    pub suite_id: Option<String>,
    /// The script and rubric the API returns for this case; `None` derives them from the
    /// description and the name. Serve another scenario to change a definition between runs.
    pub script: Option<String>,
    pub rubric: Option<String>,
    /// Run n of this case uses `trials[n % len]`; empty means one default passing trial
    /// (score 1.0, 1000 ms).
    pub trials: Vec<TrialSpec>,
}

impl CaseSpec {
    /// A case named after its id, with no trials yet (so: passes with 1.0 after 1000 ms).
    pub fn new(id: impl Into<String>) -> Self {
        let id = id.into();
        Self {
            name: format!("Case {id}"),
            description: format!("Simulated test case {id}"),
            id,
            suite_id: None,
            script: None,
            rubric: None,
            trials: Vec::new(),
        }
    }

    /// A case whose runs finish with `score`.
    pub fn passing(id: impl Into<String>, score: f64) -> Self {
        Self::new(id).score(score)
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The rubric the judge scores against, as the API returns it.
    pub fn rubric(mut self, rubric: impl Into<String>) -> Self {
        self.rubric = Some(rubric.into());
        self
    }

    /// The script the simulated user follows, as the API returns it.
    pub fn script(mut self, script: impl Into<String>) -> Self {
        self.script = Some(script.into());
        self
    }

    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    pub fn suite(mut self, suite_id: impl Into<String>) -> Self {
        self.suite_id = Some(suite_id.into());
        self
    }

    /// Appends a trial; later builder calls such as [`CaseSpec::score`] modify the last trial.
    pub fn trial(mut self, trial: TrialSpec) -> Self {
        self.trials.push(trial);
        self
    }

    fn last_trial(&mut self) -> &mut TrialSpec {
        if self.trials.is_empty() {
            self.trials.push(TrialSpec::default());
        }
        let last = self.trials.len() - 1;
        &mut self.trials[last]
    }

    /// Sets the score of the last trial (creating a default trial if there is none).
    pub fn score(mut self, score: f64) -> Self {
        self.last_trial().score = Some(score);
        self
    }

    /// The last trial finishes without a score.
    pub fn no_score(mut self) -> Self {
        self.last_trial().score = None;
        self
    }

    pub fn feedback(mut self, feedback: impl Into<String>) -> Self {
        self.last_trial().feedback = Some(feedback.into());
        self
    }

    pub fn duration_ms(mut self, ms: u64) -> Self {
        self.last_trial().duration_ms = ms;
        self
    }

    /// The last trial crashes with this error message.
    pub fn crash(mut self, message: impl Into<String>) -> Self {
        self.last_trial().crash = Some(message.into());
        self
    }

    /// The last trial stays in progress forever.
    pub fn never_finishes(mut self) -> Self {
        self.last_trial().never_finishes = true;
        self
    }
}

/// How one run of a case turns out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrialSpec {
    /// `None`: finished without a score.
    pub score: Option<f64>,
    /// When set, the finished run's `score` is this text as a bare JSON number (it replaces
    /// `score` on the wire): for numbers an f64 cannot hold, such as `1e400`.
    pub raw_score: Option<String>,
    pub feedback: Option<String>,
    /// Time from creation to the finished state.
    pub duration_ms: u64,
    /// `Some(msg)`: the run ends with `execution_completed: false`,
    /// `error: {"message": msg, "type": "RuntimeError"}` and a null score.
    pub crash: Option<String>,
    pub never_finishes: bool,
}

impl Default for TrialSpec {
    fn default() -> Self {
        Self {
            score: Some(1.0),
            raw_score: None,
            feedback: None,
            duration_ms: 1000,
            crash: None,
            never_finishes: false,
        }
    }
}

impl TrialSpec {
    /// Finishes with `score` after the default 1000 ms.
    pub fn scored(score: f64) -> Self {
        Self {
            score: Some(score),
            ..Self::default()
        }
    }

    /// Finishes with `raw` as its score, sent as a bare JSON number (`1e400`, `-1E+400`).
    pub fn raw_score(raw: impl Into<String>) -> Self {
        Self {
            raw_score: Some(raw.into()),
            ..Self::default()
        }
    }

    /// Finishes without a score.
    pub fn unscored() -> Self {
        Self {
            score: None,
            ..Self::default()
        }
    }

    /// Crashes with `message`.
    pub fn crashed(message: impl Into<String>) -> Self {
        Self {
            score: None,
            crash: Some(message.into()),
            ..Self::default()
        }
    }

    /// Never leaves the in-progress state.
    pub fn hanging() -> Self {
        Self {
            never_finishes: true,
            ..Self::default()
        }
    }

    pub fn duration_ms(mut self, ms: u64) -> Self {
        self.duration_ms = ms;
        self
    }

    pub fn feedback(mut self, feedback: impl Into<String>) -> Self {
        self.feedback = Some(feedback.into());
        self
    }
}

/// A test suite. Its cases are `case_ids` followed by every other case whose `suite_id` names it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SuiteSpec {
    pub id: String,
    pub name: String,
    pub agent_id: Option<String>,
    pub case_ids: Vec<String>,
}

impl SuiteSpec {
    pub fn new(id: impl Into<String>) -> Self {
        let id = id.into();
        Self {
            name: format!("Suite {id}"),
            id,
            agent_id: None,
            case_ids: Vec::new(),
        }
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    pub fn agent(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = Some(agent_id.into());
        self
    }

    pub fn case(mut self, case_id: impl Into<String>) -> Self {
        self.case_ids.push(case_id.into());
        self
    }

    pub fn cases<I, S>(mut self, case_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.case_ids.extend(case_ids.into_iter().map(Into::into));
        self
    }
}

/// An agent. Its suites are `suite_ids` followed by every other suite whose `agent_id` names it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentSpec {
    pub id: String,
    pub suite_ids: Vec<String>,
}

impl AgentSpec {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            suite_ids: Vec::new(),
        }
    }

    pub fn suite(mut self, suite_id: impl Into<String>) -> Self {
        self.suite_ids.push(suite_id.into());
        self
    }
}

/// The rate limit over all received requests: how the server counts (`mode`), what its
/// `X-RateLimit-*` headers announce, and changes of the limit along the way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimit {
    /// Requests admitted per `window_ms` (for a token bucket: tokens added per `window_ms`).
    pub limit: u32,
    pub window_ms: u64,
    /// `None`: ceil(seconds until a request would be admitted), at least 1.
    pub retry_after_secs: Option<u64>,
    pub mode: RateMode,
    /// Token bucket only: how many tokens it holds (and starts with); `None` = `limit`.
    pub bucket: Option<u32>,
    /// What the headers say when it differs from the rule enforced: `X-RateLimit-Limit` is
    /// this limit and `X-RateLimit-Remaining` counts in a sliding window of its own (a server
    /// that announces its plan per minute while it counts in shorter windows). `None`: the
    /// headers describe the enforced rule.
    pub announce: Option<Announce>,
    /// From the `after_requests`-th received request on, `limit` (and the announced limit)
    /// becomes `limit`: a plan that changes while the gate runs.
    pub changes: Vec<LimitChange>,
}

/// How the server counts requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateMode {
    /// At most `limit` in any window of `window_ms` ending now.
    #[default]
    Sliding,
    /// At most `limit` in each window of `window_ms` counted from the simulator's start.
    Fixed,
    /// A bucket of `bucket` tokens refilled at `limit` per `window_ms`; each request takes one.
    TokenBucket,
}

/// The announced side of a rate limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Announce {
    pub limit: u32,
    pub window_ms: u64,
}

/// A change of the limit after some requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitChange {
    pub after_requests: usize,
    pub limit: u32,
}

/// Which API operation a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    #[serde(alias = "CreateRun")]
    CreateRun,
    #[serde(alias = "GetRun")]
    GetRun,
    #[serde(alias = "GetCase")]
    GetCase,
    #[serde(alias = "GetSuite")]
    GetSuite,
    #[serde(alias = "ListAgentSuites")]
    ListAgentSuites,
    #[serde(alias = "Other")]
    Other,
}

/// A sequence of misbehaviours for the requests matching `endpoint` (and `case_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub endpoint: Endpoint,
    /// Only match requests for this test case id (CreateRun, GetCase) or for a run of this case
    /// (GetRun).
    #[serde(default)]
    pub case_id: Option<String>,
    /// Consumed in order, one per matching request; afterwards normal behaviour.
    #[serde(default)]
    pub actions: Vec<FaultAction>,
}

impl Fault {
    /// A fault on every request to `endpoint`, with no actions yet.
    pub fn on(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            case_id: None,
            actions: Vec::new(),
        }
    }

    /// Restricts the fault to one test case (or the runs of it).
    pub fn case(mut self, case_id: impl Into<String>) -> Self {
        self.case_id = Some(case_id.into());
        self
    }

    /// Appends an action.
    pub fn then(mut self, action: FaultAction) -> Self {
        self.actions.push(action);
        self
    }

    /// Appends `action` `times` times.
    pub fn times(mut self, times: usize, action: FaultAction) -> Self {
        self.actions.extend(std::iter::repeat_n(action, times));
        self
    }
}

/// One misbehaviour, applied to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultAction {
    /// Respond with this status instead of handling the request. `body: None` sends an empty
    /// body; `content_type: None` means JSON when there is a body.
    Status {
        status: u16,
        #[serde(default)]
        body: Option<String>,
        #[serde(default)]
        content_type: Option<String>,
        #[serde(default)]
        headers: Vec<(String, String)>,
        /// For CreateRun: also create the run, as a server that failed after commit would.
        #[serde(default)]
        create_anyway: bool,
    },
    /// Sleep, then respond normally.
    Delay { ms: u64 },
    /// Hold the request for `ms` before the server stamps, logs and counts it (a request held
    /// up on its way: a stalled client, a slow connection), then handle it normally.
    Late { ms: u64 },
    /// Close the connection without any response.
    Reset,
    /// Handle normally, send the head with the full Content-Length and half the body, then close.
    ResetMidBody,
    /// Handle normally, then send only the first half of the body (with a matching
    /// Content-Length), so the JSON is invalid.
    Truncated,
    /// An HTML error page as a proxy would give.
    Html { status: u16 },
    /// Handle normally, then replace the body by `{"data": "a string"}` (single-resource
    /// endpoints) or `{"data": [1, 2]}` (the agent's suite list), keeping the status.
    WrongDataType,
    /// Respond with a redirect to `location` instead of handling the request.
    Redirect { status: u16, location: String },
    /// Handle normally, but a run's `feedback` is replaced by that many bytes of text.
    HugeFeedback { bytes: usize },
}

impl FaultAction {
    /// `Status` with a JSON error body `{"error": <reason>, "message": "Simulated failure"}`.
    pub fn status(status: u16) -> Self {
        Self::Status {
            status,
            body: Some(
                serde_json::json!({
                    "error": crate::http::reason(status),
                    "message": "Simulated failure",
                })
                .to_string(),
            ),
            content_type: None,
            headers: Vec::new(),
            create_anyway: false,
        }
    }

    /// `Status` with an empty body.
    pub fn empty(status: u16) -> Self {
        Self::Status {
            status,
            body: None,
            content_type: None,
            headers: Vec::new(),
            create_anyway: false,
        }
    }

    /// `Status` with this body (JSON content type) and extra headers.
    pub fn status_with(status: u16, body: &str, headers: &[(&str, &str)]) -> Self {
        Self::Status {
            status,
            body: Some(body.to_owned()),
            content_type: None,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            create_anyway: false,
        }
    }

    /// `Status` for CreateRun that also creates the run (the client sees a failure).
    pub fn status_after_commit(status: u16) -> Self {
        let mut action = Self::status(status);
        if let Self::Status { create_anyway, .. } = &mut action {
            *create_anyway = true;
        }
        action
    }

    pub fn delay(ms: u64) -> Self {
        Self::Delay { ms }
    }

    /// `Late`: the request reaches the server `ms` after it was sent.
    pub fn late(ms: u64) -> Self {
        Self::Late { ms }
    }
}
