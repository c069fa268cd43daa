//! The terminal renderer: the start line, one line per decided run, heartbeats, and the final
//! table with the judge's feedback for every case that did not pass. Pure: values in, text out.
//! Untrusted text (names, feedback, errors) has control characters and bidirectional overrides
//! made visible, so it cannot move the cursor, recolour the terminal or reorder a line.

use super::model::{CaseReport, DryRunReport, Report};
use super::text::{
    fmt_delta, fmt_duration, fmt_duration_ms, fmt_score, sanitize, score_against, truncate_chars, NOTE_CHARS,
};
use crate::domain::outcome::FailureKind;
use crate::policy::verdict::Status;
use std::fmt::Write as _;
use std::time::Duration;

/// How output may look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// ANSI colours: only on a terminal and without `NO_COLOR`.
    pub color: bool,
}

/// The ANSI select-graphic-rendition codes the terminal output uses (`ESC [ code m`).
mod sgr {
    pub const BOLD: &str = "1";
    pub const RED: &str = "31";
    pub const GREEN: &str = "32";
    pub const YELLOW: &str = "33";
    pub const RESET: &str = "0";
}

/// Longest case name in the table (characters): the name column leaves room for the other five
/// on a common terminal width.
const NAME_COLUMN_CHARS: usize = 60;

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[{}m", sgr::RESET)
        } else {
            text.to_owned()
        }
    }
}

fn mark(status: Status, style: Style) -> String {
    match status {
        Status::Passed => style.paint(sgr::GREEN, "✓ PASS"),
        Status::Failed => style.paint(sgr::RED, "✗ FAIL"),
        Status::Errored => style.paint(sgr::RED, "✗ ERROR"),
        Status::Rejected => style.paint(sgr::YELLOW, "! REJECTED"),
        Status::Incomplete => style.paint(sgr::YELLOW, "? INCOMPLETE"),
        Status::Cancelled => style.paint(sgr::YELLOW, "- CANCELLED"),
    }
}

/// The first line: what is about to happen.
pub fn start_line(cases: usize, runs: usize, threshold: f64, timeout: Duration, duplicates: usize) -> String {
    let runs = if runs == cases {
        String::new()
    } else {
        format!(" ({runs} runs)")
    };
    let dups = match duplicates {
        0 => String::new(),
        1 => ", 1 duplicate ID dropped".to_owned(),
        n => format!(", {n} duplicate IDs dropped"),
    };
    let plural = if cases == 1 { "" } else { "s" };
    format!(
        "kapso-gate: {cases} test case{plural}{runs}, threshold {}, deadline {}{dups}",
        fmt_score(threshold),
        fmt_duration(timeout)
    )
}

/// One line when a run is decided.
pub fn decided_line(
    name: &str,
    status: Status,
    score: Option<f64>,
    threshold: f64,
    duration: Option<Duration>,
    trial: Option<(usize, usize)>,
    style: Style,
) -> String {
    let trial = match trial {
        Some((n, of)) if of > 1 => format!(" (trial {}/{of})", n + 1),
        _ => String::new(),
    };
    let duration = duration.map(|d| format!("  {}", fmt_duration(d))).unwrap_or_default();
    format!(
        "{}  {}{trial}  {}{duration}",
        mark(status, style),
        sanitize(name, false),
        score_against(score, threshold)
    )
}

/// The periodic sign of life.
pub fn heartbeat_line(pending: usize, elapsed: Duration) -> String {
    let plural = if pending == 1 { "" } else { "s" };
    format!(
        "... waiting for {pending} run{plural} ({} elapsed)",
        fmt_duration(elapsed)
    )
}

/// The end: one table row per case (non-passing first), the details of every case that did
/// not pass, and the verdict.
pub fn summary(report: &Report, style: Style) -> String {
    let mut out = String::new();
    let cases = report.cases_by_importance();
    if let Some(message) = &report.message {
        let _ = writeln!(
            out,
            "{}",
            style.paint(sgr::RED, &format!("error: {}", sanitize(message, false)))
        );
    }
    if !cases.is_empty() {
        let rows: Vec<[String; 6]> = cases
            .iter()
            .map(|c| {
                [
                    c.status.name().to_uppercase() + super::text::blocking_suffix(c.blocking),
                    truncate_chars(&sanitize(c.display_name(), false), NAME_COLUMN_CHARS),
                    c.score.map(fmt_score).unwrap_or_else(|| "-".into()),
                    fmt_score(c.threshold),
                    fmt_duration_ms(c.duration_ms),
                    row_details(c),
                ]
            })
            .collect();
        let with_details = rows.iter().any(|r| !r[5].is_empty());
        let header = ["STATUS", "CASE", "SCORE", "THRESHOLD", "DURATION", "DETAILS"];
        let columns = if with_details { 6 } else { 5 };
        let mut widths = header.map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String; 6]| {
            let mut text = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate().take(columns) {
                let pad = w.saturating_sub(cell.chars().count());
                text.push_str(cell);
                if i + 1 < columns {
                    text.push_str(&" ".repeat(pad + 2));
                }
            }
            text.trim_end().to_owned()
        };
        let _ = writeln!(out, "\n{}", line(&header.map(String::from)));
        for row in &rows {
            let _ = writeln!(out, "{}", line(row));
        }
    }
    for case in cases.iter().filter(|c| c.status != Status::Passed) {
        out.push_str(&details(case, style));
    }
    if !report.warnings.is_empty() {
        out.push('\n');
        for warning in &report.warnings {
            let _ = writeln!(
                out,
                "{}",
                style.paint(sgr::YELLOW, &format!("warning: {}", sanitize(warning, false)))
            );
        }
    }
    let running = report.still_running();
    if !running.is_empty() {
        let _ = writeln!(
            out,
            "\nStill executing on Kapso (the API cannot cancel runs): {}",
            running
                .iter()
                .map(|r| sanitize(r, false))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(shard) = report.shard_summary() {
        let _ = writeln!(out, "\n{shard}");
    }
    out.push_str(&spend_lines(report));
    if let Some(baseline) = report.baseline_summary_with(|text| truncate_chars(&sanitize(text, false), NOTE_CHARS)) {
        let _ = writeln!(out, "\n{baseline}");
    }
    for line in report.regression_lines_with(|text| truncate_chars(&sanitize(text, false), NOTE_CHARS)) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "\n{}", verdict_line(report, style));
    out
}

/// What the run spent: the sample and what it left out, and the runs created.
fn spend_lines(report: &Report) -> String {
    let mut out = String::new();
    if let Some(sample) = &report.sample {
        let left_out: Vec<String> = sample.left_out.iter().map(|id| sanitize(id, false)).collect();
        let _ = writeln!(
            out,
            "\n{} (--sample); left out, not failures: {}",
            capitalised(&sample.label()),
            left_out.join(", ")
        );
    }
    let _ = writeln!(out, "\n{} created", report.runs_label());
    out
}

/// The table's last column: trials, spread, baseline change, and the config note.
fn row_details(case: &CaseReport) -> String {
    case.details_with(|note| truncate_chars(&sanitize(note, false), NOTE_CHARS))
}

fn details(case: &CaseReport, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{} {}",
        mark(case.status, style),
        style.paint(sgr::BOLD, &sanitize(case.display_name(), false))
    );
    let mut ids = format!("test case {}", sanitize(&case.test_case_id, false));
    if let Some(run_id) = &case.run_id {
        let _ = write!(ids, ", run {}", sanitize(run_id, false));
    }
    if let Some(suite) = &case.suite_id {
        let _ = write!(ids, ", suite {}", sanitize(suite, false));
    }
    let _ = writeln!(out, "  {ids}");
    if case.score.is_some() {
        let _ = writeln!(out, "  score: {}", score_against(case.score, case.threshold));
    }
    if let Some(scores) = case.trial_scores() {
        let spread = case
            .score_spread
            .map(|s| format!(", spread {}", fmt_score(s)))
            .unwrap_or_default();
        let _ = writeln!(out, "  trials: {scores}{spread}");
    }
    if let (Some(base), Some(delta)) = (case.baseline_score, case.delta) {
        let _ = writeln!(out, "  baseline: {} (change {})", fmt_score(base), fmt_delta(delta));
    }
    if let Some(note) = &case.note {
        let _ = writeln!(out, "  note: {}", sanitize(note, false));
    }
    if let Some(reason) = &case.reason {
        let _ = writeln!(out, "  reason: {}", sanitize(reason, false));
    }
    if let Some(error) = case.error_beyond_reason() {
        let _ = writeln!(out, "  error: {}", sanitize(error, false));
    }
    if let Some(feedback) = case.feedback.as_deref().filter(|f| !f.trim().is_empty()) {
        let _ = writeln!(out, "  feedback:");
        for line in sanitize(feedback.trim_end(), true).lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// The last line: verdict and counts.
pub fn verdict_line(report: &Report, style: Style) -> String {
    let c = &report.counts;
    let mut parts = vec![format!("{} passed", c.passed)];
    for (n, label) in [
        (c.failed, "failed"),
        (c.errored, "errored"),
        (c.rejected, "rejected"),
        (c.incomplete, "incomplete"),
        (c.cancelled, "cancelled"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {label}"));
        }
    }
    if c.non_blocking > 0 {
        parts.push(format!("{} non-blocking", c.non_blocking));
    }
    let verdict = report.verdict.name().to_uppercase();
    let colour = if report.verdict.code() == 0 {
        sgr::GREEN
    } else {
        sgr::RED
    };
    let plural = if c.total == 1 { "" } else { "s" };
    format!(
        "{} ({} case{plural}: {}; exit {})",
        style.paint(colour, &format!("kapso-gate {verdict}")),
        c.total,
        parts.join(", "),
        report.exit_code
    )
}

/// The plan `--dry-run` prints.
pub fn dry_run(result: &DryRunReport) -> String {
    let mut out = String::new();
    if let Some(message) = &result.message {
        let _ = writeln!(out, "error: {}", sanitize(message, false));
    }
    if !result.cases.is_empty() {
        let _ = writeln!(
            out,
            "{:<10} {:<8} {:<9} {:<8} CASE",
            "CHECK", "TRIALS", "THRESHOLD", "BLOCKING"
        );
    }
    for case in &result.cases {
        let check = case
            .check
            .as_ref()
            .map_or_else(|(kind, _)| check_label(*kind), |()| "ok");
        let name = sanitize(
            super::text::display_name(case.name.as_deref(), &case.test_case_id),
            false,
        );
        let id = sanitize(&case.test_case_id, false);
        let label = if name == id { id } else { format!("{name} ({id})") };
        let _ = writeln!(
            out,
            "{:<10} {:<8} {:<9} {:<8} {label}",
            check,
            case.trials,
            fmt_score(case.threshold),
            if case.blocking { "yes" } else { "no" }
        );
        if let Err((_, reason)) = &case.check {
            let _ = writeln!(out, "           {}", sanitize(reason, false));
        }
        if let Some(least) = &case.least_trials {
            let _ = writeln!(
                out,
                "           {}",
                super::text::least_trials_line(least, case.trials.max())
            );
        }
    }
    let budget = if result.rate_limit == 0 {
        "no client-side rate limit".to_owned()
    } else {
        format!(
            "{} requests per {}",
            result.rate_limit,
            fmt_duration(result.rate_window)
        )
    };
    let _ = writeln!(
        out,
        "\n{} cases, {} runs{}. A real run needs at least {} requests ({} lookup{}, one creation and one poll per run); under {budget} that takes at least {}, plus the runs' own duration.",
        result.cases.len(),
        result.runs,
        if result.max_runs > result.runs {
            format!(" (up to {} while verdicts are uncertain)", result.max_runs)
        } else {
            String::new()
        },
        result.min_requests(),
        result.lookups,
        if result.lookups == 1 { "" } else { "s" },
        fmt_duration(result.min_time)
    );
    let _ = writeln!(out, "{}", dry_run_spend(result));
    let _ = writeln!(
        out,
        "Dry run: no runs were created ({} requests sent). Exit {} ({}).",
        result.requests_sent,
        result.exit.code(),
        result.exit.name()
    );
    out
}

/// The dry run's lines on what a real run spends: the runs needed, the cap, the sample.
fn dry_run_spend(result: &DryRunReport) -> String {
    let mut out = format!(
        "Runs needed: at least {}, at most {}, expected about {:.1} (assuming every case's judge scores steadily 0.1 from its threshold).",
        result.runs, result.max_runs, result.expected_runs
    );
    if let Some(cap) = result.run_cap {
        let fits = if result.runs <= cap {
            "every case's MIN trials fit"
        } else {
            "every case's MIN trials do not fit"
        };
        let _ = write!(out, "\nRun cap (--max-runs): {cap}; {fits}.");
    }
    if let Some(sample) = &result.sample {
        let left_out: Vec<String> = sample.left_out.iter().map(|id| sanitize(id, false)).collect();
        let _ = write!(
            out,
            "\n{}; left out: {}.",
            capitalised(&sample.label()),
            left_out.join(", ")
        );
    }
    out
}

/// `text` with its first letter upper-case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// One word for the dry run's table.
fn check_label(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::KeyRefused => "REFUSED",
        FailureKind::NotFound => "MISSING",
        FailureKind::Rejected => "REJECTED",
        FailureKind::Unavailable | FailureKind::Cancelled => "UNCHECKED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_line_says_commit_and_age_sanitised() {
        use crate::report::test_fixtures::{case, report};
        let mut r = report(vec![case("c1", Status::Passed)]);
        r.binding.baseline = Some(crate::report::BaselineRecord {
            commit: Some("abc\u{1b}[31m".into()),
            recorded_at: "2026-01-01T09:59:15.000Z".into(),
            age_ms: Some(45_000),
            max_age_ms: None,
        });
        let text = summary(&r, Style { color: false });
        assert!(
            text.contains("\n\nbaseline: commit abc\\u{1b}[31m, recorded 2026-01-01T09:59:15.000Z (45s old)\n"),
            "{text}"
        );
        r.binding.baseline = Some(crate::report::BaselineRecord {
            commit: None,
            recorded_at: "later".into(),
            age_ms: None,
            max_age_ms: None,
        });
        assert!(summary(&r, Style { color: false }).contains("baseline: commit unknown, recorded later (age unknown)"));
    }

    #[test]
    fn lines_without_colour() {
        let style = Style { color: false };
        assert_eq!(
            decided_line(
                "Refund",
                Status::Failed,
                Some(0.55),
                0.8,
                Some(Duration::from_millis(12_300)),
                None,
                style
            ),
            "✗ FAIL  Refund  0.55 < 0.8  12.3s"
        );
        assert_eq!(
            decided_line("Hours", Status::Passed, Some(0.9), 0.8, None, Some((1, 3)), style),
            "✓ PASS  Hours (trial 2/3)  0.9 >= 0.8"
        );
        assert!(!decided_line("x", Status::Passed, None, 0.8, None, None, style).contains('\u{1b}'));
        assert!(decided_line("x", Status::Passed, None, 0.8, None, None, Style { color: true }).contains('\u{1b}'));
        assert_eq!(
            start_line(3, 3, 0.8, Duration::from_secs(1800), 1),
            "kapso-gate: 3 test cases, threshold 0.8, deadline 30m 00s, 1 duplicate ID dropped"
        );
        assert_eq!(
            heartbeat_line(2, Duration::from_secs(65)),
            "... waiting for 2 runs (1m 05s elapsed)"
        );
    }
}
