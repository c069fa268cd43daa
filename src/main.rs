//! The `kapso-gate` binary: parse, run, write reports, map the verdict to an exit code.

use clap::Parser;
use kapso_gate::cli::{Args, Env};
use kapso_gate::exit::Exit;
use kapso_gate::output::{self, Outputs};
use kapso_gate::report::terminal::{self, Style};
use kapso_gate::scheduler::Interrupt;
use kapso_gate::settings::{Inputs, Settings};
use kapso_gate::{report, Progress};

mod console;
use console::Console;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
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
    if env.github_actions {
        if let Some(key) = env.api_key.as_ref().filter(|k| !k.expose().is_empty()) {
            print!("{}", output::github::add_mask(key.expose()));
        }
    }
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(error) => {
            let _ = error.print();
            if !error.use_stderr() {
                return ExitCode::SUCCESS; // --help, --version
            }
            // The report paths of the environment are still known: a usage error is reported.
            let message = error.kind().as_str().unwrap_or("invalid arguments").to_owned();
            let report = output::usage_failure_report(&format!("{message}; see kapso-gate --help"), None);
            return ExitCode::from(finish(&report, &Outputs::from_env(&env), &env));
        }
    };
    let outputs = Outputs::from_args(&args, &env);
    let settings = match Inputs::read(&args).and_then(|inputs| Settings::resolve_with(&args, &env, &inputs)) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("kapso-gate: error: {error}");
            let report = output::usage_failure_report(&error.to_string(), Some(&args));
            return ExitCode::from(finish(&report, &outputs, &env));
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("kapso-gate: error: could not start the async runtime: {error}");
            return ExitCode::from(Exit::Incomplete.code());
        }
    };
    if settings.dry_run {
        let result = runtime.block_on(kapso_gate::dry_run(&settings, watch::channel(None).1));
        console::print_dry_run(&result);
        return ExitCode::from(result.exit.code());
    }
    let report = runtime.block_on(run(&settings, &env));
    ExitCode::from(finish(&report, &outputs, &env))
}

/// GitHub annotations (after the summary) and every report file, on every exit path. Returns
/// the exit code: a gate that passed but could not write a requested report exits 4, so a
/// later step does not trip over a missing file without a reason.
fn finish(report: &report::Report, outputs: &Outputs, env: &Env) -> u8 {
    if env.github_actions {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(output::github::annotations(report).as_bytes());
        let _ = stdout.flush();
    }
    let problems = output::write_files(report, outputs);
    for problem in &problems {
        eprintln!("kapso-gate: error: {problem}");
    }
    if report.exit_code == Exit::Passed.code() && !problems.is_empty() {
        eprintln!(
            "kapso-gate: every case passed, but a requested report is missing: exiting {}",
            Exit::Incomplete.code()
        );
        return Exit::Incomplete.code();
    }
    report.exit_code
}

async fn run(settings: &Settings, env: &Env) -> report::Report {
    let style = Style {
        color: std::io::stdout().is_terminal() && !env.no_color,
    };
    let (stop_tx, stop_rx) = watch::channel(None);
    tokio::spawn(listen_for_signals(stop_tx));

    let mut console = Console::new(settings, style);
    let mut observer = |progress: Progress<'_>| console.progress(settings, progress);
    let report = kapso_gate::run(settings, stop_rx, &mut observer).await;
    print_summary(&report, style, env.github_actions);
    report
}

/// In GitHub Actions the summary quotes feedback, so it goes inside a stop-commands block.
fn print_summary(report: &report::Report, style: Style, github: bool) {
    let mut summary = terminal::summary(report, style);
    if github {
        summary = output::github::inert(&summary);
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(summary.as_bytes());
    let _ = stdout.flush();
}

/// The first SIGINT or SIGTERM (Ctrl-C or Ctrl-Break on Windows) asks the gate to stop (reports
/// are still written); a second one exits at once.
async fn listen_for_signals(stop: watch::Sender<Option<Interrupt>>) {
    let Some(mut signals) = Signals::new() else {
        return;
    };
    let mut received: Option<Interrupt> = None;
    loop {
        let (interrupt, name) = signals.recv().await;
        if let Some(first) = received {
            eprintln!("kapso-gate: second signal, exiting now");
            std::process::exit(i32::from(kapso_gate::interrupt_exit(first).code()));
        }
        eprintln!("kapso-gate: {name} received, stopping (send it again to exit at once)");
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
