//! The trials benchmark, by simulation of the judge's scores (no network, no simulator server).
//!
//! ```text
//! cargo run --release --example trials                    # 20,000 cases per row
//! cargo run --release --example trials -- --cases 100000 --confidence 0.9
//! ```
//!
//! Table 1, the one-sided rule's savings: for thresholds 0.5 and 0.8, MIN 2 and MAX 10 or 20,
//! a steady Beta judge and a 0/1 judge, the expected runs per case of `--trials MIN..MAX`
//! against a fixed `--trials MAX`, with the bar split between the two sides (`before`: each
//! side at `(1 - C) / 2`) and not split (`after`: each side at `1 - C`, what the gate does),
//! and the rate of wrong certain decisions after.
//!
//! Table 2, the regression gate (`confidence::RegressionSequence`): a baseline of 20 trials at
//! mean 0.9, today's trials from 2 up to 20, stopping at the first certain decision; the rate
//! of `regressed` at true drops of 0, delta and 2 delta (the first two are false alarms), and
//! the runs used today.

use kapso_gate::policy::confidence::{Decision, Regression, RegressionSequence, Sequential, Trials};

#[path = "../src/policy/confidence/judges.rs"]
#[expect(dead_code, reason = "the benchmark samples two of the judges the unit tests use")]
mod judges;
use judges::{Judge, Rng};

const JUDGES: [Judge; 2] = [Judge::Beta(10.0), Judge::TwoPoint];

/// Totals over the simulated cases of one row.
#[derive(Debug, Default)]
struct Row {
    runs: u64,
    wrong: u64,
}

/// One setting of table 1.
#[derive(Debug, Clone, Copy)]
struct Setting {
    judge: Judge,
    threshold: f64,
    mean: f64,
    trials: Trials,
}

/// Runs `cases` simulated cases at `confidence` (the "before" rule is the same test at
/// `1 - (1 - C) / 2`, which puts each side's bar at `2 / (1 - C)`).
fn simulate(setting: Setting, confidence: f64, cases: u64, rng: &mut Rng) -> Row {
    let mut row = Row::default();
    for _ in 0..cases {
        let mut sequence = Sequential::new(confidence, setting.threshold).expect("valid confidence");
        let mut done = 0;
        while setting.trials.wants_more(done, sequence.decision()) {
            sequence
                .push(setting.judge.sample(setting.mean, rng))
                .expect("scores in [0, 1]");
            done += 1;
        }
        row.runs += u64::from(done);
        row.wrong += u64::from(match sequence.decision() {
            Decision::Pass => setting.mean < setting.threshold,
            Decision::Fail => setting.mean >= setting.threshold,
            Decision::Undecided => false,
        });
    }
    row
}

fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn savings(cases: u64, confidence: f64, rng: &mut Rng) {
    println!("Savings of MIN..MAX against a fixed MAX, confidence {confidence}, MIN 2, {cases} cases per row.\n");
    println!("| judge | threshold | MAX | true mean | runs before | saving before | runs after | saving after | wrong after |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let split = 1.0 - (1.0 - confidence) / 2.0;
    for judge in JUDGES {
        for threshold in [0.5, 0.8] {
            for max in [10, 20] {
                for mean in [0.3, 0.5, 0.7, 0.8, 0.9, 1.0] {
                    let trials = Trials::Sequential { min: 2, max };
                    let setting = Setting {
                        judge,
                        threshold,
                        mean,
                        trials,
                    };
                    let before = simulate(setting, split, cases, rng);
                    let after = simulate(setting, confidence, cases, rng);
                    let runs = |row: &Row| row.runs as f64 / cases as f64;
                    let saving = |row: &Row| 100.0 * (1.0 - runs(row) / f64::from(max));
                    println!(
                        "| {} | {threshold} | {max} | {mean} | {:.2} | {:.0} % | {:.2} | {:.0} % | {:.1} % |",
                        judge.name(),
                        runs(&before),
                        saving(&before),
                        runs(&after),
                        saving(&after),
                        100.0 * after.wrong as f64 / cases as f64,
                    );
                }
            }
        }
    }
}

fn regression(cases: u64, confidence: f64, rng: &mut Rng) {
    let (base_mean, baseline_trials, max) = (0.9, 20, 20);
    println!("\nRegression gate: baseline {baseline_trials} trials at mean {base_mean}, today 2..{max} trials, confidence {confidence}, {cases} cases per row.\n");
    println!("| judge | delta | true drop | regressed | held | inconclusive | runs today |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for judge in JUDGES {
        for delta in [0.05, 0.1] {
            for drop in [0.0, delta, 2.0 * delta] {
                let (mut regressed, mut held, mut runs) = (0u64, 0u64, 0u64);
                for _ in 0..cases {
                    let baseline: Vec<f64> = (0..baseline_trials).map(|_| judge.sample(base_mean, rng)).collect();
                    let mut sequence = RegressionSequence::new(&baseline, delta, confidence).expect("valid");
                    let mut used = 0;
                    let decision = loop {
                        sequence.push(judge.sample(base_mean - drop, rng)).expect("in range");
                        used += 1;
                        let decision = sequence.comparison_decision();
                        if (used >= 2 && decision != Regression::Inconclusive) || used == max {
                            break decision;
                        }
                    };
                    regressed += u64::from(decision == Regression::Regressed);
                    held += u64::from(decision == Regression::Held);
                    runs += used;
                }
                let share = |n: u64| format!("{:.1} %", 100.0 * n as f64 / cases as f64);
                println!(
                    "| {} | {delta} | {drop:.2} | {} | {} | {} | {:.2} |",
                    judge.name(),
                    share(regressed),
                    share(held),
                    share(cases - regressed - held),
                    runs as f64 / cases as f64,
                );
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cases: u64 = option(&args, "--cases").map_or(20_000, |v| v.parse().expect("--cases N"));
    let confidence: f64 = option(&args, "--confidence").map_or(0.95, |v| v.parse().expect("--confidence C"));
    let mut rng = Rng(0x7472_6961_6c73);
    savings(cases, confidence, &mut rng);
    regression(cases / 4, confidence, &mut rng);
}
