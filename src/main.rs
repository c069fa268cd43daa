//! The `kapso-gate` binary: parse, run, write reports, map the verdict to an exit code. Every
//! line it prints goes through `stdio`, the one place text leaves the process.

use kapso_gate::cli::{Args, Env};
use kapso_gate::comment;
use kapso_gate::exit::Exit;
use kapso_gate::output::{self, Outputs};
use kapso_gate::report::terminal::{self, Style};
use kapso_gate::report::{build, github, Report};
use kapso_gate::settings::{Inputs, Settings, UsageError};
use kapso_gate::{Interrupt, Progress};

mod console;
mod stdio;
use console::Console;
use std::io::IsTerminal;
use std::process::ExitCode;
use stdio::Stdio;
use tokio::sync::watch;

fn main() -> ExitCode {
    // Before anything reads the environment and while only this thread runs: an action input
    // (INPUT_*) beats the job's KAPSO_* variable, and an empty KAPSO_* variable means "not set".
    for (name, value) in kapso_gate::cli::action_input_overrides(std::env::vars_os()) {
        std::env::set_var(name, value);
    }
    for name in kapso_gate::cli::empty_kapso_vars(std::env::vars_os()) {
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
            return ExitCode::from(finish(report, &Outputs::from_env(&env), io, None).0);
        }
    };
    if !args.merge.is_empty() {
        return ExitCode::from(merge(&args, &env, io));
    }
    let settings = match Inputs::read(&args).and_then(|inputs| Settings::resolve_with(&args, &env, &inputs)) {
        Ok(settings) => settings,
        Err(error) => {
            let message = usage_message(&error, &env);
            io.err_line(&format!("kapso-gate: error: {message}"));
            let report = kapso_gate::usage_failure_report(&message, Some(&args));
            return ExitCode::from(finish(report, &Outputs::resolve(&args, &env), io, None).0);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            io.err_line(&format!(
                "kapso-gate: error: could not start the async runtime: {error}"
            ));
            return ExitCode::from(Exit::Incomplete.code());
        }
    };
    let style = Style {
        color: std::io::stdout().is_terminal() && !env.no_color,
    };
    if settings.dry_run {
        let result = runtime.block_on(kapso_gate::dry_run(&settings, watch::channel(None).1));
        io.out(&terminal::dry_run(&result));
        return ExitCode::from(result.exit.code());
    }
    let report = runtime.block_on(run(&settings, io, style));
    let (code, report) = finish(report, &settings.outputs, io, Some(style));
    if settings.pr_comment {
        runtime.block_on(comment_on_pull_request(&report, &env, &settings, io));
    }
    ExitCode::from(code)
}

/// Creates or updates the pull-request comment. Whatever happens, one line says so and nothing
/// else changes: not the exit code, not a report. Skipped when the job is being cancelled.
async fn comment_on_pull_request(report: &Report, env: &Env, settings: &Settings, io: Stdio) {
    if matches!(report.verdict, Exit::Interrupted | Exit::Terminated) {
        return;
    }
    let summary = kapso_gate::report::markdown::render(report, comment::body::SUMMARY_MAX_BYTES);
    let config = comment::CommentConfig::from_env(
        |name| std::env::var(name).ok(),
        env.comment_token.clone(),
        settings.comment_key.clone(),
    );
    let outcome = match config {
        Ok(config) => {
            let config = comment::CommentConfig {
                deadline: settings.comment_deadline,
                ..config
            };
            comment::publish(&config, &summary, &comment::RunContext::now()).await
        }
        Err(skip) => comment::CommentOutcome::Skipped(skip),
    };
    if io.github {
        io.commands(&outcome.github_line());
    } else {
        io.err_line(&format!("kapso-gate: {outcome}"));
    }
}

/// `--merge`: one report from the shards' reports, written like a run's; nothing is sent.
fn merge(args: &Args, env: &Env, io: Stdio) -> u8 {
    let outputs = Outputs::resolve(args, env);
    let inputs = kapso_gate::merge::input_paths(&args.merge);
    match kapso_gate::merge::load(&inputs).and_then(kapso_gate::merge::merge) {
        Ok(report) => {
            let style = Style {
                color: std::io::stdout().is_terminal() && !env.no_color,
            };
            finish(report, &outputs, io, Some(style)).0
        }
        Err(error) => {
            io.err_line(&format!("kapso-gate: error: {error}"));
            let report = kapso_gate::usage_failure_report(&error.to_string(), Some(args));
            finish(report, &outputs, io, None).0
        }
    }
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
            .and_then(|p| std::fs::read_to_string(p).ok())
            .is_some_and(|event| kapso_gate::cli::is_fork_pull_request(&event));
    if fork {
        format!("{error}. This run is for a pull request from a fork: GitHub does not pass secrets to workflows triggered from forks, so the gate cannot run here (see Troubleshooting in the README)")
    } else {
        error.to_string()
    }
}

/// Settles the outcome, then prints the summary (when `style` is given) and the GitHub
/// annotations and writes every report, on every exit path. A gate that passed but cannot
/// write a requested report exits 4, and every report says so.
fn finish(report: Report, outputs: &Outputs, io: Stdio, style: Option<Style>) -> (u8, Report) {
    let (opened, mut problems) = output::open(outputs);
    let report = build::settle(report, &problems);
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
    problems.extend(output::write(opened, &report));
    for problem in &problems {
        io.err_line(&format!("kapso-gate: error: {problem}"));
    }
    let mut code = report.exit_code;
    if code == Exit::Passed.code() && !problems.is_empty() {
        // Written after the outcome was settled (a disk that filled up): still fail closed.
        code = Exit::Incomplete.code();
    }
    (code, report)
}

async fn run(settings: &Settings, io: Stdio, style: Style) -> Report {
    let (stop_tx, stop_rx) = watch::channel(None);
    tokio::spawn(listen_for_signals(stop_tx, io));
    let mut console = Console::new(settings, style, io);
    let mut observer = |progress: Progress<'_>| console.progress(settings, progress);
    kapso_gate::run(settings, stop_rx, &mut observer).await
}

/// The first SIGINT or SIGTERM (Ctrl-C or Ctrl-Break on Windows) asks the gate to stop (reports
/// are still written); a second one exits at once.
async fn listen_for_signals(stop: watch::Sender<Option<Interrupt>>, io: Stdio) {
    let Some(mut signals) = Signals::new() else {
        return;
    };
    let mut received: Option<Interrupt> = None;
    loop {
        let (interrupt, name) = signals.recv().await;
        if let Some(first) = received {
            io.err_line("kapso-gate: second signal, exiting now");
            std::process::exit(i32::from(kapso_gate::verdict::interrupt_exit(first).code()));
        }
        io.err_line(&format!(
            "kapso-gate: {name} received, stopping (send it again to exit at once)"
        ));
        received = Some(interrupt);
        let _ = stop.send(Some(interrupt));
    }
}

#[cfg(unix)]
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> Option<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Some(Self {
            int: signal(SignalKind::interrupt()).ok()?,
            term: signal(SignalKind::terminate()).ok()?,
        })
    }

    async fn recv(&mut self) -> (Interrupt, &'static str) {
        // Biased: when both are pending, SIGINT came first (the kernel delivers the lower number first).
        let interrupt = tokio::select! {
            biased;
            _ = self.int.recv() => Interrupt::Sigint,
            _ = self.term.recv() => Interrupt::Sigterm,
        };
        (interrupt, interrupt.name())
    }
}

/// Windows has no SIGTERM. Ctrl-C is the interrupt (exit 130, as SIGINT); Ctrl-Break is what
/// the GitHub runner sends after Ctrl-C when a cancelled step does not stop, the place SIGTERM
/// takes on Linux, so it maps to `Sigterm` (exit 143).
#[cfg(windows)]
struct Signals {
    ctrl_c: tokio::signal::windows::CtrlC,
    ctrl_break: tokio::signal::windows::CtrlBreak,
}

#[cfg(windows)]
impl Signals {
    fn new() -> Option<Self> {
        Some(Self {
            ctrl_c: tokio::signal::windows::ctrl_c().ok()?,
            ctrl_break: tokio::signal::windows::ctrl_break().ok()?,
        })
    }

    async fn recv(&mut self) -> (Interrupt, &'static str) {
        tokio::select! {
            biased;
            _ = self.ctrl_c.recv() => (Interrupt::Sigint, "Ctrl-C"),
            _ = self.ctrl_break.recv() => (Interrupt::Sigterm, "Ctrl-Break"),
        }
    }
}
