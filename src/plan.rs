//! Resolves the selection into the list of cases to run: direct IDs first, then the cases of
//! each suite, de-duplicated in first-seen order. Suite lookups share the rate budget and are
//! retried with the same classifier as every other request.

use crate::client::error::RequestError;
use crate::client::retry::{self, Disposition, Method};
use crate::client::KapsoClient;
use crate::exit::Exit;
use backon::Retryable;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// One selected test case.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlannedCase {
    pub id: String,
    /// Known when the case came from a suite; otherwise learned from the run.
    pub name: Option<String>,
    pub suite_id: Option<String>,
    pub suite_name: Option<String>,
}

/// The resolved selection.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub cases: Vec<PlannedCase>,
    /// IDs given more than once (directly or through suites), dropped.
    pub duplicates_dropped: usize,
}

/// Why the selection could not be resolved; no run has been created.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    pub exit: Exit,
    pub message: String,
    /// The cases known before the failure, so reports can still list them.
    pub known: Vec<PlannedCase>,
}

impl Plan {
    fn add(&mut self, case: PlannedCase) {
        if self.cases.iter().any(|known| known.id == case.id) {
            self.duplicates_dropped += 1;
        } else {
            self.cases.push(case);
        }
    }
}

/// Builds the plan, looking suites up on Kapso.
pub async fn resolve(
    client: &KapsoClient,
    case_ids: &[String],
    suite_ids: &[String],
    duplicates_already_dropped: usize,
    deadline: Instant,
) -> Result<Plan, PlanError> {
    let mut plan = Plan {
        cases: Vec::new(),
        duplicates_dropped: duplicates_already_dropped,
    };
    for id in case_ids {
        plan.add(PlannedCase {
            id: id.clone(),
            ..PlannedCase::default()
        });
    }
    for suite_id in suite_ids {
        let suite = match with_retries(client, deadline, || async {
            client.get_suite(client.budget().acquire().await, suite_id).await
        })
        .await
        {
            Ok(suite) => suite,
            Err(error) => {
                return Err(plan_error(
                    &format!("could not resolve test suite {suite_id}"),
                    &error,
                    plan.cases,
                ))
            }
        };
        if suite.test_cases.is_empty() {
            return Err(PlanError {
                exit: Exit::Usage,
                message: format!("test suite {suite_id} has no test cases; refusing to pass an empty selection"),
                known: plan.cases,
            });
        }
        for case in suite.test_cases {
            plan.add(PlannedCase {
                id: case.id,
                name: case.name,
                suite_id: Some(suite.id.clone()),
                suite_name: suite.name.clone(),
            });
        }
    }
    if plan.cases.is_empty() {
        return Err(PlanError {
            exit: Exit::Usage,
            message: "no test cases selected".into(),
            known: Vec::new(),
        });
    }
    Ok(plan)
}

fn plan_error(what: &str, error: &RequestError, known: Vec<PlannedCase>) -> PlanError {
    let exit = match retry::classify(Method::Get, error) {
        Disposition::Reject | Disposition::StopAll => Exit::Rejected,
        Disposition::GiveUp | Disposition::Retry { .. } => Exit::Incomplete,
    };
    PlanError {
        exit,
        message: format!("{what}: {error}"),
        known,
    }
}

/// Sends a read with retries: the classifier decides, `Retry-After` replaces the computed
/// delay, and no retry is scheduled past the deadline.
pub async fn with_retries<T, F, Fut>(client: &KapsoClient, deadline: Instant, request: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    let stats = client.stats().clone();
    let attempt = request
        .retry(retry::backoff())
        .sleep(tokio::time::sleep)
        .when(|e| matches!(retry::classify(Method::Get, e), Disposition::Retry { .. }))
        .adjust(move |e: &RequestError, computed: Option<Duration>| {
            let delay = e.retry_after().unwrap_or(computed?);
            (Instant::now() + delay < deadline).then_some(delay)
        })
        .notify(move |_, _| stats.record_retry());
    match tokio::time::timeout_at(deadline, attempt).await {
        Ok(result) => result,
        Err(_) => Err(RequestError::Timeout),
    }
}
