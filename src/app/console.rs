//! The binary's console: turns progress events into lines on stdout (results) and stderr
//! (diagnostics), according to the verbosity. Formatting itself is in `report::terminal`.

use kapso_gate::domain::outcome::TrialResult;
use kapso_gate::input::settings::{Settings, Verbosity};
use kapso_gate::report::build::trial_report;
use kapso_gate::report::terminal::{self, Style};
use kapso_gate::report::text::{display_name, fmt_duration, sanitize};
use kapso_gate::run::scheduler::Event;
use kapso_gate::Progress;
use std::time::Duration;

use super::stdio::Stdio;

/// Prints progress as it happens.
#[derive(Debug)]
pub struct Console {
    style: Style,
    io: Stdio,
    verbosity: Verbosity,
    timeout: Duration,
    threshold: f64,
    /// Per case: display name, threshold and trials, known once the plan is resolved.
    cases: Vec<(String, f64, usize)>,
}

impl Console {
    pub fn new(settings: &Settings, style: Style, io: Stdio) -> Console {
        Console {
            style,
            io,
            verbosity: settings.verbosity,
            timeout: settings.connection.timeout,
            threshold: settings.policy.threshold,
            cases: Vec::new(),
        }
    }

    /// Handles one progress event.
    pub fn progress(&mut self, settings: &Settings, progress: Progress<'_>) {
        match progress {
            Progress::Planned { plan, runs, reattached } => {
                self.cases = plan
                    .cases
                    .iter()
                    .map(|c| {
                        let policy = settings.case_policy(&c.id);
                        (
                            display_name(c.name.as_deref(), &c.id).to_owned(),
                            policy.threshold,
                            policy.trials.max() as usize,
                        )
                    })
                    .collect();
                if self.verbosity > Verbosity::Quiet {
                    let line = terminal::start_line(
                        plan.cases.len(),
                        runs,
                        self.threshold,
                        self.timeout,
                        plan.duplicates_dropped,
                    );
                    self.io.err_line(&line);
                    if reattached > 0 {
                        self.io.err_line(&format!(
                            "re-attaching to {reattached} run(s) recorded in the state file; no new runs for them"
                        ));
                    }
                }
            }
            Progress::Warning(message) => self.io.err_line(&format!("warning: {}", sanitize(message, false))),
            Progress::Note(message) => {
                if self.verbosity > Verbosity::Quiet {
                    self.io.err_line(&sanitize(message, false));
                }
            }
            Progress::Run(event) => self.event(&event),
        }
    }

    fn event(&self, event: &Event<'_>) {
        match event {
            Event::Decided { job, outcome } => {
                if self.verbosity == Verbosity::Quiet {
                    return;
                }
                let (planned_name, threshold, trials) = self
                    .cases
                    .get(job.case)
                    .cloned()
                    .unwrap_or_else(|| (job.test_case_id.clone(), self.threshold, 1));
                let trial = trial_report(job.trial, outcome, threshold);
                let name = match &outcome.result {
                    // An empty name from Kapso falls back to the planned one.
                    TrialResult::Finished(run) => display_name(run.case_name.as_deref(), &planned_name).to_owned(),
                    TrialResult::NoResult { .. } => planned_name,
                };
                let duration = trial.duration_ms.map(Duration::from_millis);
                let line = terminal::decided_line(
                    &name,
                    trial.status,
                    trial.score,
                    threshold,
                    duration,
                    Some((job.trial, trials)),
                    self.style,
                );
                self.io.out(&format!("{line}\n"));
            }
            Event::Heartbeat { pending, elapsed } if self.verbosity > Verbosity::Quiet => {
                self.io.err_line(&terminal::heartbeat_line(*pending, *elapsed));
            }
            Event::RunCreated { job, run_id } if self.verbosity >= Verbosity::Verbose => {
                self.io.err_line(&format!(
                    "created run {} for test case {} (trial {})",
                    sanitize(run_id, false),
                    sanitize(&job.test_case_id, false),
                    job.trial + 1
                ));
            }
            Event::Retrying { job, error, after } if self.verbosity >= Verbosity::Verbose => {
                self.io.err_line(&format!(
                    "retrying a request for test case {} in {}: {}",
                    sanitize(&job.test_case_id, false),
                    fmt_duration(*after),
                    sanitize(&error.to_string(), false)
                ));
            }
            _ => {}
        }
    }
}
