//! GitHub Actions workflow commands: the `::add-mask::` line, one `::error` annotation per
//! non-passing case (the ten most important), the feedback of every non-passing case in a
//! collapsible `::group::`, and the step outputs written to `$GITHUB_OUTPUT`.
//!
//! Untrusted text (names, feedback, errors, conversations) never reaches the start of a log
//! line where the runner could take it for a command: inside commands it is escaped per
//! GitHub's rules (data: `%`, `\r`, `\n`; properties also `:` and `,`), and multi-line blocks
//! are wrapped in `::stop-commands::<token>` … `::<token>::` with an unguessable token. Control
//! characters are made visible as in the terminal, since the log viewer renders ANSI escapes.
//!
//! Pure apart from the random tokens and delimiters, which tests can fix through the
//! `*_with_token` variants.

use super::model::{CaseReport, Report, MAX_ANNOTATIONS};
use super::text::{blocking_suffix, fmt_score, sanitize, truncate_chars};
use std::fmt::Write as _;
use std::path::Path;

/// Every step output the gate writes, in the order it writes them. `action.yml` declares these.
pub const OUTPUT_NAMES: &[&str] = &[
    "verdict",
    "exit-code",
    "total",
    "passed",
    "failed",
    "errored",
    "rejected",
    "incomplete",
    "cancelled",
    "runs-created",
    "json-report",
];

/// Longest feedback quoted in an annotation; the group below it and the reports have it all.
const ANNOTATION_FEEDBACK_CHARS: usize = 2_000;
/// GitHub cuts an annotation's message at 4,096 characters; the gate stays below this.
pub const ANNOTATION_MESSAGE_CHARS: usize = 4_000;
/// Longest reason (and score details) in an annotation.
const ANNOTATION_REASON_CHARS: usize = 500;
/// Longest Kapso error text in an annotation.
const ANNOTATION_ERROR_CHARS: usize = 1_000;
/// Longest case name in a title.
const TITLE_NAME_CHARS: usize = 120;

/// WORD JOINER: invisible, not white space (so the runner's `TrimStart` keeps it), and enough
/// to break both command forms apart.
const BREAK: char = '\u{2060}';

/// Makes text inert as workflow commands for the GitHub runner, which reads its output line by
/// line (a line ends at `\n`, `\r` or `\r\n`) and takes a line for a command when it starts
/// with `::` after leading white space, or when it holds `##[` anywhere (the legacy form). A
/// word joiner goes between the two colons and into every `##[`; the text reads the same.
pub fn neutralise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at_line_start = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '\n' | '\r' => at_line_start = true,
            ':' if at_line_start && chars.peek() == Some(&':') => {
                out.push(BREAK);
                at_line_start = false;
            }
            c if at_line_start && c.is_whitespace() => {}
            _ => at_line_start = false,
        }
        if out.ends_with("##[") {
            out.pop();
            out.push(BREAK);
            out.push('[');
        }
    }
    out
}

/// Breaks only the legacy `##[` form, for the gate's own workflow commands: their `::` must
/// stay, and every untrusted part in them is escaped already.
pub fn neutralise_legacy(text: &str) -> String {
    text.replace("##[", "##\u{2060}[")
}

/// Escapes the data (message) part of a workflow command.
pub fn escape_data(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a property value (`title=...`) of a workflow command.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The command that makes the runner mask `secret` in every later log line.
pub fn add_mask(secret: &str) -> String {
    format!("::add-mask::{}\n", escape_data(secret))
}

/// 32 hex characters nobody can predict: std's `RandomState` is seeded from the operating
/// system's randomness, mixed with the time, the process ID and a counter.
pub fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut token = String::with_capacity(32);
    for round in 0..2u8 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.write_u8(round);
        let _ = write!(token, "{:016x}", hasher.finish());
    }
    token
}

/// A [`random_token`] that `occurs` says appears nowhere in the untrusted text, so the text
/// cannot end a stop-commands block early.
fn unused_token(occurs: impl Fn(&str) -> bool) -> String {
    loop {
        let token = random_token();
        if !occurs(&token) {
            return token;
        }
    }
}

/// `text` between `::stop-commands::<token>` and `::<token>::`: the runner takes none of its
/// lines for a workflow command.
fn stop_commands(text: &str, token: &str) -> String {
    let mut out = format!("::stop-commands::{token}\n{}", neutralise(text));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    let _ = writeln!(out, "::{token}::");
    out
}

/// Wraps untrusted lines (such as the terminal summary with its feedback) so that the GitHub
/// runner takes none of them for a workflow command.
pub fn inert(text: &str) -> String {
    stop_commands(text, &unused_token(|token| text.contains(token)))
}

/// Annotations and feedback groups for stdout, with a fresh token for the stop-commands blocks.
pub fn annotations(report: &Report) -> String {
    annotations_with_token(report, &unused_token(|token| mentions(report, token)))
}

/// Whether any untrusted text of the report contains `needle`.
fn mentions(report: &Report, needle: &str) -> bool {
    report.message.as_deref().is_some_and(|m| m.contains(needle))
        || report.cases.iter().any(|c| {
            [
                Some(c.test_case_id.as_str()),
                c.name.as_deref(),
                c.suite_id.as_deref(),
                c.suite_name.as_deref(),
                c.reason.as_deref(),
                c.feedback.as_deref(),
                c.error.as_deref(),
                c.run_id.as_deref(),
            ]
            .into_iter()
            .flatten()
            .any(|text| text.contains(needle))
        })
}

/// [`annotations`] with a given stop-commands token.
pub fn annotations_with_token(report: &Report, token: &str) -> String {
    let mut out = String::new();
    if let Some(message) = report.gate_message() {
        let title = format!("kapso-gate: {}", report.verdict.name());
        let _ = writeln!(
            out,
            "::error title={}::{}",
            escape_property(&title),
            escape_data(&sanitize(message, true))
        );
    }
    let (annotated, omitted) = report.annotated_cases();
    for case in &annotated {
        let level = if case.blocking { "error" } else { "warning" };
        let _ = writeln!(
            out,
            "::{level} title={}::{}",
            escape_property(&title(case)),
            escape_data(&annotation_message(case))
        );
    }
    if omitted > 0 {
        let plural = if omitted == 1 { " is" } else { "s are" };
        let _ = writeln!(
            out,
            "::notice title=kapso-gate::{omitted} more non-passing case{plural} not annotated (GitHub shows at most {MAX_ANNOTATIONS} per step): see the job summary or the JSON report"
        );
    }
    for case in report.non_passing() {
        let _ = writeln!(out, "::group::{}", escape_data(&title(case)));
        out.push_str(&stop_commands(&details(case), token));
        out.push_str("::endgroup::\n");
    }
    out
}

/// `kapso-gate: Refund (c1) failed, score 0.5 < 0.8`: names the case and its score.
fn title(case: &CaseReport) -> String {
    let label = case.label_with(|part| truncate_chars(&sanitize(part, false), TITLE_NAME_CHARS));
    let score = match case.score {
        Some(_) => format!("score {}", super::text::score_against(case.score, case.threshold)),
        None => format!("no score, threshold {}", fmt_score(case.threshold)),
    };
    let blocking = blocking_suffix(case.blocking);
    format!("kapso-gate: {label} {}{blocking}, {score}", case.status.name())
}

/// The reason, the error, and the start of the judge's feedback, within GitHub's limit for an
/// annotation message: every part has a share, and when anything is cut, the message ends with
/// a pointer to where the whole text is (the runner would cut that pointer off otherwise).
fn annotation_message(case: &CaseReport) -> String {
    const POINTER: &str = "(truncated: the full feedback is in the log group, the job summary and the JSON report)";
    let mut cut = false;
    let mut part = |text: &str, max: usize| {
        let clean = sanitize(text, true);
        let shown = truncate_chars(&clean, max);
        cut |= shown.len() != clean.len();
        shown
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(reason) = &case.reason {
        parts.push(part(reason, ANNOTATION_REASON_CHARS));
    }
    if let Some(error) = case.error_beyond_reason() {
        parts.push(format!("error: {}", part(error, ANNOTATION_ERROR_CHARS)));
    }
    if let Some(details) = case.score_details() {
        parts.push(part(&details, ANNOTATION_REASON_CHARS));
    }
    if let Some(feedback) = case.feedback.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        let used: usize = parts.iter().map(|p| p.chars().count() + 2).sum();
        let room = ANNOTATION_MESSAGE_CHARS.saturating_sub(used + POINTER.len() + 2);
        parts.push(part(feedback, room.min(ANNOTATION_FEEDBACK_CHARS)));
    }
    if parts.is_empty() {
        parts.push(part(
            &format!("test case {} {}", case.test_case_id, case.status.name()),
            ANNOTATION_REASON_CHARS,
        ));
    }
    let mut message = parts.join("\n\n");
    if cut {
        message.push('\n');
        message.push_str(POINTER);
    }
    message
}

/// The multi-line block inside a group: untrusted, so the caller wraps it in stop-commands.
fn details(case: &CaseReport) -> String {
    let mut out = format!("test case: {}\n", case.test_case_id);
    for (label, value) in [
        ("name", case.name.as_deref()),
        ("suite", case.suite_name.as_deref().or(case.suite_id.as_deref())),
        ("run", case.run_id.as_deref()),
        ("reason", case.reason.as_deref()),
        ("error", case.error.as_deref()),
        ("scores", case.score_details().as_deref()),
        ("note", case.note.as_deref()),
    ] {
        if let Some(value) = value {
            let _ = writeln!(out, "{label}: {value}");
        }
    }
    if let Some(feedback) = case.feedback.as_deref().map(str::trim_end).filter(|f| !f.is_empty()) {
        let _ = writeln!(out, "feedback:\n{feedback}");
    }
    // Sanitising drops `\r`, so the runner sees exactly the lines we count.
    let mut out = sanitize(&out, true);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Lines for `$GITHUB_OUTPUT`, each value in the multi-line-safe `name<<DELIMITER` form with a
/// random delimiter. `json-report` is written only when the JSON report was.
pub fn step_outputs(report: &Report, json_path: Option<&Path>) -> String {
    step_outputs_with_token(report, json_path, &random_token())
}

/// [`step_outputs`] with a given delimiter token (lengthened where a value contains it).
pub fn step_outputs_with_token(report: &Report, json_path: Option<&Path>, token: &str) -> String {
    let c = &report.counts;
    let mut values: Vec<(&str, String)> = vec![
        ("verdict", report.verdict.name().to_owned()),
        ("exit-code", report.exit_code.to_string()),
        ("total", c.total.to_string()),
        ("passed", c.passed.to_string()),
        ("failed", c.failed.to_string()),
        ("errored", c.errored.to_string()),
        ("rejected", c.rejected.to_string()),
        ("incomplete", c.incomplete.to_string()),
        ("cancelled", c.cancelled.to_string()),
        ("runs-created", report.runs_created.to_string()),
    ];
    if let Some(path) = json_path {
        values.push(("json-report", path.to_string_lossy().into_owned()));
    }
    let mut out = String::new();
    for (name, value) in values {
        let mut delimiter = format!("ghadelimiter_{token}");
        while value.contains(&delimiter) {
            delimiter.push('_');
        }
        let _ = write!(out, "{name}<<{delimiter}\n{value}\n{delimiter}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::exit::Exit;
    use crate::policy::verdict::Status;
    use crate::report::test_fixtures::{case, gate_failure, report};

    #[test]
    fn escaping_follows_the_runner() {
        assert_eq!(escape_data("a%0Ab\r\n::error::x %25"), "a%250Ab%0D%0A::error::x %2525");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        assert_eq!(add_mask("kg-key"), "::add-mask::kg-key\n");
    }

    #[test]
    fn neutralised_text_starts_no_command_in_either_form() {
        assert_eq!(neutralise("::error::x"), ":\u{2060}:error::x");
        assert_eq!(neutralise("  \t::warning::x"), "  \t:\u{2060}:warning::x");
        assert_eq!(neutralise("ok\r::set-output::x"), "ok\r:\u{2060}:set-output::x");
        assert_eq!(
            neutralise("a ##[error]b ##[group]"),
            "a ##\u{2060}[error]b ##\u{2060}[group]"
        );
        assert_eq!(neutralise("a :: b"), "a :: b", "only a line start matters for ::");
        assert_eq!(neutralise("###[x"), "###\u{2060}[x");
        assert_eq!(neutralise_legacy("::error::a ##[x"), "::error::a ##\u{2060}[x");
    }

    #[test]
    fn inert_blocks_end_with_their_token() {
        let out = inert("::error::x");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        let token = lines[0].strip_prefix("::stop-commands::").expect("opening line");
        assert_eq!(lines[2], format!("::{token}::"));
    }

    #[test]
    fn tokens_are_long_hex_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn annotations_and_groups() {
        let r = report(vec![case("c1", Status::Passed), case("c2", Status::Failed)]);
        assert_eq!(
            annotations_with_token(&r, "TOKEN"),
            "::error title=kapso-gate%3A Case c2 (c2) failed%2C score 0.5 < 0.8::score 0.5 is below the threshold 0.8%0A%0AWrong hours.\n\
             ::group::kapso-gate: Case c2 (c2) failed, score 0.5 < 0.8\n\
             ::stop-commands::TOKEN\n\
             test case: c2\n\
             name: Case c2\n\
             run: run-c2\n\
             reason: score 0.5 is below the threshold 0.8\n\
             feedback:\n\
             Wrong hours.\n\
             ::TOKEN::\n\
             ::endgroup::\n"
        );
        assert_eq!(
            annotations_with_token(&report(vec![case("c1", Status::Passed)]), "T"),
            ""
        );
    }

    #[test]
    fn gate_message_is_annotated() {
        let r = gate_failure(Exit::Usage, "no test cases selected:\n::error::x");
        assert_eq!(
            annotations_with_token(&r, "T"),
            "::error title=kapso-gate%3A usage::no test cases selected:%0A::error::x\n"
        );
    }

    #[test]
    fn hostile_text_stays_data() {
        let mut bad = case("c1", Status::Errored);
        bad.name = Some("x\n::error::x %0A %25 | <script> ]]> \u{0}\u{1b}[31m 🎉 \u{202e}مرحبا".into());
        bad.feedback = Some(format!("line\r\n::error::x\n::endgroup::\n%0A{}", "y".repeat(200_000)));
        bad.error = Some("crash\n::warning::w".into());
        let r = report(vec![bad]);
        let out = annotations_with_token(&r, "TOKEN");
        let mut inside = false;
        for line in out.lines() {
            if line == "::stop-commands::TOKEN" {
                inside = true;
            } else if line == "::TOKEN::" {
                inside = false;
            } else if !inside {
                assert!(
                    line.starts_with("::error title=kapso-gate%3A x ↵ %3A%3Aerror%3A%3Ax %250A %2525 | <script> ]]> \\u{0}\\u{1b}[31m 🎉 \\u{202e}مرحبا (c1) errored%2C no score%2C threshold 0.8::Kapso reported an error: boom%0A%0Aerror: crash%0A::warning::w%0A%0Aline%0A::error::x%0A::endgroup::%0A%250Ayyy")
                        || line == "::group::kapso-gate: x ↵ ::error::x %250A %2525 | <script> ]]> \\u{0}\\u{1b}[31m 🎉 \\u{202e}مرحبا (c1) errored, no score, threshold 0.8"
                        || line == "::endgroup::",
                    "{line:.300}"
                );
            }
        }
        assert!(!inside);
        assert!(!out.contains('\u{1b}') && !out.contains('\r') && !out.contains('\0'));
        let annotation = out.lines().next().unwrap_or_default();
        assert!(
            annotation.len() < 3_000,
            "the annotation quotes the start of the feedback"
        );
        assert!(annotation
            .ends_with("(truncated: the full feedback is in the log group, the job summary and the JSON report)"));
        assert!(out.len() > 200_000, "the group has the whole feedback");
    }

    #[test]
    fn annotation_messages_stay_under_the_limit_with_the_pointer() {
        let mut bad = case("c1", Status::Errored);
        bad.reason = Some(format!("Kapso reported an error: {}", "r".repeat(9_000)));
        bad.error = Some("e".repeat(9_000));
        bad.feedback = Some("f".repeat(9_000));
        let message = annotation_message(&bad);
        assert!(message.chars().count() <= ANNOTATION_MESSAGE_CHARS, "{}", message.len());
        assert!(message.ends_with("the job summary and the JSON report)"));
        assert!(message.contains("error: eee"), "the error has its share");
        assert!(message.contains("fff"), "the feedback has its share");
        let short = annotation_message(&case("c2", Status::Failed));
        assert!(!short.contains("truncated"), "{short}");
    }

    #[test]
    fn at_most_ten_errors_in_importance_order() {
        let mut cases: Vec<CaseReport> = (0..6).map(|i| case(&format!("i{i}"), Status::Incomplete)).collect();
        cases.extend((0..6).map(|i| case(&format!("f{i}"), Status::Failed)));
        cases.push(case("e0", Status::Errored));
        let mut quarantined = case("q0", Status::Failed);
        quarantined.blocking = false;
        cases.push(quarantined);
        let r = report(cases);
        let (annotated, omitted) = r.annotated_cases();
        let ids: Vec<&str> = annotated.iter().map(|c| c.test_case_id.as_str()).collect();
        assert_eq!(ids, ["f0", "f1", "f2", "f3", "f4", "f5", "e0", "i0", "i1", "i2", "q0"]);
        assert_eq!(omitted, 3);
        let out = annotations_with_token(&r, "T");
        assert_eq!(out.lines().filter(|l| l.starts_with("::error ")).count(), 10);
        assert_eq!(out.lines().filter(|l| l.starts_with("::warning ")).count(), 1);
        assert!(out.contains("::notice title=kapso-gate::3 more non-passing cases are not annotated (GitHub shows at most 10 per step): see the job summary or the JSON report\n"));
        assert_eq!(
            out.matches("::group::").count(),
            14,
            "every non-passing case has a group"
        );
    }

    #[test]
    fn step_outputs_use_delimiters() {
        let r = report(vec![case("c1", Status::Passed), case("c2", Status::Failed)]);
        assert_eq!(
            step_outputs_with_token(&r, Some(Path::new("out/ghadelimiter_T.json")), "T"),
            "verdict<<ghadelimiter_T\nfailed\nghadelimiter_T\n\
             exit-code<<ghadelimiter_T\n1\nghadelimiter_T\n\
             total<<ghadelimiter_T\n2\nghadelimiter_T\n\
             passed<<ghadelimiter_T\n1\nghadelimiter_T\n\
             failed<<ghadelimiter_T\n1\nghadelimiter_T\n\
             errored<<ghadelimiter_T\n0\nghadelimiter_T\n\
             rejected<<ghadelimiter_T\n0\nghadelimiter_T\n\
             incomplete<<ghadelimiter_T\n0\nghadelimiter_T\n\
             cancelled<<ghadelimiter_T\n0\nghadelimiter_T\n\
             runs-created<<ghadelimiter_T\n0\nghadelimiter_T\n\
             json-report<<ghadelimiter_T_\nout/ghadelimiter_T.json\nghadelimiter_T_\n"
        );
        let text = step_outputs_with_token(&r, Some(Path::new("r.json")), "T");
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once("<<").map(|(name, _)| name))
            .collect();
        assert_eq!(names, OUTPUT_NAMES);
        assert!(!step_outputs(&r, None).contains("json-report"));
    }
}
