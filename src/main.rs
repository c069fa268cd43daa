//! The `kapso-gate` binary: parse, run, write reports, map the verdict to an exit code. Every
//! line it prints goes through `stdio`, the one place text leaves the process.

#![forbid(unsafe_code)]

use kapso_gate::domain::exit::Exit;
use kapso_gate::input::cli::{Args, Env};
use kapso_gate::input::settings::{Inputs, Settings, UsageError};
use kapso_gate::output::comment;
use kapso_gate::output::destinations::{self as output, Delivery, ReportPaths};
use kapso_gate::policy::verdict::interrupt_exit;
use kapso_gate::report::terminal::{self, Style};
use kapso_gate::report::{github, Report};
use kapso_gate::{Interrupt, Progress};

mod app;

use app::console::Console;
use app::signals::Stop;
use app::stdio::Stdio;
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Before anything reads the environment and while only this thread runs: an action input
    // (INPUT_*) beats the job's KAPSO_* variable, and an empty KAPSO_* variable means "not set".
    for (name, value) in kapso_gate::input::cli::action_input_overrides(std::env::vars_os()) {
        std::env::set_var(name, value);
    }
    for name in kapso_gate::input::cli::empty_kapso_vars(std::env::vars_os()) {
        std::env::remove_var(name);
    }
    let env = Env::from_process();
    let io = Stdio {
        github: env.github_actions,
    };
    if env.github_actions {
        if let Some(key) = env.api_key.as_ref().filter(|k| !k.expose().is_empty()) {
            io.commands(&github::add_mask(key.expose()));
        }
        for token in &env.forge_tokens {
            io.commands(&github::add_mask(token.expose()));
        }
    }
    let stop = app::signals::listen(io);
    let args = match Args::parse_process() {
        Ok(args) => args,
        Err(error) => {
            let text = error.render().to_string();
            if !error.use_stderr() {
                io.out(&text); // --help, --version
                return ExitCode::SUCCESS;
            }
            io.err(&text);
            // The report paths of the environment are still known: a usage error is reported.
            let message = error.kind().as_str().unwrap_or("invalid arguments").to_owned();
            let report = kapso_gate::usage_failure_report(&format!("{message}; see kapso-gate --help"), None);
            return ExitCode::from(finish(report, &ReportPaths::from_env(&env), io, None, &stop).0);
        }
    };
    if !args.merge.is_empty() {
        return ExitCode::from(merge(&args, &env, io, &stop));
    }
    let settings = match Inputs::read(&args).and_then(|inputs| Settings::resolve_with(&args, &env, &inputs)) {
        Ok(settings) => settings,
        Err(error) => {
            let message = usage_message(&error, &env);
            io.err_line(&format!("kapso-gate: error: {message}"));
            let report = kapso_gate::usage_failure_report(&message, Some(&args));
            return ExitCode::from(finish(report, &ReportPaths::resolve(&args, &env), io, None, &stop).0);
        }
    };
    ExitCode::from(gate(&settings, &env, io, &stop))
}

/// A run or a dry run, with the pull-request comment after it; returns the exit code.
fn gate(settings: &Settings, env: &Env, io: Stdio, stop: &Stop) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            io.err_line(&format!(
                "kapso-gate: error: could not start the async runtime: {error}"
            ));
            return Exit::Incomplete.code();
        }
    };
    let style = Style {
        color: std::io::stdout().is_terminal() && !env.no_color,
    };
    if settings.dry_run {
        let result = runtime.block_on(kapso_gate::dry_run(settings, stop.clone()));
        io.out(&terminal::dry_run(&result));
        return result.exit.code();
    }
    let report = runtime.block_on(run(settings, io, style, stop.clone()));
    let (code, report) = finish(report, &settings.reports, io, Some(style), stop);
    // A signal after the reports were final still ends the process as a signal does.
    if let Some(interrupt) = *stop.borrow() {
        return interrupt_exit(interrupt).code();
    }
    if let (true, Some(report)) = (settings.pr_comment, report) {
        if let Some(interrupt) = runtime.block_on(comment_on_pull_request(&report, env, settings, io, stop)) {
            return interrupt_exit(interrupt).code();
        }
    }
    code
}

/// Creates or updates the pull-request comment. Whatever happens, one line says so and nothing
/// else changes: not the exit code, not a report. Skipped when the job is being cancelled, and
/// abandoned when a signal comes during it (returned, for the exit code).
async fn comment_on_pull_request(
    report: &Report,
    env: &Env,
    settings: &Settings,
    io: Stdio,
    stop: &Stop,
) -> Option<Interrupt> {
    if matches!(report.verdict, Exit::Interrupted | Exit::Terminated) {
        return None;
    }
    let summary = kapso_gate::report::markdown::render(report, comment::body::SUMMARY_MAX_BYTES);
    let request = comment::CommentRequest {
        explicit_token: env.comment_token.clone(),
        key: settings.comment_key.clone(),
        deadline: settings.comment_deadline,
    };
    let mut stop = stop.clone();
    let context = comment::RunContext::now();
    let outcome = tokio::select! {
        outcome = comment::publish_from_env(|name| std::env::var(name).ok(), &request, &summary, &context) => outcome,
        interrupt = kapso_gate::run::gate::wait_for_interrupt(&mut stop) => {
            io.err_line(&format!("kapso-gate: pull request comment abandoned: {} received", interrupt.name()));
            return Some(interrupt);
        }
    };
    if io.github {
        io.commands(&outcome.github_line());
    } else {
        io.err_line(&format!("kapso-gate: {outcome}"));
    }
    None
}

/// `--merge`: one report from the shards' reports, written like a run's; nothing is sent. The
/// reports are read on a worker thread, so a signal ends a merge of large reports promptly.
fn merge(args: &Args, env: &Env, io: Stdio, stop: &Stop) -> u8 {
    let paths = ReportPaths::resolve(args, env);
    let inputs = kapso_gate::shards::merge::input_paths(&args.merge);
    let merged = app::signals::unless_stopped(stop, move || {
        kapso_gate::shards::merge::load(&inputs).and_then(kapso_gate::shards::merge::merge)
    });
    let code = match merged {
        Err(interrupt) => return interrupt_exit(interrupt).code(),
        Ok(Ok(report)) => {
            let style = Style {
                color: std::io::stdout().is_terminal() && !env.no_color,
            };
            finish(report, &paths, io, Some(style), stop).0
        }
        Ok(Err(error)) => {
            io.err_line(&format!("kapso-gate: error: {error}"));
            let report = kapso_gate::usage_failure_report(&error.to_string(), Some(args));
            finish(report, &paths, io, None, stop).0
        }
    };
    stop.borrow().map_or(code, |interrupt| interrupt_exit(interrupt).code())
}

/// A usage error's message, with a hint when the key is missing on a fork's pull request
/// (GitHub passes no secrets to such runs).
fn usage_message(error: &UsageError, env: &Env) -> String {
    let fork = matches!(error, UsageError::MissingKey)
        && env
            .github_event_name
            .as_deref()
            .is_some_and(|e| e.starts_with("pull_request"))
        && env
            .github_event_path
            .as_deref()
            .and_then(|p| comment::event::read_text(p).ok())
            .is_some_and(|event| kapso_gate::input::cli::is_fork_pull_request(&event));
    if fork {
        format!("{error}. This run is for a pull request from a fork: GitHub does not pass secrets to workflows triggered from forks, so the gate cannot run here (see Troubleshooting in the README)")
    } else {
        error.to_string()
    }
}

/// Writes every report (see [`output::deliver`] for the order that keeps them in agreement),
/// then prints the summary (when `style` is given), whose last line states the verdict the
/// reports state, and the GitHub annotations, on every exit path. A gate that passed but cannot
/// write a requested report exits 4, and every report written says so. A signal before the
/// reports are final (unless the report already records one) leaves none written: the exit is
/// the signal's, and no report is returned.
fn finish(report: Report, paths: &ReportPaths, io: Stdio, style: Option<Style>, stop: &Stop) -> (u8, Option<Report>) {
    let records_a_signal = matches!(report.verdict, Exit::Interrupted | Exit::Terminated);
    let cancelled = || !records_a_signal && stop.borrow().is_some();
    let (report, problems) = match output::deliver(report, paths, &cancelled) {
        Delivery::Done { report, problems } => (*report, problems),
        Delivery::Cancelled => {
            let interrupt = stop.borrow().unwrap_or(Interrupt::Sigterm);
            io.err_line(&format!(
                "kapso-gate: {} received while the reports were written: none was written",
                interrupt.name()
            ));
            return (interrupt_exit(interrupt).code(), None);
        }
    };
    for problem in &problems {
        io.err_line(&format!("kapso-gate: error: {problem}"));
    }
    if let Some(style) = style {
        let summary = terminal::summary(&report, style);
        // In GitHub Actions the summary quotes feedback, so it also goes in a stop-commands block.
        if io.github {
            io.commands(&github::inert(&summary));
        } else {
            io.out(&summary);
        }
    }
    if io.github {
        io.commands(&github::annotations(&report));
    }
    let mut code = report.exit_code;
    if code == Exit::Passed.code() && !problems.is_empty() {
        // A report that failed at its commit, after the last settling: still fail closed.
        code = Exit::Incomplete.code();
    }
    (code, Some(report))
}

async fn run(settings: &Settings, io: Stdio, style: Style, stop: Stop) -> Report {
    let mut console = Console::new(settings, style, io);
    let mut observer = |progress: Progress<'_>| console.progress(settings, progress);
    kapso_gate::run(settings, stop, &mut observer).await
}
