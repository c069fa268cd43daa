//! The `kapso-gate` binary: parse, run, write reports, map the verdict to an exit code.

use clap::Parser;
use kapso_gate::cli::{Args, Env};
use kapso_gate::exit::Exit;
use kapso_gate::output::{self, Outputs};
use kapso_gate::report::terminal::{self, Style};
use kapso_gate::scheduler::{Event, Interrupt};
use kapso_gate::settings::{Settings, Verbosity};
use kapso_gate::{report, scheduler, Progress};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::watch;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { Exit::Usage.code() } else { 0 });
        }
    };
    let env = Env::from_process();
    let outputs = Outputs::from_args(&args, &env);
    let settings = match Settings::resolve(&args, &env) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("kapso-gate: error: {error}");
            return ExitCode::from(Exit::Usage.code());
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("kapso-gate: error: could not start the async runtime: {error}");
            return ExitCode::from(Exit::Incomplete.code());
        }
    };
    let report = runtime.block_on(run(&settings, &env));
    for problem in output::write_files(&report, &outputs) {
        eprintln!("kapso-gate: error: {problem}");
    }
    ExitCode::from(report.exit_code)
}

async fn run(settings: &Settings, env: &Env) -> report::Report {
    let style = Style {
        color: std::io::stdout().is_terminal() && !env.no_color,
    };
    let (stop_tx, stop_rx) = watch::channel(None);
    tokio::spawn(listen_for_signals(stop_tx));

    let verbosity = settings.verbosity;
    let threshold = settings.threshold;
    let timeout = settings.timeout;
    let duplicates = settings.duplicates_dropped;
    let mut names: Vec<String> = Vec::new();
    let mut trials_per_case = 1;
    let mut observer = |progress: Progress<'_>| match progress {
        Progress::Planned { plan, runs } => {
            names = plan
                .cases
                .iter()
                .map(|c| c.name.clone().unwrap_or_else(|| c.id.clone()))
                .collect();
            trials_per_case = runs / plan.cases.len().max(1);
            if verbosity > Verbosity::Quiet {
                eprintln!(
                    "{}",
                    terminal::start_line(
                        plan.cases.len(),
                        runs,
                        threshold,
                        timeout,
                        plan.duplicates_dropped.max(duplicates)
                    )
                );
            }
        }
        Progress::Run(event) => on_event(&event, &names, trials_per_case, threshold, verbosity, style),
    };
    let report = kapso_gate::run(settings, stop_rx, &mut observer).await;
    print_summary(&report, style);
    report
}

fn on_event(event: &Event<'_>, names: &[String], trials: usize, threshold: f64, verbosity: Verbosity, style: Style) {
    match event {
        Event::Decided { job, outcome } => {
            if verbosity == Verbosity::Quiet {
                return;
            }
            let trial = report::build::trial_report(job.trial, outcome, threshold);
            let name = match (&outcome.result, names.get(job.case)) {
                (scheduler::TrialResult::Finished(run), _)
                    if run.test_case.as_ref().and_then(|c| c.name.as_ref()).is_some() =>
                {
                    run.test_case.as_ref().and_then(|c| c.name.clone()).unwrap_or_default()
                }
                (_, Some(name)) => name.clone(),
                _ => job.test_case_id.clone(),
            };
            let line = terminal::decided_line(
                &name,
                trial.status,
                trial.score,
                threshold,
                trial.duration_ms.map(Duration::from_millis),
                Some((job.trial, trials)),
                style,
            );
            println!("{line}");
        }
        Event::Heartbeat { pending, elapsed } if verbosity > Verbosity::Quiet => {
            eprintln!("{}", terminal::heartbeat_line(*pending, *elapsed))
        }
        Event::RunCreated { job, run_id } if verbosity >= Verbosity::Verbose => {
            eprintln!(
                "created run {} for test case {}",
                terminal::sanitize(run_id, false),
                terminal::sanitize(&job.test_case_id, false)
            );
        }
        Event::Retrying { job, error, after } if verbosity >= Verbosity::Verbose => {
            eprintln!(
                "retrying test case {} in {}: {}",
                terminal::sanitize(&job.test_case_id, false),
                terminal::fmt_duration(*after),
                terminal::sanitize(&error.to_string(), false)
            );
        }
        _ => {}
    }
}

fn print_summary(report: &report::Report, style: Style) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(terminal::summary(report, style).as_bytes());
    let _ = stdout.flush();
}

/// The first SIGINT or SIGTERM asks the gate to stop (reports are still written); a second
/// one exits at once.
async fn listen_for_signals(stop: watch::Sender<Option<Interrupt>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return;
    };
    let mut received: Option<Interrupt> = None;
    loop {
        let interrupt = tokio::select! {
            _ = int.recv() => Interrupt::Sigint,
            _ = term.recv() => Interrupt::Sigterm,
        };
        if let Some(first) = received {
            eprintln!("kapso-gate: second signal, exiting now");
            std::process::exit(i32::from(kapso_gate::interrupt_exit(first).code()));
        }
        eprintln!(
            "kapso-gate: {} received, stopping (send it again to exit at once)",
            interrupt.name()
        );
        received = Some(interrupt);
        let _ = stop.send(Some(interrupt));
    }
}
