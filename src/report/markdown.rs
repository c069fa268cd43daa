//! The GitHub step summary (Markdown): the verdict in one line, a table of every case
//! (non-passing first), and each non-passing case's reason and feedback in a `<details>` block.
//!
//! Untrusted text never becomes markup: table cells and paragraphs are HTML-escaped and every
//! Markdown-active character is backslash-escaped (so `|` cannot split a cell, and no link,
//! image, autolink, emphasis or math can be formed); text inside HTML (`<summary>`) is
//! HTML-escaped; feedback goes in a fenced code block whose fence is longer than any backtick
//! run in it. Control characters and bidirectional overrides are made visible as in the
//! terminal. The whole summary stays under a byte budget (GitHub drops summaries over 1 MiB):
//! long feedback is truncated with a pointer to the JSON report.

use super::model::{CaseReport, Report, SampleRecord, MAX_ANNOTATIONS};
use super::text::{
    blocking_suffix, fmt_duration, fmt_duration_ms, fmt_score, sanitize, truncate_bytes, truncate_chars, NOTE_CHARS,
};
use crate::domain::exit::Exit;
use crate::policy::verdict::Status;
use std::fmt::Write as _;
use std::time::Duration;

/// What the gate passes as `max_bytes`: GitHub's limit is 1 MiB per step; stay clear of it.
pub const GITHUB_SUMMARY_BUDGET: usize = 1_000_000 - 16_384;
/// Most feedback quoted per case, even when the budget would allow more.
pub const FEEDBACK_CAP_BYTES: usize = 64 * 1024;
/// Longest case name (in characters) shown in the table.
const NAME_CHARS: usize = 200;
/// Room kept for the lines that say something was left out.
const OMISSION_RESERVE: usize = 300;
/// Room kept after cut feedback for the sentence that says so (it names a byte count).
const TRUNCATION_NOTICE_ROOM: usize = 200;
/// Room kept for the code fences around the feedback and their `text` info string.
const FENCE_ROOM: usize = 64;

/// The step summary for `report`, at most `max_bytes` long (as long as the fixed parts fit).
pub fn render(report: &Report, max_bytes: usize) -> String {
    let mut head = String::new();
    // The regression headline comes first: it is what a reviewer of a change asks.
    let regression = report.regression_lines_with(|text| inline(&truncate_chars(text, NOTE_CHARS)));
    if let Some((first, rest)) = regression.split_first() {
        let _ = writeln!(head, "**{}**\n", first.trim_start_matches("regression: "));
        for line in rest {
            let _ = writeln!(head, "- {line}");
        }
        head.push('\n');
    }
    let _ = writeln!(head, "### {}\n", headline(report));
    // Built from numbers only: nothing to escape.
    if let Some(shard) = report.shard_summary() {
        let _ = writeln!(head, "{shard}\n");
    }
    if let Some(sample) = &report.sample {
        let _ = writeln!(head, "{}\n", sample_line(sample));
    }
    if let Some(baseline) = report.baseline_summary_with(|text| inline(&truncate_chars(text, NOTE_CHARS))) {
        let _ = writeln!(head, "{baseline}\n");
    }
    if let Some(message) = report.message.as_deref().filter(|m| !m.trim().is_empty()) {
        let _ = writeln!(head, "**Error:** {}\n", inline(message));
    }
    for warning in &report.warnings {
        let _ = writeln!(head, "> ⚠️ {}\n", inline(warning));
    }
    let tail = footer(report);
    let mut budget = max_bytes.saturating_sub(head.len() + tail.len() + OMISSION_RESERVE);

    let cases = report.cases_by_importance();
    let mut table = String::new();
    if !cases.is_empty() {
        let with_details = cases.iter().any(|c| !row_details(c).is_empty());
        if with_details {
            table.push_str(
                "| Status | Case | Score | Threshold | Duration | Details |\n| --- | --- | ---: | ---: | ---: | --- |\n",
            );
        } else {
            table.push_str("| Status | Case | Score | Threshold | Duration |\n| --- | --- | ---: | ---: | ---: |\n");
        }
        let mut shown = 0;
        for case in &cases {
            let row = row(case, with_details);
            if table.len() + row.len() > budget {
                break;
            }
            table.push_str(&row);
            shown += 1;
        }
        if shown < cases.len() {
            let _ = writeln!(
                table,
                "\n*{} more cases are left out to stay under GitHub's summary size limit: see the JSON report.*",
                cases.len() - shown
            );
        }
        table.push('\n');
    }
    budget = budget.saturating_sub(table.len());

    let mut details = String::new();
    let non_passing: Vec<&&CaseReport> = cases.iter().filter(|c| c.status != Status::Passed).collect();
    for (i, case) in non_passing.iter().enumerate() {
        match details_block(case, budget - details.len()) {
            Some(block) => details.push_str(&block),
            None => {
                let _ = writeln!(
                    details,
                    "*The details of {} more cases are left out to stay under GitHub's summary size limit: see the JSON report.*\n",
                    non_passing.len() - i
                );
                break;
            }
        }
    }

    let (_, not_annotated) = report.annotated_cases();
    let mut out = head;
    out.push_str(&table);
    out.push_str(&details);
    if not_annotated > 0 {
        let _ = writeln!(
            out,
            "*{not_annotated} more non-passing case{} not annotated: GitHub shows at most {} annotations per step.*\n",
            if not_annotated == 1 { " is" } else { "s are" },
            MAX_ANNOTATIONS
        );
    }
    out.push_str(&tail);
    out
}

/// `❌ kapso-gate failed: 2 of 5 cases did not pass (exit 1)`.
fn headline(report: &Report) -> String {
    let c = &report.counts;
    let mark = if report.exit_code == 0 { "✅" } else { "❌" };
    let verdict = match report.verdict {
        Exit::Usage => "usage error",
        other => other.name(),
    };
    let code = report.exit_code;
    let plural = if c.total == 1 { "" } else { "s" };
    let non_blocking = if c.non_blocking > 0 {
        format!(", {} non-blocking", c.non_blocking)
    } else {
        String::new()
    };
    if c.total == 0 {
        format!("{mark} kapso-gate {verdict} (exit {code})")
    } else if c.passed == c.total {
        format!(
            "{mark} kapso-gate {verdict}: all {} case{plural} passed{non_blocking} (exit {code})",
            c.total
        )
    } else {
        format!(
            "{mark} kapso-gate {verdict}: {} of {} case{plural} did not pass{non_blocking} (exit {code})",
            c.total - c.passed,
            c.total
        )
    }
}

fn status_label(case: &CaseReport) -> String {
    let mark = match case.status {
        Status::Passed => "✅",
        Status::Failed => "❌",
        Status::Errored => "💥",
        Status::Rejected => "⛔",
        Status::Incomplete => "⏳",
        Status::Cancelled => "🚫",
    };
    format!("{mark} {}{}", case.status.name(), blocking_suffix(case.blocking))
}

/// `Refund policy (tc_1)`, or the ID alone.
fn case_label(case: &CaseReport) -> String {
    case.label_with(|part| truncate_chars(part, NAME_CHARS))
}

/// Trials, spread, baseline change and the config note, for the optional Details column.
fn row_details(case: &CaseReport) -> String {
    case.details_with(|note| truncate_chars(note, NAME_CHARS))
}

fn row(case: &CaseReport, with_details: bool) -> String {
    let score = case.score.map(fmt_score).unwrap_or_else(|| "-".into());
    let duration = fmt_duration_ms(case.duration_ms);
    let details = if with_details {
        format!(" {} |", inline(&row_details(case)))
    } else {
        String::new()
    };
    format!(
        "| {} | {} | {score} | {} | {duration} |{details}\n",
        status_label(case),
        inline(&case_label(case)),
        fmt_score(case.threshold)
    )
}

/// A `<details>` block with the reason, Kapso's error and the feedback, fitted into `room`
/// bytes by truncating the feedback; `None` when even a stub does not fit.
fn details_block(case: &CaseReport, room: usize) -> Option<String> {
    let score = match case.score {
        Some(s) => format!(", score {} (threshold {})", fmt_score(s), fmt_score(case.threshold)),
        None => String::new(),
    };
    let mut head = format!(
        "<details><summary>{}: {}{score}</summary>\n\n",
        html(&status_label(case)),
        html(&case_label(case))
    );
    if let Some(reason) = &case.reason {
        let _ = writeln!(head, "{}\n", inline(reason));
    }
    if let Some(error) = case.error_beyond_reason() {
        let _ = writeln!(head, "**Kapso error:** {}\n", inline(error));
    }
    let foot = "</details>\n\n";
    let fixed = head.len() + foot.len();
    if fixed > room {
        return None;
    }
    let mut out = head;
    if let Some(feedback) = case
        .feedback
        .as_deref()
        .map(str::trim_end)
        .filter(|f| !f.trim().is_empty())
    {
        let feedback = sanitize(feedback, true);
        let limit = FEEDBACK_CAP_BYTES.min(room.saturating_sub(fixed + TRUNCATION_NOTICE_ROOM + FENCE_ROOM));
        let shown = truncate_bytes(&feedback, limit);
        let fence = "`".repeat(longest_backtick_run(shown).max(2) + 1);
        let _ = writeln!(out, "{fence}text\n{shown}\n{fence}\n");
        if shown.len() < feedback.len() {
            let _ = writeln!(
                out,
                "*Feedback truncated: {} more bytes; the JSON report (`--json`) has all of it.*\n",
                feedback.len() - shown.len()
            );
        }
    }
    out.push_str(foot);
    (out.len() <= room).then_some(out)
}

/// Left-out IDs a summary lists before pointing to the JSON report for the rest.
const LEFT_OUT_SHOWN: usize = 20;

/// `Sample of 5 of the 40 selected cases (--sample); left out, not failures: a, b`, with at
/// most [`LEFT_OUT_SHOWN`] IDs.
fn sample_line(sample: &SampleRecord) -> String {
    let mut ids: Vec<String> = sample
        .left_out
        .iter()
        .take(LEFT_OUT_SHOWN)
        .map(|id| inline(id))
        .collect();
    if sample.left_out.len() > LEFT_OUT_SHOWN {
        ids.push(format!(
            "and {} more (see the JSON report)",
            sample.left_out.len() - LEFT_OUT_SHOWN
        ));
    }
    let label = sample.label();
    format!(
        "{}{} (`--sample`); left out, not failures: {}",
        label[..1].to_uppercase(),
        &label[1..],
        ids.join(", ")
    )
}

fn footer(report: &Report) -> String {
    let r = &report.requests;
    format!(
        "<sub>kapso-gate {} · threshold {} · {} · {} · {} requests ({} retried, {} rate-limited)</sub>\n",
        html(&report.version),
        fmt_score(report.threshold),
        fmt_duration(Duration::from_millis(report.duration_ms)),
        report.runs_label(),
        r.sent,
        r.retried,
        r.rate_limited
    )
}

/// Escapes one line of untrusted text for Markdown (a table cell or a paragraph): newlines
/// and control characters become visible, HTML is escaped, and every character Markdown or
/// GitHub could act on is backslash-escaped.
pub fn inline(raw: &str) -> String {
    let clean = sanitize(raw, false);
    let mut out = String::with_capacity(clean.len() + 8);
    for c in clean.chars() {
        if MARKDOWN_ACTIVE.contains(c) {
            out.push('\\');
            out.push(c);
        } else {
            push_html(&mut out, c);
        }
    }
    out
}

/// Characters Markdown or GitHub could act on (emphasis, links, tables, math, autolinks, ...).
const MARKDOWN_ACTIVE: &str = "\\`*_[]()!#~$|{}+-.:@^=";

/// Escapes one line of untrusted text for HTML (inside `<summary>`): a blank line would end
/// the HTML block, so newlines go too.
pub fn html(raw: &str) -> String {
    let clean = sanitize(raw, false);
    let mut out = String::with_capacity(clean.len() + 8);
    for c in clean.chars() {
        push_html(&mut out, c);
    }
    out
}

fn push_html(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        c => out.push(c),
    }
}

fn longest_backtick_run(text: &str) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_fixtures::{case, gate_failure, report};

    const HOSTILE: &str =
        "x\n::error::x %0A %25 | <script>alert(1)</script> ]]> \u{0}\u{1b} 🎉 \u{202e}مرحبا [a](http://e.vil) ![i](x) `c`";

    #[test]
    fn escaping() {
        assert_eq!(
            inline(HOSTILE),
            "x ↵ \\:\\:error\\:\\:x %0A %25 \\| &lt;script&gt;alert\\(1\\)&lt;/script&gt; \\]\\]&gt; \\\\u\\{0\\}\\\\u\\{1b\\} 🎉 \\\\u\\{202e\\}مرحبا \\[a\\]\\(http\\://e\\.vil\\) \\!\\[i\\]\\(x\\) \\`c\\`"
        );
        assert_eq!(html("a<b>&\"'\nc"), "a&lt;b&gt;&amp;&quot;&#39; ↵ c");
        assert_eq!(longest_backtick_run("a ``` b ````` c"), 5);
        assert_eq!(truncate_bytes("é", 1), "");
    }

    #[test]
    fn summary_of_a_failed_run() {
        let r = report(vec![case("c1", Status::Passed), case("c2", Status::Failed)]);
        assert_eq!(
            render(&r, GITHUB_SUMMARY_BUDGET),
            "### ❌ kapso-gate failed: 1 of 2 cases did not pass (exit 1)\n\
             \n\
             | Status | Case | Score | Threshold | Duration |\n\
             | --- | --- | ---: | ---: | ---: |\n\
             | ❌ failed | Case c2 \\(c2\\) | 0.5 | 0.8 | 12.5s |\n\
             | ✅ passed | Case c1 \\(c1\\) | 0.9 | 0.8 | 12.5s |\n\
             \n\
             <details><summary>❌ failed: Case c2 (c2), score 0.5 (threshold 0.8)</summary>\n\
             \n\
             score 0\\.5 is below the threshold 0\\.8\n\
             \n\
             ```text\n\
             Wrong hours.\n\
             ```\n\
             \n\
             </details>\n\
             \n\
             <sub>kapso-gate 0.1.0 · threshold 0.8 · 20.0s · 0 runs · 0 requests (0 retried, 0 rate-limited)</sub>\n"
        );
    }

    #[test]
    fn a_shard_says_which_part_it_covers() {
        let mut carried = case("c1", Status::Passed);
        carried.carried_over = true;
        let mut r = report(vec![carried]);
        r.shard = Some(crate::report::ShardRecord {
            index: 1,
            total: 3,
            selected: Some(7),
            selection_digest: None,
        });
        let summary = render(&r, GITHUB_SUMMARY_BUDGET);
        assert!(
            summary.contains("\nshard 1/3: 1 of the 7 selected cases\n"),
            "{summary}"
        );
        assert!(summary.contains("carried over"), "{summary}");
    }

    #[test]
    fn the_baseline_commit_and_age_are_shown_escaped() {
        let mut r = report(vec![case("c1", Status::Passed)]);
        r.binding.baseline = Some(crate::report::BaselineRecord {
            commit: Some("<b>abc</b>".into()),
            recorded_at: "2026-01-01T07:00:00.000Z".into(),
            age_ms: Some(3 * 3600 * 1000 + 5 * 60 * 1000),
            max_age_ms: None,
        });
        let summary = render(&r, GITHUB_SUMMARY_BUDGET);
        assert!(
            summary.contains(
                "\nbaseline: commit &lt;b&gt;abc&lt;/b&gt;, recorded 2026\\-01\\-01T07\\:00\\:00\\.000Z (3h 05m old)\n"
            ),
            "{summary}"
        );
    }

    #[test]
    fn summary_of_a_usage_error() {
        let r = gate_failure(Exit::Usage, "--threshold \"x\" is not a finite number >= 0");
        assert_eq!(
            render(&r, GITHUB_SUMMARY_BUDGET),
            "### ❌ kapso-gate usage error (exit 2)\n\
             \n\
             **Error:** \\-\\-threshold &quot;x&quot; is not a finite number &gt;\\= 0\n\
             \n\
             <sub>kapso-gate 0.1.0 · threshold 0.8 · 20.0s · 0 runs · 0 requests (0 retried, 0 rate-limited)</sub>\n"
        );
    }

    #[test]
    fn hostile_text_cannot_break_the_table() {
        let mut bad = case("c1", Status::Errored);
        bad.name = Some(HOSTILE.into());
        bad.error = Some(HOSTILE.into());
        bad.feedback = Some(format!("{HOSTILE}\n````\n</details>\n{}", "y".repeat(200_000)));
        let r = report(vec![bad, case("c2", Status::Passed)]);
        let md = render(&r, GITHUB_SUMMARY_BUDGET);
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(rows.len(), 4, "header, separator and one row per case");
        for row in &rows {
            assert_eq!(unescaped_pipes(row), 6, "{row}");
        }
        assert!(!md.contains('\u{0}') && !md.contains('\u{1b}'));
        let code_start = md.find("`````text").expect("a code block");
        assert!(
            !md[..code_start].contains("<script>"),
            "outside code blocks HTML is escaped"
        );
        assert!(
            md.contains("\n`````text\n"),
            "the fence outgrows the feedback's backticks"
        );
        assert!(
            md.contains("*Feedback truncated: "),
            "200 KB of feedback is cut to the cap"
        );
        assert!(md.len() < FEEDBACK_CAP_BYTES + 5_000);
        assert_eq!(
            md.matches("</details>").count(),
            2,
            "the feedback's own tag stays in the code block"
        );
    }

    /// The pipes that delimit cells: those not escaped by a backslash.
    fn unescaped_pipes(row: &str) -> usize {
        let (mut count, mut escaped) = (0, false);
        for c in row.chars() {
            match c {
                '\\' if !escaped => escaped = true,
                '|' if !escaped => count += 1,
                _ => escaped = false,
            }
        }
        count
    }

    #[test]
    fn stays_under_the_budget() {
        let cases: Vec<CaseReport> = (0..40)
            .map(|i| {
                let mut c = case(&format!("c{i}"), Status::Failed);
                c.feedback = Some("z".repeat(100_000));
                c
            })
            .collect();
        let r = report(cases);
        let md = render(&r, GITHUB_SUMMARY_BUDGET);
        assert!(md.len() <= GITHUB_SUMMARY_BUDGET, "{}", md.len());
        assert_eq!(
            md.lines().filter(|l| l.starts_with("| ❌")).count(),
            40,
            "every case keeps its row"
        );
        assert!(md.contains("more cases are left out to stay under GitHub's summary size limit"));
        assert!(
            md.contains("*30 more non-passing cases are not annotated: GitHub shows at most 10 annotations per step.*")
        );
        let small = render(&r, 4_000);
        assert!(small.len() <= 4_000, "{}", small.len());
    }
}
