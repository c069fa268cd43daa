//! The regression gate in reports: the one baseline check a report is built and read back
//! with, each case's record (`regression` in the JSON), the summary every report leads with
//! (`regression_summary`: the counts, the suite's mean difference, the flips), and the words
//! every human-facing renderer shares ("2 regressed, 1 fixed", one line per flip, one phrase
//! per case). The types are the model's; the rules are `policy::regression_gate`'s.

use super::model::{
    CaseReport, DifferenceInterval, FlipDirection, FlipRecord, RegressionRecord, RegressionSummary, SuiteRecord,
};
use super::text::{fmt_delta as signed, fmt_score};
use crate::policy::regression_gate::{self, BaselineCase, CaseRegression, Outcome};
use crate::policy::verdict::{self, BaselineCheck, Certainty, Status};

/// The record of one case's comparison.
pub fn record(
    regression: &CaseRegression,
    baseline: Option<(Status, BaselineCase<'_>)>,
    margin: Option<f64>,
    confidence: f64,
) -> RegressionRecord {
    let comparison = regression.comparison;
    RegressionRecord {
        decision: regression.outcome,
        statistical: regression.statistical,
        gated: margin.is_some(),
        margin: margin.unwrap_or(0.0),
        confidence,
        baseline_mean: comparison.map(|c| c.baseline_mean),
        mean: comparison.map(|c| c.today_mean),
        difference: comparison.map(|c| c.difference),
        interval: comparison.and_then(|c| {
            Some(DifferenceInterval {
                lower: c.lower?,
                upper: c.upper?,
                confidence,
            })
        }),
        baseline_status: baseline.map(|b| b.0),
        baseline_scores: baseline.map(|b| b.1.scores.to_vec()).unwrap_or_default(),
        baseline_definition_digest: baseline.and_then(|b| b.1.definition_digest.map(str::to_owned)),
    }
}

/// The summary of `cases` against their baseline; `None` when no case was compared.
pub fn summary(cases: &[CaseReport]) -> Option<RegressionSummary> {
    let first = cases.iter().find_map(|c| c.regression.as_ref())?;
    let mut summary = RegressionSummary {
        margin: first.margin,
        confidence: first.confidence,
        gated: first.gated,
        held: 0,
        regressed: 0,
        inconclusive: 0,
        not_comparable: 0,
        no_baseline: 0,
        fixed: 0,
        suite: None,
        flips: Vec::new(),
    };
    let mut shared: Vec<(&[f64], Vec<f64>)> = Vec::new();
    for case in cases {
        let Some(record) = &case.regression else { continue };
        *match record.decision {
            Outcome::Held => &mut summary.held,
            Outcome::Regressed => &mut summary.regressed,
            Outcome::Inconclusive => &mut summary.inconclusive,
            Outcome::NotComparable => &mut summary.not_comparable,
            Outcome::NoBaseline => &mut summary.no_baseline,
        } += 1;
        if let Some(flip) = flip(case, record) {
            summary.fixed += usize::from(flip.direction == FlipDirection::Fixed);
            summary.flips.push(flip);
        }
        if record.statistical && record.interval.is_some() && case.blocking {
            // Only the trials whose number was fixed before any score was seen (MIN, or all N):
            // the suite's bound holds for such samples, not for trials added after looking.
            let fixed = fixed_trials(case);
            let baseline = &record.baseline_scores[..record.baseline_scores.len().min(fixed)];
            shared.push((
                baseline,
                case.trials.iter().filter_map(|t| t.score).take(fixed).collect(),
            ));
        }
    }
    let pairs: Vec<(&[f64], &[f64])> = shared.iter().map(|(b, t)| (*b, t.as_slice())).collect();
    summary.suite = regression_gate::suite(&pairs, summary.margin, summary.confidence).map(|suite| SuiteRecord {
        decision: regression_gate::suite_outcome(&suite),
        cases: pairs.len(),
        mean_difference: suite.mean_difference,
        interval: suite.lower.zip(suite.upper).map(|(lower, upper)| DifferenceInterval {
            lower,
            upper,
            confidence: summary.confidence,
        }),
    });
    Some(summary)
}

/// How many of a case's trials ran whatever their scores: all N of a fixed count, or MIN of
/// `MIN..MAX` (the baseline is taken to have run under the same spec).
fn fixed_trials(case: &CaseReport) -> usize {
    let spec = case
        .trials_spec
        .as_deref()
        .and_then(|t| t.parse::<crate::policy::confidence::Trials>().ok());
    spec.map_or(case.trials.len(), |t| t.min() as usize)
}

fn flip(case: &CaseReport, record: &RegressionRecord) -> Option<FlipRecord> {
    let baseline_status = record.baseline_status?;
    let regressed = regression_gate::flip(baseline_status, case.status)?;
    Some(FlipRecord {
        test_case_id: case.test_case_id.clone(),
        name: case.name.clone(),
        direction: if regressed {
            FlipDirection::Regressed
        } else {
            FlipDirection::Fixed
        },
        baseline_status,
        status: case.status,
    })
}

impl RegressionSummary {
    /// `2 regressed, 1 fixed`: what every summary says first.
    pub fn headline(&self) -> String {
        format!("{} regressed, {} fixed", self.regressed, self.fixed)
    }

    /// The rest of the counts and the suite, in one line.
    pub fn details(&self) -> String {
        let mut parts = vec![format!(
            "{} held, {} inconclusive, {} not comparable (definition changed), {} without baseline",
            self.held, self.inconclusive, self.not_comparable, self.no_baseline
        )];
        if let Some(suite) = &self.suite {
            parts.push(suite.sentence(self.margin));
        }
        if !self.gated {
            parts.push("shown only: give --max-drop to gate on it".to_owned());
        }
        parts.join("; ")
    }

    /// Whether the suite rule fails the gate.
    pub fn suite_regressed(&self) -> bool {
        self.gated && self.suite.as_ref().is_some_and(|s| s.decision == Outcome::Regressed)
    }

    /// One line per flip; `label` shapes the case's name for its surface.
    pub fn flip_lines(&self, label: impl Fn(&FlipRecord) -> String) -> Vec<String> {
        self.flips
            .iter()
            .map(|flip| {
                let what = match flip.direction {
                    FlipDirection::Regressed => "newly failing",
                    FlipDirection::Fixed => "fixed",
                };
                format!("{what}: {} ({} -> {})", label(flip), flip.baseline_status, flip.status)
            })
            .collect()
    }
}

impl SuiteRecord {
    /// `suite over 12 cases: mean change -0.08 in [-0.12, -0.06] at 95 %, regressed (margin 0.05)`.
    pub fn sentence(&self, margin: f64) -> String {
        let interval = self.interval.map_or_else(String::new, |i| {
            format!(
                " in [{}, {}] at {} %",
                signed(i.lower),
                signed(i.upper),
                fmt_score(i.confidence * 100.0)
            )
        });
        format!(
            "suite over {} case(s): mean change {}{interval}, {} (margin {})",
            self.cases,
            signed(self.mean_difference),
            self.decision.name(),
            fmt_score(margin)
        )
    }
}

impl RegressionRecord {
    /// `regression held (change -0.02 in [-0.1, +0.05] at 95 %)`: the phrase every renderer
    /// shows beside a case's score.
    pub fn phrase(&self) -> String {
        let word = self.decision.name().replace('_', " ");
        let mut facts = Vec::new();
        if let Some(difference) = self.difference {
            facts.push(format!("change {}", signed(difference)));
        }
        if let Some(i) = self.interval {
            facts.push(format!(
                "in [{}, {}] at {} %",
                signed(i.lower),
                signed(i.upper),
                fmt_score(i.confidence * 100.0)
            ));
        } else if self.difference.is_some() && !self.statistical {
            facts.push("raw drop: one trial on a side".to_owned());
        }
        if facts.is_empty() {
            format!("regression {word}")
        } else {
            format!("regression {word} ({})", facts.join(" "))
        }
    }
}

/// A case's baseline, as a report is built or read back.
#[derive(Debug, Clone, Copy)]
pub struct Against<'a> {
    /// The baseline's status and trials for the case; `None` when it does not have the case.
    pub entry: Option<(Status, BaselineCase<'a>)>,
    /// The baseline's aggregate score for the case (what the raw drop compares).
    pub score: Option<f64>,
    /// `--max-drop`: the margin that gates; `None` shows the comparison only (margin 0).
    pub margin: Option<f64>,
    /// Today's fingerprint of the case's definition.
    pub digest: Option<&'a str>,
}

/// The one baseline rule a report is built and read back with: the regression comparison of
/// today's scored trials (`today`), what it does to the judged status, and the raw drop where
/// that still applies (one trial on a side, or inconclusive under `--inconclusive estimate`).
pub fn check(
    judged: (Status, Option<f64>),
    today: &[f64],
    against: Against<'_>,
    certainty: &Certainty,
) -> (BaselineCheck, RegressionRecord) {
    let (status, score) = judged;
    let regression = regression_gate::judge(
        against.entry.map(|e| e.1),
        against.digest,
        today,
        against.margin.unwrap_or(0.0),
        certainty.confidence,
    );
    let record = record(&regression, against.entry, against.margin, certainty.confidence);
    let shown = verdict::apply_baseline(status, score, against.score, None);
    let failure = against
        .margin
        .and_then(|margin| regression_gate::failure(status, &regression, certainty, margin));
    let check = match failure {
        Some(reason) => BaselineCheck {
            status: Status::Failed,
            delta: shown.delta,
            reason: Some(reason),
        },
        None if regression_gate::raw_drop_applies(&regression) => {
            verdict::apply_baseline(status, score, against.score, against.margin)
        }
        // Held or regressed by the statistics, or not compared: the raw drop has no say.
        None if regression.outcome == Outcome::NotComparable || regression.outcome == Outcome::NoBaseline => {
            BaselineCheck { delta: None, ..shown }
        }
        None => shown,
    };
    (check, record)
}

impl super::model::Report {
    /// The regression lines every human-facing renderer shows, in this order: the headline
    /// (`regression: 2 regressed, 1 fixed`), the other counts and the suite, then one line per
    /// flip. `part` shapes untrusted text (names, IDs) for its surface. Empty without a baseline.
    pub fn regression_lines_with(&self, part: impl Fn(&str) -> String) -> Vec<String> {
        let Some(summary) = &self.regression_summary else {
            return Vec::new();
        };
        let mut lines = vec![
            format!("regression: {}", summary.headline()),
            format!("regression details: {}", summary.details()),
        ];
        lines.extend(summary.flip_lines(|flip| {
            let id = part(&flip.test_case_id);
            match flip.name.as_deref().filter(|n| *n != flip.test_case_id) {
                Some(name) => format!("{} ({id})", part(name)),
                None => id,
            }
        }));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::confidence::{Inconclusive, Trials};
    use crate::report::test_fixtures::{case, report};

    fn certainty() -> Certainty {
        Certainty {
            trials: Trials::Fixed(1),
            confidence: 0.95,
            inconclusive: Inconclusive::Estimate,
        }
    }

    /// `id` checked against a baseline of one trial at `base` with status `was`.
    fn compared(id: &str, now: Status, score: f64, was: Status, base: f64) -> CaseReport {
        let mut case = case(id, now);
        let scores = [base];
        let against = Against {
            entry: Some((
                was,
                BaselineCase {
                    scores: &scores,
                    definition_digest: None,
                },
            )),
            score: Some(base),
            margin: Some(0.05),
            digest: None,
        };
        let (_, record) = check((now, Some(score)), &[score], against, &certainty());
        case.regression = Some(record);
        case
    }

    #[test]
    fn the_raw_drop_decides_with_one_trial_and_fails_a_passing_case() {
        let scores = [0.9];
        let against = Against {
            entry: Some((
                Status::Passed,
                BaselineCase {
                    scores: &scores,
                    definition_digest: Some("a"),
                },
            )),
            score: Some(0.9),
            margin: Some(0.05),
            digest: Some("a"),
        };
        let (checked, record) = check((Status::Passed, Some(0.8)), &[0.8], against, &certainty());
        assert_eq!(checked.status, Status::Failed);
        assert_eq!(
            (record.decision, record.statistical, record.gated),
            (Outcome::Regressed, false, true)
        );
        assert_eq!(
            record.phrase(),
            "regression regressed (change -0.1 raw drop: one trial on a side)"
        );
        let changed = Against {
            digest: Some("b"),
            ..against
        };
        let (checked, record) = check((Status::Passed, Some(0.8)), &[0.8], changed, &certainty());
        assert_eq!((checked.status, checked.delta), (Status::Passed, None));
        assert_eq!(record.phrase(), "regression not comparable");
    }

    #[test]
    fn the_summary_leads_with_regressed_and_fixed_then_the_flips() {
        let mut r = report(vec![
            compared("p", Status::Failed, 0.5, Status::Passed, 0.9),
            compared("f", Status::Passed, 0.9, Status::Failed, 0.5),
            case("n", Status::Passed),
        ]);
        r.regression_summary = summary(&r.cases);
        assert_eq!(
            r.regression_lines_with(str::to_owned),
            vec![
                "regression: 1 regressed, 1 fixed".to_owned(),
                "regression details: 1 held, 0 inconclusive, 0 not comparable (definition changed), 0 without baseline"
                    .to_owned(),
                "newly failing: Case p (p) (passed -> failed)".to_owned(),
                "fixed: Case f (f) (failed -> passed)".to_owned(),
            ]
        );
        let summary = r.regression_summary.as_ref().expect("summary");
        assert_eq!((summary.fixed, summary.suite.as_ref()), (1, None));
    }
}
