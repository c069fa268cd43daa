//! The `kapso-sim` binary: serves a scenario file until SIGTERM/SIGINT.
//!
//! `kapso-sim --scenario FILE.json [--port N] [--host 127.0.0.1]` prints exactly one line,
//! `listening on http://HOST:PORT/api/v1`, then serves.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use kapso_sim::{Scenario, Sim};

const USAGE: &str = "usage: kapso-sim --scenario FILE.json [--port N] [--host 127.0.0.1]";

#[derive(Debug)]
struct Args {
    scenario: String,
    host: IpAddr,
    port: u16,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut scenario = None;
    let mut host: IpAddr = [127, 0, 0, 1].into();
    let mut port = 0;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_owned());
        }
        let value = inline
            .or_else(|| args.next())
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--scenario" => scenario = Some(value),
            "--port" => port = value.parse().map_err(|_| format!("bad port {value:?}"))?,
            "--host" => {
                host = match value.as_str() {
                    "localhost" => [127, 0, 0, 1].into(),
                    _ => value.parse().map_err(|_| format!("bad host {value:?}"))?,
                }
            }
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        }
    }
    let scenario = scenario.ok_or_else(|| format!("--scenario is required\n{USAGE}"))?;
    Ok(Args { scenario, host, port })
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let scenario = match Scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("kapso-sim: {message}");
            return ExitCode::from(2);
        }
    };
    let sim = match Sim::start_at(scenario, SocketAddr::new(args.host, args.port)) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("kapso-sim: cannot listen on {}:{}: {e}", args.host, args.port);
            return ExitCode::from(1);
        }
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on {}", sim.base_url());
    let _ = stdout.flush();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kapso-sim: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(wait_for_signal());
    drop(sim);
    ExitCode::SUCCESS
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        parse_args(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn parses_flags() {
        let args = parse(&["--scenario", "s.json", "--port=8080", "--host", "localhost"]).unwrap();
        assert_eq!(args.scenario, "s.json");
        assert_eq!(args.port, 8080);
        assert_eq!(args.host, IpAddr::from([127, 0, 0, 1]));
        assert!(parse(&[]).is_err());
        assert!(parse(&["--scenario"]).is_err());
        assert!(parse(&["--scenario", "x", "--bogus", "1"]).is_err());
    }
}
