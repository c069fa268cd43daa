//! Property tests of the defences against hostile input: the response parser never panics on
//! arbitrary bytes or JSON, the escapers keep any string inert (valid XML 1.0, no workflow
//! command, one Markdown table cell, no terminal control), and ID encoding round-trips and always
//! yields one path segment.

use kapso_gate::domain::exit::Exit;
use kapso_gate::domain::ids;
use kapso_gate::policy::verdict::{Aggregate, Status};
use kapso_gate::report::{github, junit, markdown, text, CaseReport, Counts, Report};
use kapso_gate::run::client::wire;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngAlgorithm, RngSeed};
use serde_json::{json, Map, Value};

const CASES: u32 = 256;

/// The seed every run draws its inputs from, unless `PROPTEST_RNG_SEED` names another (to
/// explore: `PROPTEST_RNG_SEED=$RANDOM cargo test`).
const SEED: u64 = 0x6b61_7073_6f67_6174;

/// Reproducible property tests: the same inputs on every run of `cargo test`, in CI and on a
/// laptop, so a run passes or fails for the code, never for the draw. A failure found (with
/// another seed) is written to `tests/proptest-regressions/` and, committed, replayed first.
pub fn config() -> ProptestConfig {
    // Reads the PROPTEST_* variables.
    let from_env = ProptestConfig::default();
    ProptestConfig {
        cases: CASES,
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel("proptest-regressions"))),
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: match from_env.rng_seed {
            RngSeed::Random => RngSeed::Fixed(SEED),
            chosen => chosen,
        },
        ..from_env
    }
}

// ---------------------------------------------------------------------------------------------
// Generators

/// Characters that break naive escapers, mixed with arbitrary ones.
fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => prop::sample::select(vec![
            '<', '>', '&', '"', '\'', '\n', '\r', '\t', '\0', '\u{1b}', '\u{7}', '\u{8}', '\u{b}', '\u{c}', '\u{7f}',
            '\u{85}', '\u{2028}', '\u{202e}', '\u{2066}', '\u{fffe}', '\u{ffff}', ']', '[', '|', ':', ',', '%', '`',
            '\\', '*', '_', '#', '!', '(', ')', '@', '$', '~', '-', '.', '/', '?', ' ',
        ]),
        2 => prop::char::range('a', 'z'),
    ]
}

/// Arbitrary text, biased towards what breaks escapers, plus fragments that look like commands
/// or markup.
fn text() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        4 => prop::collection::vec(hostile_char(), 0..12).prop_map(String::from_iter),
        1 => prop::sample::select(vec![
            "::error::pwned",
            "\n::error title=x::y\n",
            "::stop-commands::abc",
            "\n::endgroup::\n",
            "::add-mask::x",
            "]]>",
            "<![CDATA[",
            "&amp;",
            "%0A",
            "%25",
            "\r\n",
            "| a | b |",
            "<script>alert(1)</script>",
            "[x](http://e.vil)",
            "```",
            "\u{1b}[31m",
        ])
        .prop_map(str::to_owned),
    ];
    prop::collection::vec(fragment, 0..6).prop_map(|parts| parts.concat())
}

fn non_empty_text() -> impl Strategy<Value = String> {
    (hostile_char(), text()).prop_map(|(c, t)| format!("{c}{t}"))
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "data",
            "id",
            "score",
            "feedback",
            "execution_completed",
            "error",
            "message",
            "type",
            "errors",
            "test_case",
            "test_cases",
            "name",
            "test_suite_id",
            "conversation",
            "started_at",
            "ended_at",
        ])
        .prop_map(str::to_owned),
        text(),
    ]
}

/// Any JSON value, nested a few levels, with the field names the parser looks for.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((json_key(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// A report whose every free-text field is arbitrary. Built from JSON, so fields the model
/// gains later (optional ones) need no change here.
fn report() -> impl Strategy<Value = Report> {
    let case = (
        (
            non_empty_text(),
            text(),
            prop::option::of(text()),
            prop::option::of(text()),
        ),
        (text(), text(), text(), non_empty_text()),
        (prop::sample::select(Status::ALL.to_vec()), any::<bool>(), text()),
    );
    (
        prop::collection::vec(case, 1..4),
        prop::option::of(text()),
        prop::collection::vec(text(), 0..2),
    )
        .prop_map(|(cases, message, warnings)| {
            let cases: Vec<Value> = cases
                .into_iter()
                .enumerate()
                .map(
                    |(
                        index,
                        ((id, name, suite_id, suite_name), (reason, feedback, error, run_id), (status, blocking, said)),
                    )| {
                        let conversation = json!([
                            {"role": "user", "content": said},
                            {"role": "assistant", "content": feedback},
                        ]);
                        let trial = json!({
                            "trial": 0,
                            "run_id": run_id,
                            "status": status,
                            "score": 0.5,
                            "reason": reason,
                            "feedback": feedback,
                            "error": error,
                            "duration_ms": 1_500,
                            "conversation": conversation,
                        });
                        json!({
                            // Unique, so each case can be found in the output.
                            "test_case_id": format!("{index}{id}"),
                            "name": name,
                            "suite_id": suite_id,
                            "suite_name": suite_name,
                            "status": status,
                            "blocking": blocking,
                            "score": 0.5,
                            "threshold": 0.8,
                            "reason": reason,
                            "feedback": feedback,
                            "error": error,
                            "run_id": run_id,
                            "duration_ms": 1_500,
                            "conversation": conversation,
                            "trials": [trial],
                        })
                    },
                )
                .collect();
            let parsed: Vec<CaseReport> = serde_json::from_value(Value::Array(cases)).expect("valid cases");
            let report = json!({
                "schema_version": kapso_gate::report::SCHEMA_VERSION,
                "tool": "kapso-gate",
                "version": "0.1.0",
                "verdict": Exit::Failed,
                "exit_code": 1,
                "message": message,
                "threshold": 0.8,
                "aggregate": Aggregate::Mean,
                "trials": 1,
                "started_at": "2026-01-01T10:00:00.000Z",
                "finished_at": "2026-01-01T10:00:20.000Z",
                "duration_ms": 20_000,
                "base_url": "https://app.kapso.ai/api/v1",
                "counts": Counts::from_cases(&parsed),
                "requests": {"sent": 0, "retried": 0, "rate_limited": 0},
                "warnings": warnings,
                "cases": parsed,
            });
            serde_json::from_value(report).expect("a valid report")
        })
}

// ---------------------------------------------------------------------------------------------
// The parser

fn parse_everything(body: &[u8]) {
    let _ = wire::parse_run(body);
    let _ = wire::parse_case(body);
    let _ = wire::parse_suite(body);
    let _ = wire::parse_suites(body);
    if let Some(reason) = wire::error_reason(body) {
        assert!(!reason.chars().any(char::is_control), "{reason:?}");
        // Cut to 300 characters plus "..." (and a space the cut may leave before it).
        assert!(reason.chars().count() <= 304, "{} chars", reason.chars().count());
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_parser_never_panics_on_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_everything(&body);
    }

    #[test]
    fn the_parser_never_panics_on_arbitrary_json(value in json_value()) {
        parse_everything(value.to_string().as_bytes());
        parse_everything(json!({ "data": value }).to_string().as_bytes());
        parse_everything(json!({ "data": [value] }).to_string().as_bytes());
        parse_everything(json!({ "error": value, "message": value, "errors": value }).to_string().as_bytes());
    }

    #[test]
    fn any_field_of_a_run_may_have_any_type(
        id in non_empty_text(),
        fields in prop::collection::vec((json_key(), json_value()), 0..8),
    ) {
        let mut run: Map<String, Value> = fields.into_iter().collect();
        run.insert("id".into(), Value::String(id.clone()));
        let body = json!({ "data": run }).to_string();
        let parsed = wire::parse_run(body.as_bytes());
        // Kapso's IDs go into URL paths, so they are held to the rules for user-given IDs.
        if kapso_gate::domain::ids::validate(&id).is_err() {
            prop_assert!(matches!(parsed, Err(wire::WireError::BadId(_))), "{parsed:?} for {body}");
            return Ok(());
        }
        prop_assert!(parsed.is_ok(), "{parsed:?} for {body}");
        let parsed = parsed.unwrap_or_default();
        prop_assert_eq!(&parsed.id, &id);
        if let Some(score) = run.get("score").and_then(Value::as_f64).filter(|f| f.is_finite()) {
            prop_assert_eq!(parsed.score, Some(score));
        }
        let suite = json!({ "data": { "id": id, "test_cases": [run, 1, "x", null] } }).to_string();
        let parsed = wire::parse_suite(suite.as_bytes());
        prop_assert!(parsed.is_ok(), "{parsed:?} for {suite}");
        prop_assert_eq!(parsed.unwrap_or_default().test_cases.len(), 1);
    }
}

// ---------------------------------------------------------------------------------------------
// JUnit

/// What the JUnit renderer promises for text: characters XML 1.0 forbids become `\u{..}`.
fn xml_visible(text: &str) -> String {
    text.chars()
        .map(|c| {
            if matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}') {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn one_line(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\n', '\r'], " ")
}

fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// The `<system-out>` of a JUnit test case, where the case's values are (junit-10.xsd has no
/// `<properties>` inside `<testcase>`).
fn system_out<'a>(node: roxmltree::Node<'a, 'a>) -> &'a str {
    node.children()
        .find(|n| n.has_tag_name("system-out"))
        .and_then(|n| n.text())
        .unwrap_or_default()
}

/// The value lines `<system-out>` starts with for `case`, up to the threshold.
fn value_lines(case: &CaseReport) -> String {
    let blocking = if case.blocking { "" } else { "blocking: false\n" };
    let score = case.score.map(text::fmt_score).unwrap_or_else(|| "-".into());
    format!(
        "test_case_id: {}\nstatus: {}\n{blocking}score: {score}\nthreshold: {}\n",
        xml_visible(&case.test_case_id),
        case.status.name(),
        text::fmt_score(case.threshold)
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn junit_is_valid_xml_and_keeps_every_text(report in report()) {
        let xml = junit::render(&report);
        prop_assert!(xml.chars().all(xml_char), "a character XML 1.0 forbids");
        let doc = match roxmltree::Document::parse(&xml) {
            Ok(doc) => doc,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{xml}"))),
        };
        let testcases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
        prop_assert_eq!(testcases.len(), report.cases.len());
        for case in &report.cases {
            let values = value_lines(case);
            let node = testcases.iter().find(|n| system_out(**n).starts_with(&values));
            prop_assert!(node.is_some(), "no testcase starting {:?}\n{}", values, xml);
            let node = *node.unwrap_or(&testcases[0]);
            let rest = &system_out(node)[values.len()..];
            match case.run_id.as_deref().map(xml_visible) {
                Some(run_id) => prop_assert!(rest.starts_with(&format!("run_id: {run_id}\n")), "{}", rest),
                None => prop_assert!(!rest.starts_with("run_id: "), "{}", rest),
            }
            let display = case.display_name();
            let name = if display == case.test_case_id {
                display.to_owned()
            } else {
                format!("{display} ({})", case.test_case_id)
            };
            let name = xml_visible(&one_line(&name));
            prop_assert_eq!(node.attribute("name"), Some(name.as_str()));
            let reason = xml_visible(case.reason.as_deref().unwrap_or_default());
            let element = node.children().find(|n| n.has_tag_name("failure") || n.has_tag_name("error"));
            let skipped = node.children().find(|n| n.has_tag_name("skipped"));
            match (case.status, case.blocking) {
                (Status::Passed, _) => prop_assert!(element.is_none() && skipped.is_none()),
                (_, false) => {
                    let message = skipped.and_then(|s| s.attribute("message")).unwrap_or_default();
                    prop_assert!(message.ends_with(&reason), "{:?} does not end with {:?}", message, reason);
                }
                (Status::Failed | Status::Errored, true) => {
                    let failure = element.filter(|e| e.has_tag_name("failure"));
                    prop_assert!(failure.is_some(), "no <failure>\n{}", xml);
                    let failure = failure.unwrap_or(node);
                    prop_assert_eq!(failure.attribute("message"), Some(reason.as_str()));
                    let body = format!(
                        "Kapso error: {}\n{}",
                        case.error.as_deref().unwrap_or_default(),
                        case.feedback.as_deref().unwrap_or_default()
                    );
                    prop_assert_eq!(failure.text().unwrap_or_default(), xml_visible(&body));
                }
                (_, true) => {
                    let error = element.filter(|e| e.has_tag_name("error"));
                    prop_assert!(error.is_some(), "no <error>\n{}", xml);
                    let error = error.unwrap_or(node);
                    prop_assert_eq!(error.attribute("message"), Some(reason.as_str()));
                    prop_assert_eq!(error.text().unwrap_or_default(), reason.as_str());
                }
            }
            let system_out = node
                .children()
                .find(|n| n.has_tag_name("system-out"))
                .and_then(|n| n.text())
                .unwrap_or_default();
            let said = case.conversation.as_ref().and_then(|c| c[0]["content"].as_str()).unwrap_or_default();
            prop_assert!(
                system_out.contains(&xml_visible(&format!("user: {said}\n"))),
                "the conversation is missing from system-out"
            );
        }
    }

    #[test]
    fn junit_escapers_round_trip(raw in text()) {
        let xml = format!("<a b=\"{}\">{}</a>", junit::attr(&raw), junit::text(&raw));
        let doc = match roxmltree::Document::parse(&xml) {
            Ok(doc) => doc,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{xml}"))),
        };
        let root = doc.root_element();
        let expected = xml_visible(&raw);
        prop_assert_eq!(root.attribute("b"), Some(expected.as_str()));
        prop_assert_eq!(root.text().unwrap_or_default(), expected.as_str());
    }
}

// ---------------------------------------------------------------------------------------------
// GitHub workflow commands

/// Checks that every line GitHub's runner would read from `out` is one of the gate's own
/// commands, or inside a `::stop-commands::` block that ends exactly where the gate ends it.
fn assert_only_gate_commands(out: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !out.contains('\r'),
        "a carriage return could start a line for the runner"
    );
    let mut open_block: Option<String> = None;
    let mut expect_endgroup = false;
    for line in out.lines() {
        if let Some(token) = &open_block {
            if line == format!("::{token}::") {
                open_block = None;
                expect_endgroup = true;
            }
            continue;
        }
        if expect_endgroup {
            prop_assert_eq!(line, "::endgroup::", "a stop-commands block ended early\n{}", out);
            expect_endgroup = false;
            continue;
        }
        if let Some(token) = line.strip_prefix("::stop-commands::") {
            prop_assert!(
                token.len() >= 16 && token.chars().all(|c| c.is_ascii_alphanumeric()),
                "weak token {:?}",
                token
            );
            open_block = Some(token.to_owned());
            continue;
        }
        if line.starts_with("::group::") {
            continue;
        }
        let annotation = ["::error title=", "::warning title=", "::notice title="]
            .iter()
            .find_map(|prefix| line.strip_prefix(prefix));
        let Some(rest) = annotation else {
            return Err(TestCaseError::fail(format!(
                "not a command of the gate: {line:?}\n{out}"
            )));
        };
        let Some((title, _message)) = rest.split_once("::") else {
            return Err(TestCaseError::fail(format!("malformed annotation: {line:?}")));
        };
        prop_assert!(!title.contains([':', ',']), "unescaped property: {:?}", title);
    }
    prop_assert!(open_block.is_none(), "a stop-commands block is never closed\n{}", out);
    prop_assert!(!expect_endgroup, "a group is never closed\n{}", out);
    Ok(())
}

fn unescape_data(text: &str) -> String {
    text.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn annotations_never_start_a_command_of_their_own(report in report()) {
        assert_only_gate_commands(&github::annotations(&report))?;
    }

    #[test]
    fn inert_blocks_stay_inert(raw in text()) {
        let out = github::inert(&raw);
        let lines: Vec<&str> = out.lines().collect();
        let token = lines.first().and_then(|l| l.strip_prefix("::stop-commands::")).unwrap_or_default();
        prop_assert!(token.len() >= 16, "{:?}", out);
        let end = format!("::{token}::");
        prop_assert_eq!(lines.iter().position(|l| *l == end), Some(lines.len() - 1), "{:?}", out);
    }

    #[test]
    fn command_escapes_round_trip(raw in text()) {
        let data = github::escape_data(&raw);
        prop_assert!(!data.contains(['\n', '\r']));
        prop_assert_eq!(unescape_data(&data), raw.clone());
        let property = github::escape_property(&raw);
        prop_assert!(!property.contains(['\n', '\r', ':', ',']));
        prop_assert_eq!(unescape_data(&property), raw);
    }
}

// ---------------------------------------------------------------------------------------------
// Markdown

/// Unescaped `|` characters in a line of Markdown.
fn cell_separators(line: &str) -> usize {
    let mut count = 0;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '|' => count += 1,
            _ => {}
        }
    }
    count
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_markdown_cell_stays_one_cell(raw in text()) {
        let cell = markdown::inline(&raw);
        prop_assert!(!cell.contains(['\n', '\r']), "{:?}", cell);
        prop_assert_eq!(cell_separators(&cell), 0, "{:?}", cell);
        prop_assert!(!cell.chars().any(|c| c.is_control()), "{:?}", cell);
        prop_assert!(!cell.contains('<'), "{:?}", cell);
    }

    #[test]
    fn the_summary_table_has_one_row_per_case_and_no_extra_cell(report in report()) {
        let summary = markdown::render(&report, markdown::GITHUB_SUMMARY_BUDGET);
        let mut lines = summary.lines().skip_while(|l| !l.starts_with("| Status |"));
        let header = lines.next().unwrap_or_default();
        prop_assert!(!header.is_empty(), "no table\n{}", summary);
        let separators = cell_separators(header);
        prop_assert!(lines.next().is_some_and(|l| l.starts_with("| ---")), "no separator\n{}", summary);
        let rows: Vec<&str> = lines.take_while(|l| !l.is_empty()).collect();
        prop_assert_eq!(rows.len(), report.cases.len(), "{}", summary);
        for row in rows {
            prop_assert_eq!(cell_separators(row), separators, "{:?} under {:?}", row, header);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Terminal

fn bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sanitized_text_has_no_control_characters(raw in text()) {
        let one = text::sanitize(&raw, false);
        prop_assert!(!one.chars().any(|c| c.is_control() || bidi(c)), "{:?}", one);
        let multi = text::sanitize(&raw, true);
        prop_assert!(
            !multi.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || bidi(c)),
            "{:?}",
            multi
        );
        prop_assert_eq!(multi.matches('\n').count(), raw.matches('\n').count());
    }
}

// ---------------------------------------------------------------------------------------------
// IDs

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn an_id_is_one_path_segment_and_round_trips(id in text()) {
        let segment = ids::path_segment(&id);
        prop_assert!(!segment.contains('/'));
        let mut chars = segment.chars();
        while let Some(c) = chars.next() {
            if c == '%' {
                let hex: String = chars.by_ref().take(2).collect();
                prop_assert!(
                    hex.len() == 2 && hex.chars().all(|h| h.is_ascii_digit() || ('A'..='F').contains(&h)),
                    "bad escape in {:?}",
                    segment
                );
            } else {
                prop_assert!(c.is_ascii_alphanumeric() || "-._~".contains(c), "{:?} in {:?}", c, segment);
            }
        }
        prop_assert_eq!(percent_decode(&segment), Some(id.clone().into_bytes()));
        if ids::validate(&id).is_ok() {
            let url = url::Url::parse(&format!("https://app.kapso.ai/api/v1/test_runs/{segment}"));
            prop_assert!(url.is_ok(), "{:?}", url);
            let segments: Vec<String> = url
                .iter()
                .flat_map(|u| u.path_segments().into_iter().flatten().map(str::to_owned))
                .collect();
            prop_assert_eq!(segments, vec!["api", "v1", "test_runs", segment.as_str()]);
            prop_assert!(url.iter().all(|u| u.query().is_none() && u.fragment().is_none()));
        }
    }
}
