//! Resolves the selection into the list of cases to run: direct IDs first, then the cases of
//! each suite, de-duplicated in first-seen order. Suite lookups share the rate budget and are
//! retried with the same classifier as every other request.

use crate::domain::case::PlannedCase;
use crate::domain::exit::Exit;
use crate::domain::outcome::FailureKind;
use crate::input::settings::Selection;
use crate::policy::verdict;
use crate::run::client::error::RequestError;
use crate::run::client::retry::{self, with_retries, Method};
use crate::run::client::KapsoClient;
use tokio::time::Instant;

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

/// Builds the plan: direct IDs, then each agent's suites' cases, then each suite's cases.
pub async fn resolve(client: &KapsoClient, selection: &Selection, deadline: Instant) -> Result<Plan, PlanError> {
    let mut plan = Plan {
        cases: Vec::new(),
        duplicates_dropped: selection.duplicates_dropped,
    };
    for id in &selection.case_ids {
        plan.add(PlannedCase {
            id: id.clone(),
            ..PlannedCase::default()
        });
    }
    // Agents first, then suites: each lookup yields suites whose cases join the plan.
    let lookups = selection
        .agent_ids
        .iter()
        .map(|id| (id, true))
        .chain(selection.suite_ids.iter().map(|id| (id, false)));
    for (id, is_agent) in lookups {
        let result = if is_agent {
            with_retries(client, deadline, || async {
                client.agent_suites(client.budget().acquire().await, id).await
            })
            .await
        } else {
            with_retries(client, deadline, || async {
                client.get_suite(client.budget().acquire().await, id).await
            })
            .await
            .map(|suite| vec![suite])
        };
        let what = if is_agent {
            format!("agent {id}")
        } else {
            format!("test suite {id}")
        };
        let suites = match result {
            Ok(suites) => suites,
            Err(error) => return Err(plan_error(&format!("could not resolve {what}"), &error, plan.cases)),
        };
        if suites.iter().all(|s| s.test_cases.is_empty()) {
            return Err(PlanError {
                exit: Exit::Usage,
                message: format!("{what} has no test cases; refusing to pass an empty selection"),
                known: plan.cases,
            });
        }
        for suite in suites {
            for case in suite.test_cases {
                plan.add(PlannedCase {
                    id: case.id,
                    name: case.name,
                    suite_id: Some(suite.id.clone()),
                    suite_name: suite.name.clone(),
                });
            }
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

/// Why a dry-run check of a case failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    pub kind: FailureKind,
    pub reason: String,
}

/// A dry-run check of one case: its name, or why it cannot be run.
pub type CaseCheck = Result<Option<String>, CheckFailure>;

/// Checks that each case exists (`GET /test_cases/{id}`), for `--dry-run`. Returns, per case,
/// its name or why it cannot be run. A refused key (401, 402) stops the checks at once, and
/// costs one request: until a check succeeds, they go one at a time.
pub async fn check_cases(
    client: &KapsoClient,
    cases: &[PlannedCase],
    concurrency: usize,
    deadline: Instant,
) -> Vec<CaseCheck> {
    let mut results: Vec<Option<CaseCheck>> = vec![None; cases.len()];
    let mut tasks = tokio::task::JoinSet::new();
    let mut next = 0;
    let mut refused: Option<String> = None;
    while (next < cases.len() && refused.is_none()) || !tasks.is_empty() {
        while refused.is_none() && next < cases.len() && tasks.len() < client.fan_out(concurrency) {
            let client = client.clone();
            let id = cases[next].id.clone();
            let index = next;
            tasks.spawn(async move {
                let result = with_retries(&client, deadline, || async {
                    client.get_case(client.budget().acquire().await, &id).await
                })
                .await;
                (index, result)
            });
            next += 1;
        }
        if let Some(Ok((index, result))) = tasks.join_next().await {
            results[index] = Some(result.map(|case| case.name).map_err(|error| {
                let kind = retry::failure_kind(Method::Get, &error);
                if kind == FailureKind::KeyRefused {
                    refused = Some(error.to_string());
                }
                CheckFailure {
                    kind,
                    reason: error.to_string(),
                }
            }));
        }
    }
    let not_checked = match &refused {
        Some(reason) => CheckFailure {
            kind: FailureKind::KeyRefused,
            reason: format!("not checked: Kapso refused the API key ({reason})"),
        },
        None => CheckFailure {
            kind: FailureKind::Unavailable,
            reason: "not checked".into(),
        },
    };
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(not_checked.clone())))
        .collect()
}

fn plan_error(what: &str, error: &RequestError, known: Vec<PlannedCase>) -> PlanError {
    PlanError {
        exit: verdict::failure_exit(retry::failure_kind(Method::Get, error)),
        message: format!("{what}: {error}"),
        known,
    }
}
