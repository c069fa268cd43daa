//! The trials benchmark: how many runs `--trials MIN..MAX` spends per case against a fixed
//! `--trials MAX`, by simulation of the judge's scores (no network, no simulator server).
//!
//! ```text
//! cargo run --release --example trials                    # 20,000 cases per row
//! cargo run --release --example trials -- --cases 100000 --confidence 0.9
//! ```
//!
//! For true mean scores 0.3, 0.5, 0.7, 0.8, 0.9 and 1.0 at threshold 0.8, MIN 2 and MAX 10 or
//! 20, and three judges (a steady Beta judge, a scattered Beta judge and a bimodal judge that
//! gives only 0 or 1), it prints a Markdown table: the expected runs per case, the saving
//! against MAX, the decision mix (certain pass, certain fail, inconclusive at MAX) and the rate
//! of wrong certain decisions. A mean of 1.0 is a judge that always gives 1.

use kapso_gate::confidence::{Decision, Sequential, Trials};

const THRESHOLD: f64 = 0.8;
const MEANS: [f64; 6] = [0.3, 0.5, 0.7, 0.8, 0.9, 1.0];

#[path = "../src/policy/confidence/judges.rs"]
#[expect(dead_code, reason = "the benchmark samples two of the judges the unit tests use")]
mod judges;
use judges::{Judge, Rng};

/// Totals over the simulated cases of one row.
#[derive(Debug, Default)]
struct Row {
    runs: u64,
    pass: u64,
    fail: u64,
    inconclusive: u64,
    wrong: u64,
}

fn simulate(judge: Judge, mean: f64, trials: Trials, confidence: f64, cases: u64, rng: &mut Rng) -> Row {
    let mut row = Row::default();
    for _ in 0..cases {
        let mut sequence = Sequential::new(confidence, THRESHOLD).expect("valid confidence");
        let mut done = 0;
        while trials.wants_more(done, sequence.decision()) {
            sequence.push(judge.sample(mean, rng)).expect("scores in [0, 1]");
            done += 1;
        }
        row.runs += u64::from(done);
        match sequence.decision() {
            Decision::Pass => {
                row.pass += 1;
                row.wrong += u64::from(mean < THRESHOLD);
            }
            Decision::Fail => {
                row.fail += 1;
                row.wrong += u64::from(mean >= THRESHOLD);
            }
            Decision::Undecided => row.inconclusive += 1,
        }
    }
    row
}

fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cases: u64 = option(&args, "--cases").map_or(20_000, |v| v.parse().expect("--cases N"));
    let confidence: f64 = option(&args, "--confidence").map_or(0.95, |v| v.parse().expect("--confidence C"));
    let mut rng = Rng(0x7472_6961_6c73);
    println!("Threshold {THRESHOLD}, confidence {confidence}, MIN 2, {cases} simulated cases per row.\n");
    println!("| judge | MAX | true mean | runs per case | saving vs MAX | pass | fail | inconclusive | wrong |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for judge in [Judge::Beta(10.0), Judge::Beta(4.0), Judge::TwoPoint] {
        for max in [10, 20] {
            for mean in MEANS {
                let trials = Trials::Sequential { min: 2, max };
                let row = simulate(judge, mean, trials, confidence, cases, &mut rng);
                let share = |n: u64| format!("{:.1} %", 100.0 * n as f64 / cases as f64);
                let runs = row.runs as f64 / cases as f64;
                println!(
                    "| {} | {max} | {mean} | {runs:.2} | {:.0} % | {} | {} | {} | {} |",
                    judge.name(),
                    100.0 * (1.0 - runs / f64::from(max)),
                    share(row.pass),
                    share(row.fail),
                    share(row.inconclusive),
                    share(row.wrong),
                );
            }
        }
    }
}
