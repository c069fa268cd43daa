//! The terminal renderer: the start line, one line per decided run, heartbeats, and the final
//! table with the judge's feedback for every case that did not pass. Pure: values in, text out.
//! Untrusted text (names, feedback, errors) has control characters and bidirectional overrides
//! made visible, so it cannot move the cursor, recolour the terminal or reorder a line.

use super::model::{CaseReport, Report};
use crate::verdict::{fmt_score, Status};
use std::fmt::Write as _;
use std::time::Duration;

/// How output may look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// ANSI colours: only on a terminal and without `NO_COLOR`.
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// Makes untrusted text inert for a terminal. Newlines and tabs are kept when `multiline`,
/// otherwise shown as `↵` and a space; every other control character (ESC included) and every
/// bidirectional override is replaced by a visible `\u{..}` escape.
pub fn sanitize(text: &str, multiline: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' if multiline => out.push('\n'),
            '\n' => out.push_str(" ↵ "),
            '\t' => out.push_str(if multiline { "\t" } else { " " }),
            '\r' => {}
            c if c.is_control() || is_bidi_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// `12.5s`, `3m 04s`, `850ms`.
pub fn fmt_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        let secs = duration.as_secs();
        format!("{}m {:02}s", secs / 60, secs % 60)
    }
}

fn mark(status: Status, style: Style) -> String {
    match status {
        Status::Passed => style.paint("32", "✓ PASS"),
        Status::Failed => style.paint("31", "✗ FAIL"),
        Status::Errored => style.paint("31", "✗ ERROR"),
        Status::Rejected => style.paint("33", "! REJECTED"),
        Status::Incomplete => style.paint("33", "? INCOMPLETE"),
        Status::Cancelled => style.paint("33", "- CANCELLED"),
    }
}

fn score_against(score: Option<f64>, threshold: f64) -> String {
    match score {
        Some(s) if s >= threshold => format!("{} >= {}", fmt_score(s), fmt_score(threshold)),
        Some(s) => format!("{} < {}", fmt_score(s), fmt_score(threshold)),
        None => format!("- / {}", fmt_score(threshold)),
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
            style.paint("31", &format!("error: {}", sanitize(message, false)))
        );
    }
    if !cases.is_empty() {
        let rows: Vec<[String; 6]> = cases
            .iter()
            .map(|c| {
                [
                    c.status.name().to_uppercase() + if c.blocking { "" } else { " (non-blocking)" },
                    truncate(&sanitize(c.display_name(), false), 60),
                    c.score.map(fmt_score).unwrap_or_else(|| "-".into()),
                    fmt_score(c.threshold),
                    c.duration_ms
                        .map(|ms| fmt_duration(Duration::from_millis(ms)))
                        .unwrap_or_else(|| "-".into()),
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
                style.paint("33", &format!("warning: {}", sanitize(warning, false)))
            );
        }
    }
    let running = still_running(report);
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
    let _ = writeln!(out, "\n{}", verdict_line(report, style));
    out
}

/// The table's last column: trials, spread, baseline change, and the config note.
fn row_details(case: &CaseReport) -> String {
    case.details_with(|note| truncate(&sanitize(note, false), 80))
}

fn details(case: &CaseReport, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{} {}",
        mark(case.status, style),
        style.paint("1", &sanitize(case.display_name(), false))
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
        let _ = writeln!(
            out,
            "  baseline: {} (change {})",
            fmt_score(base),
            super::model::fmt_delta(delta)
        );
    }
    if let Some(note) = &case.note {
        let _ = writeln!(out, "  note: {}", sanitize(note, false));
    }
    if let Some(reason) = &case.reason {
        let _ = writeln!(out, "  reason: {}", sanitize(reason, false));
    }
    if let Some(error) = case
        .error
        .as_ref()
        .filter(|e| !case.reason.as_ref().is_some_and(|r| r.contains(e.as_str())))
    {
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
    let colour = if report.verdict.code() == 0 { "32" } else { "31" };
    let plural = if c.total == 1 { "" } else { "s" };
    format!(
        "{} ({} case{plural}: {}; exit {})",
        style.paint(colour, &format!("kapso-gate {verdict}")),
        c.total,
        parts.join(", "),
        report.exit_code
    )
}

/// Run IDs still executing on Kapso (there is no cancel endpoint), for the user to look up.
pub fn still_running(report: &Report) -> Vec<String> {
    report
        .cases
        .iter()
        .filter(|c| matches!(c.status, Status::Incomplete | Status::Cancelled))
        .flat_map(|c| c.trials.iter())
        .filter(|t| matches!(t.status, Status::Incomplete | Status::Cancelled))
        .filter_map(|t| t.run_id.clone())
        .collect()
}

/// The plan `--dry-run` prints.
pub fn dry_run(result: &crate::DryRun) -> String {
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
        let check = case.check.as_ref().map_or_else(|failure| failure.label, |()| "ok");
        let name = sanitize(case.case.name.as_deref().unwrap_or(&case.case.id), false);
        let id = sanitize(&case.case.id, false);
        let label = if name == id { id } else { format!("{name} ({id})") };
        let _ = writeln!(
            out,
            "{:<10} {:<8} {:<9} {:<8} {label}",
            check,
            case.policy.trials,
            fmt_score(case.policy.threshold),
            if case.policy.blocking { "yes" } else { "no" }
        );
        if let Err(failure) = &case.check {
            let _ = writeln!(out, "           {}", sanitize(&failure.reason, false));
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
        "\n{} cases, {} runs. A real run needs at least {} requests ({} lookup{}, one creation and one poll per run); under {budget} that takes at least {}, plus the runs' own duration.",
        result.cases.len(),
        result.runs,
        result.min_requests(),
        result.lookups,
        if result.lookups == 1 { "" } else { "s" },
        fmt_duration(result.min_time())
    );
    let _ = writeln!(
        out,
        "Dry run: no runs were created ({} requests sent). Exit {} ({}).",
        result.requests_sent,
        result.exit.code(),
        result.exit.name()
    );
    out
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(sanitize("a\u{1b}[31mb\u{7}", false), "a\\u{1b}[31mb\\u{7}");
        assert_eq!(sanitize("x\u{202e}y", false), "x\\u{202e}y");
        assert_eq!(sanitize("l1\nl2\r\n", true), "l1\nl2\n");
        assert_eq!(sanitize("l1\nl2", false), "l1 ↵ l2");
        assert_eq!(sanitize("مرحبا ✅", false), "مرحبا ✅");
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
