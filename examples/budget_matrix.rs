//! The rate-budget matrix: drives the real `kapso-gate` binary against kapso-sim
//! (in this process, on 127.0.0.1) for every budget regime × run-duration shape × server
//! window, plus the pro-plan cell, and prints each cell's wall time over its lower bound and
//! its 429 count as a Markdown table.
//!
//! ```text
//! cargo run --release --example budget_matrix                  # the whole matrix, a few minutes
//! cargo run --release --example budget_matrix -- --scale 1     # real time: about an hour
//! ```
//!
//! Time is scaled (default 0.1: a 6 s window stands for Kapso's minute) through the gate's
//! hidden `KAPSO_RATE_WINDOW` knob; run durations, the poll interval and the server's windows
//! scale alike, so every ratio is what it would be at full scale. Figures below are quoted at
//! full scale.
//!
//! - Budget: 120 requests a minute (so that a ten-second window holds a whole 20), the gate at
//!   `--rate-limit 120`, poll interval 5 s, concurrency 8.
//! - Regimes: rich (6 cases: 2N = 12, polling every run at the interval fits), tight (60 cases:
//!   2N = 120, one window's budget), scarce (180 cases: 2N = 360, three windows).
//! - Shapes: equal (every run 30 s), spread (10 to 50 s, uniform), long tail (15 s to 90 s, most
//!   short: 15 s × (1 + 5u⁴)).
//! - Server windows: a sliding minute, a fixed minute, a sliding ten seconds (20 each), a token
//!   bucket (refilled at 120 a minute, holding 20). The headers announce 120 a minute in every
//!   mode, counted in a sliding minute, except the fixed window, which reports its own count.
//! - Lower bound: max(longest run + one poll interval, 2N requests at the budget's pace, that is
//!   (2N - 1) × 60 s / 120). "server bound" replaces the pace by the earliest the server's own rule
//!   admits 2N requests (a sliding or fixed minute admits 120 at once): what a gate that knew how
//!   the server counts could reach, at the price of 429s under every other rule.
//! - Pro plan: 80 cases of 1 s, the server enforcing and announcing 500 a minute, the gate with
//!   no `--rate-limit` (auto): bound max(1 s + 5 s, 159 × 60 s / 500).

use kapso_sim::{Announce, CaseSpec, RateLimit, RateMode, Scenario, Sim};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

#[path = "shared/release_binary.rs"]
mod release_binary;

const KEY: &str = "kg-matrix-key";
const MINUTE: f64 = 60.0;
const BUDGET: u32 = 120;
const POLL: f64 = 5.0;
const TARGET: f64 = 1.25;

#[derive(Debug, Clone, Copy)]
enum Regime {
    Rich,
    Tight,
    Scarce,
}

impl Regime {
    const ALL: [Regime; 3] = [Regime::Rich, Regime::Tight, Regime::Scarce];
    fn cases(self) -> usize {
        match self {
            Regime::Rich => 6,
            Regime::Tight => 60,
            Regime::Scarce => 180,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Regime::Rich => "rich",
            Regime::Tight => "tight",
            Regime::Scarce => "scarce",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Equal,
    Spread,
    LongTail,
}

impl Shape {
    const ALL: [Shape; 3] = [Shape::Equal, Shape::Spread, Shape::LongTail];
    /// Run `i` of `n`, in seconds at full scale. The quantile is shuffled by a stride coprime
    /// with `n` so that long runs are not all created last.
    fn duration(self, i: usize, n: usize) -> f64 {
        let stride = (1..n).rev().find(|s| gcd(*s, n) == 1 && *s * 3 > n).unwrap_or(1);
        let u = (((i * stride) % n) as f64 + 0.5) / n as f64;
        match self {
            Shape::Equal => 30.0,
            Shape::Spread => 10.0 + 40.0 * u,
            Shape::LongTail => 15.0 * (1.0 + 5.0 * u.powi(4)),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Shape::Equal => "equal",
            Shape::Spread => "spread",
            Shape::LongTail => "long tail",
        }
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[derive(Debug, Clone, Copy)]
enum Server {
    SlidingMinute,
    FixedMinute,
    SlidingTen,
    Bucket,
}

impl Server {
    const ALL: [Server; 4] = [
        Server::SlidingMinute,
        Server::FixedMinute,
        Server::SlidingTen,
        Server::Bucket,
    ];
    fn name(self) -> &'static str {
        match self {
            Server::SlidingMinute => "60 s sliding",
            Server::FixedMinute => "60 s fixed",
            Server::SlidingTen => "10 s sliding",
            Server::Bucket => "token bucket",
        }
    }
    /// The simulator's rule for a budget of `limit` a minute, at `scale`.
    fn rate_limit(self, limit: u32, scale: f64) -> RateLimit {
        let minute_ms = (MINUTE * 1000.0 * scale).round() as u64;
        let announce = Some(Announce {
            limit,
            window_ms: minute_ms,
        });
        let (limit, window_ms, mode, bucket, announce) = match self {
            Server::SlidingMinute => (limit, minute_ms, RateMode::Sliding, None, None),
            Server::FixedMinute => (limit, minute_ms, RateMode::Fixed, None, None),
            Server::SlidingTen => (limit / 6, minute_ms / 6, RateMode::Sliding, None, announce),
            Server::Bucket => (limit, minute_ms, RateMode::TokenBucket, Some(limit / 6), announce),
        };
        RateLimit {
            limit,
            window_ms,
            mode,
            bucket,
            announce,
            ..RateLimit::default()
        }
    }
    /// The earliest (full-scale seconds) this server admits the last of `requests`.
    fn admits_by(self, requests: usize, limit: u32) -> f64 {
        let k = requests.saturating_sub(1) as f64;
        let l = f64::from(limit);
        match self {
            Server::SlidingMinute | Server::FixedMinute => (k / l).floor() * MINUTE,
            Server::SlidingTen => (k / (l / 6.0)).floor() * MINUTE / 6.0,
            Server::Bucket => (k + 1.0 - l / 6.0).max(0.0) * MINUTE / l,
        }
    }
}

/// One cell's result, in full-scale seconds.
#[derive(Debug)]
struct Cell {
    regime: String,
    shape: String,
    server: String,
    wall: f64,
    bound: f64,
    server_bound: f64,
    requests: usize,
    refused: usize,
    exit: i32,
}

impl Cell {
    fn ratio(&self) -> f64 {
        self.wall / self.bound
    }
    fn pass(&self) -> bool {
        self.exit == 0 && self.refused == 0 && self.ratio() <= TARGET
    }
}

fn main() {
    let scale = match parse_scale() {
        Ok(scale) => scale,
        Err(message) => {
            eprintln!("budget_matrix: {message}");
            std::process::exit(2);
        }
    };
    let gate = match release_binary::locate(true, "budget matrix") {
        Ok(gate) => gate,
        Err(message) => {
            eprintln!("budget_matrix: {message}");
            std::process::exit(2);
        }
    };
    println!(
        "kapso-gate budget matrix: {}, time scale {scale} (a {:.1} s window stands for 60 s)",
        gate.display(),
        MINUTE * scale
    );
    let mut cells = Vec::new();
    for server in Server::ALL {
        for regime in Regime::ALL {
            for shape in Shape::ALL {
                let cell = run_cell(&gate, scale, regime, shape, server);
                print_progress(&cell);
                cells.push(cell);
            }
        }
    }
    let pro = run_pro_cell(&gate, scale);
    print_progress(&pro);
    cells.push(pro);
    print_table(&cells, scale);
}

fn parse_scale() -> Result<f64, String> {
    let mut scale = 0.1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--scale" => {
                scale = args
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|s| s.is_finite() && (0.02..=1.0).contains(s))
                    .ok_or("--scale takes a number from 0.02 to 1")?;
            }
            "-h" | "--help" => {
                println!("usage: cargo run --release --example budget_matrix -- [--scale F]   (default 0.1)");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(scale)
}

fn run_cell(gate: &Path, scale: f64, regime: Regime, shape: Shape, server: Server) -> Cell {
    let n = regime.cases();
    let durations: Vec<f64> = (0..n).map(|i| shape.duration(i, n)).collect();
    let longest = durations.iter().copied().fold(0.0, f64::max);
    let paced = (2 * n - 1) as f64 * MINUTE / f64::from(BUDGET);
    let (wall, requests, refused, exit) =
        drive(gate, scale, &durations, server.rate_limit(BUDGET, scale), Some(BUDGET));
    Cell {
        regime: format!("{} ({n})", regime.name()),
        shape: shape.name().to_owned(),
        server: server.name().to_owned(),
        wall,
        bound: (longest + POLL).max(paced),
        server_bound: (longest + POLL).max(server.admits_by(2 * n, BUDGET)),
        requests,
        refused,
        exit,
    }
}

fn run_pro_cell(gate: &Path, scale: f64) -> Cell {
    const PRO: u32 = 500;
    let n = 80;
    let durations = vec![1.0; n];
    let rate = Server::SlidingMinute.rate_limit(PRO, scale);
    let (wall, requests, refused, exit) = drive(gate, scale, &durations, rate, None);
    let paced = (2 * n - 1) as f64 * MINUTE / f64::from(PRO);
    Cell {
        regime: format!("pro plan ({n})"),
        shape: "1 s".to_owned(),
        server: "60 s sliding, 500/min, auto".to_owned(),
        wall,
        bound: (1.0 + POLL).max(paced),
        server_bound: (1.0 + POLL).max(Server::SlidingMinute.admits_by(2 * n, PRO)),
        requests,
        refused,
        exit,
    }
}

/// Runs the gate once over runs of `durations` (full-scale seconds) against a simulator with
/// `rate`; `rate_limit` `None` leaves the gate at its default (auto). Returns the wall time in
/// full-scale seconds, the requests the simulator received, its 429s and the exit code.
fn drive(
    gate: &Path,
    scale: f64,
    durations: &[f64],
    rate: RateLimit,
    rate_limit: Option<u32>,
) -> (f64, usize, usize, i32) {
    let mut scenario = Scenario::new(KEY).rate_limit_with(rate);
    let ids: Vec<String> = (0..durations.len()).map(|i| format!("m-{i}")).collect();
    for (id, d) in ids.iter().zip(durations) {
        let ms = (d * 1000.0 * scale).round() as u64;
        scenario = scenario.case(CaseSpec::passing(id.clone(), 0.9).duration_ms(ms));
    }
    let sim = Sim::start(scenario);
    let ms = |seconds: f64| format!("{}ms", (seconds * 1000.0 * scale).round() as u64);
    let mut cmd = Command::new(gate);
    cmd.env_clear()
        .env("KAPSO_API_KEY", KEY)
        .env("KAPSO_BASE_URL", sim.base_url())
        .env("KAPSO_POLL_INTERVAL", ms(POLL))
        .env("KAPSO_RATE_WINDOW", ms(MINUTE))
        .env("KAPSO_CONCURRENCY", "8")
        .env("KAPSO_TIMEOUT", ms(3_600.0))
        .env("KAPSO_TEST_CASE_IDS", ids.join(","))
        .arg("--quiet")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(limit) = rate_limit {
        cmd.env("KAPSO_RATE_LIMIT", limit.to_string());
    }
    let started = Instant::now();
    let exit = cmd.status().map_or(-1, |s| s.code().unwrap_or(-1));
    let wall = started.elapsed().as_secs_f64() / scale;
    let requests = sim.requests();
    let refused = requests.iter().filter(|r| r.status == 429).count();
    (wall, requests.len(), refused, exit)
}

fn print_progress(cell: &Cell) {
    println!(
        "  {:<16} {:<10} {:<28} {:>7.1} s / {:>6.1} s = {:>5.2}x  (server bound {:>6.1} s)  {:>4} requests  {} x 429  exit {}  {}",
        cell.regime,
        cell.shape,
        cell.server,
        cell.wall,
        cell.bound,
        cell.ratio(),
        cell.server_bound,
        cell.requests,
        cell.refused,
        cell.exit,
        if cell.pass() { "PASS" } else { "MISS" }
    );
}

fn print_table(cells: &[Cell], scale: f64) {
    println!();
    println!("Time scale {scale}; figures at full scale. Target: wall / bound <= {TARGET}, no 429.");
    println!();
    println!("| regime (cases) | durations | server | wall | bound | wall / bound | wall / server bound | requests | 429s | result |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for c in cells {
        println!(
            "| {} | {} | {} | {:.1} s | {:.1} s | {:.2} | {:.2} | {} | {} | {} |",
            c.regime,
            c.shape,
            c.server,
            c.wall,
            c.bound,
            c.ratio(),
            c.wall / c.server_bound,
            c.requests,
            c.refused,
            if c.pass() { "PASS" } else { "MISS" }
        );
    }
    let met = cells.iter().filter(|c| c.pass()).count();
    println!();
    println!("{met} of {} cells meet the target", cells.len());
}
