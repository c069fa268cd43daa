//! `kapso-sim`: a simulated Kapso test-run HTTP API for the tests, demo and benchmarks of
//! `kapso-gate`.
//!
//! Start a [`Sim`] with a [`Scenario`] (cases, suites, agents, rate limit, faults), point the
//! client at [`Sim::base_url`], then inspect [`Sim::requests`] and [`Sim::runs`]. Run state is
//! computed from elapsed time: a run created with `run_now: true` is in progress until its
//! trial's `duration_ms` has passed, then finished (or crashed). [`ForwardProxy`] is a tiny
//! HTTP forward proxy for proxy tests. [`github::FakeGithub`] is a fake GitHub REST API for the
//! pull-request comment, [`gitlab::FakeGitlab`] the same for GitLab merge-request notes.
//!
//! Each request goes through: rate limiting (a sliding or fixed window or a token bucket, see
//! [`RateMode`]; every request counts; a 429 consumes no slot),
//! then the next action of the first matching [`Fault`], then `X-API-Key` authentication, then
//! the endpoint.
//!
//! ```
//! use kapso_sim::{CaseSpec, Endpoint, Fault, FaultAction, Scenario, Sim};
//!
//! let sim = Sim::start(
//!     Scenario::new("key")
//!         .case(CaseSpec::passing("c1", 0.9).duration_ms(200))
//!         .case(CaseSpec::new("c2").score(0.4).feedback("❌ wrong hours"))
//!         .rate_limit(100, 60_000)
//!         .fault(Fault::on(Endpoint::GetRun).then(FaultAction::status(503))),
//! );
//! assert!(sim.base_url().ends_with("/api/v1"));
//! assert!(sim.runs().is_empty());
//! ```

mod api;
mod background;
mod forge;
pub mod github;
pub mod gitlab;
mod http;
mod proxy;
mod rate_limit;
mod render;
mod scenario;
mod server;
mod state;

pub use http::reason;
pub use proxy::ForwardProxy;
pub use scenario::{
    AgentSpec, Announce, CaseSpec, Endpoint, Fault, FaultAction, LimitChange, RateLimit, RateMode, Scenario, SuiteSpec,
    TrialSpec,
};
pub use server::Sim;
pub use state::{LoggedRequest, RunRecord};
