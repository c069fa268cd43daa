//! The JUnit XML report, in the dialect Jenkins, GitLab, CircleCI and most other CI test UIs
//! read: `<testsuites>` holding one `<testsuite>` per Kapso suite (cases given by ID go in one
//! named `kapso-gate`), one `<testcase>` per case.
//!
//! Mapping: `failed` and `errored` → `<failure>` with the feedback (and Kapso's error) as text;
//! `rejected`, `incomplete` and `cancelled` → `<error>` with the reason; a non-blocking
//! (quarantined) case that did not pass → `<skipped>`, because it does not fail the gate and a
//! `<failure>` would turn the CI's test view red anyway. The test case ID, status, score,
//! threshold, run ID and details are the first lines of `<system-out>`, followed by the
//! conversation: the widely used `junit-10.xsd` (Jenkins xUnit, also shipped by pytest) has no
//! `<properties>` inside `<testcase>`, and `tests/edges.rs` validates against it.
//!
//! This file maps the model to JUnit's elements; `xml.rs` writes them, always well-formed
//! XML 1.0.

mod xml;

use super::model::{CaseReport, Report};
use super::text::{fmt_delta, fmt_score};
use crate::policy::verdict::Status;
use serde_json::Value;
use std::fmt::Write as _;
pub use xml::{attr, text};
use xml::{close, element, open, seconds};

/// The `<testsuite>` (and `classname`) of cases that belong to no Kapso suite.
pub const AD_HOC_SUITE: &str = "kapso-gate";
const AD_HOC_CLASSNAME: &str = "kapso";

/// The JUnit XML document for `report`.
pub fn render(report: &Report) -> String {
    let suites = group_by_suite(report);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total = tally(report.cases.iter());
    let (tests, failures, errors) = (
        total.tests.to_string(),
        total.failures.to_string(),
        total.errors.to_string(),
    );
    let time = seconds(report.duration_ms);
    open(
        &mut out,
        0,
        "testsuites",
        &[
            ("name", "kapso-gate"),
            ("tests", &tests),
            ("failures", &failures),
            ("errors", &errors),
            ("time", &time),
        ],
        false,
    );
    for (name, cases) in &suites {
        render_suite(&mut out, report, &one_line(name), cases);
    }
    if suites.is_empty() {
        render_suite(&mut out, report, AD_HOC_SUITE, &[]);
    }
    close(&mut out, 0, "testsuites");
    out
}

/// Cases grouped by suite, suites in order of first appearance.
fn group_by_suite(report: &Report) -> Vec<(String, Vec<&CaseReport>)> {
    let mut suites: Vec<(Option<&str>, String, Vec<&CaseReport>)> = Vec::new();
    for case in &report.cases {
        let key = case.suite_id.as_deref();
        match suites.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, cases)) => cases.push(case),
            None => suites.push((key, suite_name(case).unwrap_or(AD_HOC_SUITE).to_owned(), vec![case])),
        }
    }
    suites.into_iter().map(|(_, name, cases)| (name, cases)).collect()
}

fn suite_name(case: &CaseReport) -> Option<&str> {
    case.suite_name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .or(case.suite_id.as_deref())
}

#[derive(Debug, Default)]
struct Tally {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    time_ms: u64,
}

fn tally<'a>(cases: impl Iterator<Item = &'a CaseReport>) -> Tally {
    let mut t = Tally::default();
    for case in cases {
        t.tests += 1;
        t.time_ms += case.duration_ms.unwrap_or(0);
        match outcome(case) {
            Outcome::Passed => {}
            Outcome::Failure { .. } => t.failures += 1,
            Outcome::Error { .. } => t.errors += 1,
            Outcome::Skipped { .. } => t.skipped += 1,
        }
    }
    t
}

/// The JUnit element a case becomes: the whole status-to-element mapping.
#[derive(Debug, PartialEq)]
enum Outcome {
    Passed,
    /// `<failure>`: the case ran and did not pass (scored below, crashed, no score).
    Failure {
        message: String,
        body: String,
    },
    /// `<error>`: the case got no verdict (rejected, incomplete, cancelled).
    Error {
        message: String,
    },
    /// `<skipped>`: a non-blocking (quarantined) case that did not pass.
    Skipped {
        message: String,
    },
}

fn outcome(case: &CaseReport) -> Outcome {
    let reason = case.reason.clone().unwrap_or_else(|| case.status.name().to_owned());
    match case.status {
        Status::Passed => Outcome::Passed,
        _ if !case.blocking => Outcome::Skipped {
            message: match &case.note {
                Some(note) => format!("non-blocking ({note}): {}: {reason}", case.status.name()),
                None => format!("non-blocking: {}: {reason}", case.status.name()),
            },
        },
        Status::Failed | Status::Errored => {
            let mut body = String::new();
            if let Some(error) = &case.error {
                let _ = writeln!(body, "Kapso error: {error}");
            }
            if let Some(feedback) = &case.feedback {
                body.push_str(feedback);
            }
            Outcome::Failure { message: reason, body }
        }
        Status::Rejected | Status::Incomplete | Status::Cancelled => Outcome::Error { message: reason },
    }
}

fn render_suite(out: &mut String, report: &Report, name: &str, cases: &[&CaseReport]) {
    let t = tally(cases.iter().copied());
    let counts = [t.tests, t.failures, t.errors, t.skipped].map(|n| n.to_string());
    let time = seconds(t.time_ms);
    open(
        out,
        2,
        "testsuite",
        &[
            ("name", name),
            ("tests", &counts[0]),
            ("failures", &counts[1]),
            ("errors", &counts[2]),
            ("skipped", &counts[3]),
            ("time", &time),
            ("timestamp", report.started_at.as_str()),
        ],
        false,
    );
    open(out, 4, "properties", &[], false);
    let exit_code = report.exit_code.to_string();
    let threshold = fmt_score(report.threshold);
    let mut properties = vec![
        ("verdict", report.verdict.name()),
        ("exit_code", exit_code.as_str()),
        ("threshold", threshold.as_str()),
        ("tool_version", report.version.as_str()),
    ];
    let shard = report.shard.as_ref().map(|s| s.label());
    if let Some(shard) = &shard {
        properties.push(("shard", shard));
    }
    if let Some(message) = &report.message {
        properties.push(("message", message));
    }
    let baseline = report.binding.baseline.as_ref();
    let baseline_age = baseline.and_then(|b| b.age_ms).map(|ms| (ms / 1000).to_string());
    if let Some(baseline) = baseline {
        properties.push(("baseline_commit", baseline.commit.as_deref().unwrap_or("unknown")));
        properties.push(("baseline_recorded_at", &baseline.recorded_at));
    }
    if let Some(age) = &baseline_age {
        properties.push(("baseline_age_s", age));
    }
    let regression = report.regression_lines_with(str::to_owned);
    let regression_names: Vec<String> = (0..regression.len())
        .map(|i| match i {
            0 => "regression".to_owned(),
            1 => "regression_details".to_owned(),
            n => format!("regression_flip_{}", n - 1),
        })
        .collect();
    for (name, line) in regression_names.iter().zip(&regression) {
        properties.push((name, line));
    }
    for (name, value) in properties {
        open(out, 6, "property", &[("name", name), ("value", value)], true);
    }
    close(out, 4, "properties");
    for case in cases {
        render_case(out, case);
    }
    if let Some(message) = &report.message {
        element(out, 4, "system-err", &[], message);
    }
    close(out, 2, "testsuite");
}

fn render_case(out: &mut String, case: &CaseReport) {
    let classname = one_line(suite_name(case).unwrap_or(AD_HOC_CLASSNAME));
    let name = one_line(&case_name(case));
    let time = seconds(case.duration_ms.unwrap_or(0));
    open(
        out,
        4,
        "testcase",
        &[("classname", &classname), ("name", &name), ("time", &time)],
        false,
    );
    let kind = case.status.name();
    match outcome(case) {
        Outcome::Passed => {}
        Outcome::Skipped { message } => open(out, 6, "skipped", &[("message", &message)], true),
        Outcome::Failure { message, body } => {
            element(out, 6, "failure", &[("message", &message), ("type", kind)], &body);
        }
        Outcome::Error { message } => element(out, 6, "error", &[("message", &message), ("type", kind)], &message),
    }
    element(out, 6, "system-out", &[], &system_out(case));
    close(out, 4, "testcase");
}

/// `Refund policy (tc_123)`: the name people know and the ID to look it up by.
fn case_name(case: &CaseReport) -> String {
    case.label_with(str::to_owned)
}

/// Names are shown on one line by every CI; a newline in one would only garble the test list.
fn one_line(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\n', '\r'], " ")
}

/// The case's values, one per line, then the conversation.
fn system_out(case: &CaseReport) -> String {
    let mut out = format!("test_case_id: {}\nstatus: {}\n", case.test_case_id, case.status.name());
    if !case.blocking {
        out.push_str("blocking: false\n");
    }
    if case.carried_over {
        out.push_str("carried_over: true\n");
    }
    let score = case.score.map(fmt_score).unwrap_or_else(|| "-".into());
    let _ = writeln!(out, "score: {score}\nthreshold: {}", fmt_score(case.threshold));
    if let Some(run_id) = &case.run_id {
        let _ = writeln!(out, "run_id: {run_id}");
    }
    if let Some(scores) = case.trial_scores() {
        let _ = writeln!(out, "trial_scores: {scores}");
    }
    if let Some(spread) = case.score_spread {
        let _ = writeln!(out, "score_spread: {}", fmt_score(spread));
    }
    if let Some(sentence) = case.certainty_sentence() {
        // A MIN..MAX case: only the bound its verdict rests on is meaningful.
        let _ = writeln!(out, "certainty: {sentence}");
    } else if let Some(interval) = &case.interval {
        let _ = writeln!(
            out,
            "interval: [{}, {}] at {}",
            fmt_score(interval.lower),
            fmt_score(interval.upper),
            fmt_score(interval.confidence)
        );
    }
    if let Some(decision) = case.decision {
        let _ = writeln!(
            out,
            "decision: {}",
            match decision {
                super::model::Certainty::Certain => "certain",
                super::model::Certainty::Inconclusive => "inconclusive",
            }
        );
    }
    if let (Some(base), Some(delta)) = (case.baseline_score, case.delta) {
        let _ = writeln!(out, "baseline_score: {}\ndelta: {}", fmt_score(base), fmt_delta(delta));
    }
    if let Some(regression) = &case.regression {
        let _ = writeln!(out, "regression: {}", regression.phrase());
    }
    if let Some(note) = &case.note {
        let _ = writeln!(out, "note: {note}");
    }
    if !case.blocking && case.status != Status::Passed {
        if let Some(feedback) = &case.feedback {
            let _ = writeln!(out, "feedback:\n{feedback}");
        }
    }
    if let Some(conversation) = case.conversation.as_ref().filter(|c| !is_empty(c)) {
        let _ = write!(out, "conversation:\n{}", conversation_text(conversation));
    }
    out
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// `role: content` per message when the conversation has that shape, pretty JSON otherwise.
fn conversation_text(conversation: &Value) -> String {
    let mut out = String::new();
    let Some(messages) = conversation.as_array() else {
        return serde_json::to_string_pretty(conversation).unwrap_or_default() + "\n";
    };
    for message in messages {
        match (
            message.get("role").and_then(Value::as_str),
            message.get("content").and_then(Value::as_str),
        ) {
            (Some(role), Some(content)) => {
                let _ = writeln!(out, "{role}: {content}");
            }
            _ => {
                let _ = writeln!(out, "{message}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::exit::Exit;
    use crate::report::test_fixtures::{case, gate_failure, report};

    #[test]
    fn escaping() {
        assert_eq!(
            text("a&b<c>d\"e'f ]]> \u{0}\u{1b}\u{fffe}\r\n\t🎉 مرحبا"),
            "a&amp;b&lt;c&gt;d&quot;e&apos;f ]]&gt; \\u{0}\\u{1b}\\u{fffe}&#13;\n\t🎉 مرحبا"
        );
        assert_eq!(attr("l1\nl2\t\r"), "l1&#10;l2&#9;&#13;");
        assert_eq!(seconds(12_500), "12.500");
        assert_eq!(seconds(7), "0.007");
    }

    #[test]
    fn a_sequential_case_says_what_its_verdict_rests_on_in_system_out() {
        let mut c = case("c1", Status::Failed);
        c.score = Some(0.55);
        c.interval = Some(crate::report::model::IntervalRecord {
            lower: 0.0,
            upper: 0.7904,
            confidence: 0.95,
            kind: crate::report::model::IntervalKind::Sequential,
        });
        c.decision = Some(crate::report::model::Certainty::Certain);
        c.bound = Some(crate::report::model::BoundRecord {
            side: crate::report::model::BoundSide::Upper,
            value: 0.7904,
            confidence: 0.95,
        });
        let xml = render(&report(vec![c]));
        assert!(
            xml.contains("\ncertainty: fails: mean certainly below 0.8 (at most 0.7904, 95 %)\ndecision: certain\n"),
            "{xml}"
        );
        assert!(
            !xml.contains("interval: [0,"),
            "the end the bets never aimed at is not shown\n{xml}"
        );
    }

    #[test]
    fn an_interval_and_a_decision_are_in_system_out() {
        let mut c = case("c1", Status::Passed);
        c.interval = Some(crate::report::model::IntervalRecord {
            lower: 0.81,
            upper: 1.0,
            confidence: 0.95,
            kind: crate::report::model::IntervalKind::Sequential,
        });
        c.decision = Some(crate::report::model::Certainty::Certain);
        let xml = render(&report(vec![c]));
        assert!(
            xml.contains("\ninterval: [0.81, 1] at 0.95\ndecision: certain\n"),
            "{xml}"
        );
    }

    #[test]
    fn the_shard_is_a_suite_property_and_a_carried_over_pass_says_so() {
        let mut carried = case("c1", Status::Passed);
        carried.carried_over = true;
        let mut r = report(vec![carried, case("c2", Status::Failed)]);
        r.shard = Some(crate::report::ShardRecord {
            index: 2,
            total: 3,
            selected: Some(6),
            selection_digest: Some("00".into()),
        });
        let xml = render(&r);
        assert_eq!(
            xml.matches("<property name=\"shard\" value=\"2/3\"/>").count(),
            1,
            "{xml}"
        );
        assert_eq!(
            xml.matches("\ncarried_over: true\n").count(),
            1,
            "in <system-out>: junit-10.xsd has no properties in a testcase\n{xml}"
        );
    }

    #[test]
    fn one_suite_per_kapso_suite() {
        let mut passed = case("c1", Status::Passed);
        passed.suite_id = Some("s1".into());
        passed.suite_name = Some("Support".into());
        let failed = case("c2", Status::Failed);
        let mut errored = case("c3", Status::Errored);
        errored.conversation = None;
        let rejected = case("c4", Status::Rejected);
        let mut quarantined = case("c5", Status::Incomplete);
        quarantined.blocking = false;
        let r = report(vec![passed, failed, errored, rejected, quarantined]);
        assert_eq!(
            render(&r),
            r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="kapso-gate" tests="5" failures="2" errors="1" time="20.000">
  <testsuite name="Support" tests="1" failures="0" errors="0" skipped="0" time="12.500" timestamp="2026-01-01T10:00:00.000Z">
    <properties>
      <property name="verdict" value="failed"/>
      <property name="exit_code" value="1"/>
      <property name="threshold" value="0.8"/>
      <property name="tool_version" value="0.1.0"/>
    </properties>
    <testcase classname="Support" name="Case c1 (c1)" time="12.500">
      <system-out>test_case_id: c1
status: passed
score: 0.9
threshold: 0.8
run_id: run-c1
conversation:
user: Hi
assistant: Hello!
</system-out>
    </testcase>
  </testsuite>
  <testsuite name="kapso-gate" tests="4" failures="2" errors="1" skipped="1" time="25.000" timestamp="2026-01-01T10:00:00.000Z">
    <properties>
      <property name="verdict" value="failed"/>
      <property name="exit_code" value="1"/>
      <property name="threshold" value="0.8"/>
      <property name="tool_version" value="0.1.0"/>
    </properties>
    <testcase classname="kapso" name="Case c2 (c2)" time="12.500">
      <failure message="score 0.5 is below the threshold 0.8" type="failed">Wrong hours.</failure>
      <system-out>test_case_id: c2
status: failed
score: 0.5
threshold: 0.8
run_id: run-c2
conversation:
user: Hi
assistant: Hello!
</system-out>
    </testcase>
    <testcase classname="kapso" name="Case c3 (c3)" time="12.500">
      <failure message="Kapso reported an error: boom" type="errored">Kapso error: boom
</failure>
      <system-out>test_case_id: c3
status: errored
score: -
threshold: 0.8
run_id: run-c3
</system-out>
    </testcase>
    <testcase classname="kapso" name="Case c4 (c4)" time="0.000">
      <error message="HTTP 404: test case not found" type="rejected">HTTP 404: test case not found</error>
      <system-out>test_case_id: c4
status: rejected
score: -
threshold: 0.8
</system-out>
    </testcase>
    <testcase classname="kapso" name="Case c5 (c5)" time="0.000">
      <skipped message="non-blocking: incomplete: deadline reached"/>
      <system-out>test_case_id: c5
status: incomplete
blocking: false
score: -
threshold: 0.8
</system-out>
    </testcase>
  </testsuite>
</testsuites>
"#
        );
    }

    #[test]
    fn a_gate_failure_still_gives_a_document() {
        let r = gate_failure(Exit::Usage, "no test cases selected");
        assert_eq!(
            render(&r),
            r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="kapso-gate" tests="0" failures="0" errors="0" time="20.000">
  <testsuite name="kapso-gate" tests="0" failures="0" errors="0" skipped="0" time="0.000" timestamp="2026-01-01T10:00:00.000Z">
    <properties>
      <property name="verdict" value="usage"/>
      <property name="exit_code" value="2"/>
      <property name="threshold" value="0.8"/>
      <property name="tool_version" value="0.1.0"/>
      <property name="message" value="no test cases selected"/>
    </properties>
    <system-err>no test cases selected</system-err>
  </testsuite>
</testsuites>
"#
        );
    }

    #[test]
    fn hostile_text_keeps_the_document_well_formed() {
        let hostile = "x\n::error::x %0A %25 | <script>alert(1)</script> ]]> \u{0}\u{1b} 🎉 \u{202e}مرحبا \u{ffff}";
        let mut bad = case(hostile, Status::Failed);
        bad.name = Some(hostile.into());
        bad.suite_id = Some(hostile.into());
        bad.feedback = Some(format!("{hostile}{}", "y".repeat(200_000)));
        bad.conversation = Some(serde_json::json!([{"role": hostile, "content": hostile}, hostile]));
        let mut errored = case("c2", Status::Errored);
        errored.error = Some(hostile.into());
        let xml = render(&report(vec![bad, errored]));
        assert!(!xml.contains("<script>") && !xml.contains("]]>") && !xml.contains('\u{0}'));
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let case = doc
            .descendants()
            .find(|n| n.has_tag_name("testcase"))
            .expect("a testcase");
        let expected_name = hostile
            .replace('\n', " ")
            .replace('\u{0}', "\\u{0}")
            .replace('\u{1b}', "\\u{1b}")
            .replace('\u{ffff}', "\\u{ffff}");
        assert_eq!(case.attribute("name"), Some(expected_name.as_str()));
        assert_eq!(case.attribute("classname"), Some(expected_name.as_str()));
        let failure = case.children().find(|n| n.has_tag_name("failure")).expect("failure");
        let feedback = expected_name.replacen(' ', "\n", 1);
        assert!(failure.text().unwrap_or_default().starts_with(&feedback));
        assert_eq!(doc.descendants().filter(|n| n.has_tag_name("testcase")).count(), 2);
    }
}
