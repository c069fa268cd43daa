//! End-to-end checks of every report surface: the real binary runs against kapso-sim with
//! `GITHUB_ACTIONS=true` and temporary `GITHUB_STEP_SUMMARY` / `GITHUB_OUTPUT` files, for each
//! exit code 0 to 4 and with hostile text in names, feedback and errors. JSON is validated
//! against `docs/report.schema.json` with the small validator below; JUnit is parsed with
//! roxmltree.

use crate::support;
use crate::support::report::{github_outputs, json_report};
use crate::support::{Finished, KEY};
use kapso_gate::report::github::OUTPUT_NAMES;
use kapso_sim::{CaseSpec, Scenario, Sim, SuiteSpec};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/report.schema.json");

/// Text an LLM judge or a chat user could produce to break a report surface.
const HOSTILE: &str = "Evil\n::error::x %0A %25 | <script>alert(1)</script> ]]> \u{0}\u{1b}[31m 🎉 \u{202e}مرحبا `code` [link](https://e.vil)";

/// Where one gate invocation writes.
struct Files {
    json: PathBuf,
    junit: PathBuf,
    summary: PathBuf,
    output: PathBuf,
}

impl Files {
    fn new(name: &str) -> Files {
        let dir = support::temp_dir(name);
        Files {
            json: dir.join("reports/kapso.json"),
            junit: dir.join("reports/junit/kapso.xml"),
            summary: dir.join("step_summary.md"),
            output: dir.join("github_output"),
        }
    }

    /// The gate as GitHub Actions runs it, writing every report (JSON by flag, JUnit by env).
    fn gate(&self, base_url: &str) -> Command {
        let mut cmd = support::gate(base_url);
        cmd.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &self.summary)
            .env("GITHUB_OUTPUT", &self.output)
            .env("KAPSO_JUNIT", &self.junit)
            .arg("--json")
            .arg(&self.json);
        cmd
    }
}

/// What every surface must agree on.
struct Expected {
    code: i32,
    verdict: &'static str,
    total: usize,
}

/// Checks every file and stdout against `expected`; returns the JSON report.
fn check_reports(files: &Files, out: &Finished, expected: &Expected) -> Value {
    assert_eq!(out.code, expected.code, "{}", out.all_output());
    assert!(
        out.stdout.starts_with(&format!("::add-mask::{KEY}\n")),
        "the key is masked first\n{}",
        out.stdout
    );
    check_workflow_commands(&out.stdout);
    check_workflow_commands(&out.stderr);

    let json = json_report(&files.json);
    assert_schema(&json);
    assert_eq!(json["verdict"], expected.verdict);
    assert_eq!(json["exit_code"], expected.code);
    assert_eq!(json["cases"].as_array().map(Vec::len), Some(expected.total));

    let count = |field: &str| json["counts"][field].as_u64().unwrap_or_default();
    check_junit(&support::read(&files.junit), expected, count);
    check_summary(&support::read(&files.summary), expected);
    check_outputs(files, expected, count);
    json
}

/// The JUnit report has one testcase per case, with the JSON report's failures and errors.
fn check_junit(xml: &str, expected: &Expected, n: impl Fn(&str) -> u64) {
    let doc = roxmltree::Document::parse(xml).expect("the JUnit report is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let testcases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(testcases.len(), expected.total, "one testcase per case");
    assert_eq!(root.attribute("tests"), Some(expected.total.to_string().as_str()));
    let count = |tag: &str| doc.descendants().filter(|n| n.has_tag_name(tag)).count() as u64;
    assert_eq!(count("failure"), n("failed") + n("errored"));
    assert_eq!(count("error"), n("rejected") + n("incomplete") + n("cancelled"));
    assert_eq!(root.attribute("failures"), Some(count("failure").to_string().as_str()));
    assert_eq!(root.attribute("errors"), Some(count("error").to_string().as_str()));
    for suite in root.children().filter(|n| n.is_element()) {
        assert_eq!(suite.tag_name().name(), "testsuite");
        let cases = suite.children().filter(|n| n.has_tag_name("testcase")).count();
        assert_eq!(suite.attribute("tests"), Some(cases.to_string().as_str()));
    }
    for case in &testcases {
        assert!(case.attribute("classname").is_some_and(|c| !c.is_empty()));
        assert!(case.attribute("name").is_some_and(|c| !c.is_empty()));
        assert!(case.attribute("time").is_some_and(|t| t.parse::<f64>().is_ok()));
        // junit-10.xsd has no <properties> in a <testcase>: the values are in <system-out>.
        assert!(!case.descendants().any(|n| n.has_tag_name("properties")));
        let system_out = case
            .children()
            .find(|n| n.has_tag_name("system-out"))
            .and_then(|n| n.text())
            .unwrap_or_default();
        assert!(
            system_out.contains("\nthreshold: ") && system_out.starts_with("test_case_id: "),
            "{system_out}"
        );
    }
}

/// The step summary opens with the verdict and has a table row per case.
fn check_summary(summary: &str, expected: &Expected) {
    assert!(
        summary.starts_with(&format!(
            "### {} kapso-gate {}",
            if expected.code == 0 { "✅" } else { "❌" },
            expected.verdict
        )),
        "{summary:.500}"
    );
    assert!(summary.len() < 1_000_000);
    let rows = summary.lines().filter(|l| l.starts_with("| ")).count();
    assert_eq!(
        rows,
        if expected.total == 0 { 0 } else { expected.total + 2 },
        "{summary:.3000}"
    );
}

/// GitHub's outputs are every declared one, agreeing with the JSON report's counts.
fn check_outputs(files: &Files, expected: &Expected, n: impl Fn(&str) -> u64) {
    let outputs = github_outputs(&support::read(&files.output));
    let names: Vec<&str> = outputs.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names, OUTPUT_NAMES,
        "every output, json-report included since the JSON was written"
    );
    let output = |name: &str| outputs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(output("verdict"), Some(expected.verdict));
    assert_eq!(output("exit-code"), Some(expected.code.to_string().as_str()));
    assert_eq!(output("total"), Some(expected.total.to_string().as_str()));
    for status in ["passed", "failed", "errored", "rejected", "incomplete", "cancelled"] {
        assert_eq!(output(status), Some(n(status).to_string().as_str()), "{status}");
    }
    assert_eq!(output("json-report"), files.json.to_str());
}

/// No line the runner would read as a workflow command (it trims leading whitespace) comes
/// from untrusted text: outside stop-commands blocks only the gate's own commands start with
/// `::`, and every block is closed by its token.
fn check_workflow_commands(stream: &str) {
    let own = [
        "::add-mask::",
        "::error title=kapso-gate%3A ",
        "::warning title=kapso-gate%3A ",
        "::notice title=kapso-gate::",
        "::group::kapso-gate: ",
        "::endgroup::",
    ];
    let mut stopped: Option<String> = None;
    for line in stream.lines() {
        let trimmed = line.trim_start();
        if let Some(token) = &stopped {
            if trimmed == format!("::{token}::") {
                stopped = None;
            }
            continue;
        }
        if let Some(token) = trimmed.strip_prefix("::stop-commands::") {
            assert!(token.len() >= 16, "token too short: {token}");
            stopped = Some(token.to_owned());
            continue;
        }
        if trimmed.starts_with("::") {
            assert!(
                own.iter().any(|p| trimmed.starts_with(p)),
                "untrusted workflow command: {line:.200}"
            );
        }
        assert!(
            !line.contains('\r'),
            "a carriage return could start a new line for the runner"
        );
    }
    assert!(stopped.is_none(), "unterminated stop-commands block");
}

/// Whether `value` is of the type, or one of the types, that `rule` names.
fn has_type(rule: &Value, value: &Value) -> bool {
    let types: Vec<&str> = match rule {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => panic!("bad type rule {rule}"),
    };
    types.iter().any(|t| match *t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_u64() || value.is_i64(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("unknown type {other}"),
    })
}

/// Asserts that `json` is a report as `docs/report.schema.json` describes it.
pub(crate) fn assert_schema(json: &Value) {
    let schema: Value = serde_json::from_str(&support::read(PathBuf::from(SCHEMA_PATH).as_path())).expect("schema");
    let errors = validate(&schema, &schema, json, "$");
    assert!(
        errors.is_empty(),
        "the JSON report breaks the schema:\n{}",
        errors.join("\n")
    );
}

/// Validates `value` against `schema`, supporting exactly the JSON Schema subset the report
/// schema uses (and refusing any other keyword, so the schema cannot silently outgrow it).
fn validate(root: &Value, schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(schema) = schema.as_object() else {
        return vec![format!("{path}: schema is not an object")];
    };
    for (keyword, rule) in schema {
        match keyword.as_str() {
            "$schema" | "$id" | "title" | "description" | "$defs" => {}
            "$ref" => {
                let name = rule
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .unwrap_or_else(|| panic!("unsupported $ref {rule}"));
                errors.extend(validate(root, &root["$defs"][name], value, path));
            }
            "type" => {
                if !has_type(rule, value) {
                    errors.push(format!("{path}: {value} is not of type {rule}"));
                }
            }
            "enum" => {
                if !rule.as_array().is_some_and(|options| options.contains(value)) {
                    errors.push(format!("{path}: {value} is not one of {rule}"));
                }
            }
            "const" => {
                if rule != value {
                    errors.push(format!("{path}: {value} is not {rule}"));
                }
            }
            "format" => {
                assert_eq!(rule, "date-time", "the test validator supports only date-time");
                if let Some(text) = value.as_str() {
                    if !is_rfc3339(text) {
                        errors.push(format!("{path}: {text:?} is not an RFC 3339 date-time"));
                    }
                }
            }
            "minimum" => {
                if let (Some(min), Some(v)) = (rule.as_f64(), value.as_f64()) {
                    if v < min {
                        errors.push(format!("{path}: {v} is below {min}"));
                    }
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for field in rule.as_array().into_iter().flatten().filter_map(Value::as_str) {
                        if !object.contains_key(field) {
                            errors.push(format!("{path}: missing {field}"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(object) = value.as_object() {
                    for (field, sub) in rule.as_object().into_iter().flatten() {
                        if let Some(v) = object.get(field) {
                            errors.extend(validate(root, sub, v, &format!("{path}.{field}")));
                        }
                    }
                }
            }
            "additionalProperties" => {
                assert_eq!(
                    rule,
                    &Value::Bool(false),
                    "only additionalProperties: false is supported"
                );
                let known = schema.get("properties").and_then(Value::as_object);
                if let Some(object) = value.as_object() {
                    for field in object.keys() {
                        if !known.is_some_and(|k| k.contains_key(field)) {
                            errors.push(format!("{path}: undocumented field {field}"));
                        }
                    }
                }
            }
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    errors.extend(validate(root, rule, item, &format!("{path}[{i}]")));
                }
            }
            other => panic!("the test validator does not support the keyword {other}"),
        }
    }
    errors
}

/// RFC 3339 `date-time`: `2026-01-01T10:00:00Z`, fractions and offsets allowed.
fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| b.get(range).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    rest == "Z"
        || rest == "z"
        || (rest.len() == 6 && matches!(rest.as_bytes()[0], b'+' | b'-') && rest.as_bytes()[3] == b':')
}

#[test]
fn the_date_time_check_can_fail() {
    assert!(is_rfc3339("2026-01-01T10:00:00.123Z"));
    assert!(is_rfc3339("2026-01-01T10:00:00+02:00"));
    assert!(!is_rfc3339("yesterday"));
    assert!(!is_rfc3339("2026-01-01 10:00:00"));
}

#[test]
fn schema_describes_every_field() {
    let schema: Value = serde_json::from_str(&support::read(PathBuf::from(SCHEMA_PATH).as_path())).expect("schema");
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    fn walk(node: &Value, path: &str, missing: &mut Vec<String>) {
        let Some(object) = node.as_object() else { return };
        for key in ["properties", "$defs"] {
            for (name, sub) in object.get(key).and_then(Value::as_object).into_iter().flatten() {
                if sub.get("description").and_then(Value::as_str).is_none_or(str::is_empty) {
                    missing.push(format!("{path}/{key}/{name}"));
                }
                walk(sub, &format!("{path}/{key}/{name}"), missing);
            }
        }
    }
    let mut missing = Vec::new();
    walk(&schema, "#", &mut missing);
    assert!(missing.is_empty(), "fields without a description: {missing:?}");
    let bad = serde_json::json!({"schema_version": 2});
    assert!(
        validate(&schema, &schema, &bad, "$").len() > 5,
        "the validator rejects a wrong report"
    );
}

#[test]
fn exit_0_reports() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(CaseSpec::passing("c1", 0.9).duration_ms(50))
            .case(CaseSpec::passing("c2", 1.0).duration_ms(50)),
    );
    let files = Files::new("reports-0");
    let out = support::run(files.gate(&sim.base_url()).args(["c1", "c2"]));
    let expected = Expected {
        code: 0,
        verdict: "passed",
        total: 2,
    };
    check_reports(&files, &out, &expected);
    assert!(!out.stdout.contains("::error"), "{}", out.stdout);
}

#[test]
fn exit_1_reports_with_at_most_ten_annotations() {
    let mut scenario = Scenario::new(KEY).case(CaseSpec::passing("ok", 0.9).duration_ms(50));
    let mut ids = vec!["ok".to_owned()];
    for i in 0..11 {
        let id = format!("f{i:02}");
        scenario = scenario.case(
            CaseSpec::new(&id)
                .score(0.2)
                .feedback(format!("wrong answer {i}"))
                .duration_ms(50),
        );
        ids.push(id);
    }
    scenario = scenario.case(CaseSpec::new("crash").crash("agent exploded").duration_ms(50));
    ids.push("crash".into());
    let sim = Sim::start(scenario);
    let files = Files::new("reports-1");
    let out = support::run(files.gate(&sim.base_url()).args(&ids));
    let json = check_reports(
        &files,
        &out,
        &Expected {
            code: 1,
            verdict: "failed",
            total: 13,
        },
    );
    assert_eq!(json["counts"]["failed"], 11);
    assert_eq!(json["counts"]["errored"], 1);
    let errors: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(errors.len(), 10, "{}", out.stdout);
    assert!(
        errors.iter().all(|l| l.contains("failed%2C score 0.2 < 0.8")),
        "failed cases come first"
    );
    assert!(out
        .stdout
        .contains("::notice title=kapso-gate::2 more non-passing cases are not annotated"));
    assert_eq!(
        out.stdout.matches("::group::").count(),
        12,
        "every non-passing case has a group"
    );
    let summary = support::read(&files.summary);
    assert!(
        summary.contains("*2 more non-passing cases are not annotated: GitHub shows at most 10 annotations per step.*")
    );
    assert!(
        summary.contains("Kapso reported an error\\: RuntimeError\\: agent exploded\n"),
        "{summary}"
    );
    let xml = support::read(&files.junit);
    assert!(
        xml.contains("<failure message=\"Kapso reported an error: RuntimeError: agent exploded\" type=\"errored\">")
    );
}

#[test]
fn exit_2_reports_the_usage_error() {
    let sim = Sim::start(Scenario::new(KEY));
    let files = Files::new("reports-2");
    let out = support::run(&mut files.gate(&sim.base_url()));
    let json = check_reports(
        &files,
        &out,
        &Expected {
            code: 2,
            verdict: "usage",
            total: 0,
        },
    );
    assert!(json["message"]
        .as_str()
        .is_some_and(|m| m.contains("no test cases selected")));
    assert!(
        out.stdout
            .contains("::error title=kapso-gate%3A usage::no test cases selected"),
        "{}",
        out.stdout
    );
    assert!(support::read(&files.summary).contains("**Error:** no test cases selected"));
    assert!(support::read(&files.junit).contains("<system-err>no test cases selected"));
    assert!(sim.requests().is_empty());
}

#[test]
fn exit_3_reports_rejected_cases() {
    let sim = Sim::start(Scenario::new(KEY).case(CaseSpec::passing("c1", 0.9).duration_ms(50)));
    let files = Files::new("reports-3");
    let out = support::run(files.gate(&sim.base_url()).args(["c1", "no-such-case"]));
    let json = check_reports(
        &files,
        &out,
        &Expected {
            code: 3,
            verdict: "rejected",
            total: 2,
        },
    );
    assert_eq!(json["counts"]["rejected"], 1);
    let xml = support::read(&files.junit);
    assert!(xml.contains("type=\"rejected\""), "{xml}");
}

#[test]
fn exit_4_reports_incomplete_cases() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(CaseSpec::passing("quick", 0.9).duration_ms(50))
            .case(CaseSpec::new("stuck").never_finishes()),
    );
    let files = Files::new("reports-4");
    let out = support::run(
        files
            .gate(&sim.base_url())
            .env("KAPSO_TIMEOUT", "700ms")
            .args(["quick", "stuck"]),
    );
    let json = check_reports(
        &files,
        &out,
        &Expected {
            code: 4,
            verdict: "incomplete",
            total: 2,
        },
    );
    assert_eq!(json["counts"]["incomplete"], 1);
    assert!(support::read(&files.junit).contains("type=\"incomplete\""));
}

#[test]
fn hostile_text_stays_data_on_every_surface() {
    let huge = format!("{HOSTILE}\n{}", "y".repeat(200 * 1024));
    let sim = Sim::start(
        Scenario::new(KEY)
            .suite(SuiteSpec::new("s1").name(HOSTILE).cases(["h1", "h2", "h3", "h4"]))
            .case(
                CaseSpec::new("h1")
                    .name(HOSTILE)
                    .score(0.3)
                    .feedback(HOSTILE)
                    .duration_ms(50),
            )
            .case(
                CaseSpec::new("h2")
                    .name("مرحبا 🎉 \u{202e}txt")
                    .score(0.1)
                    .feedback(huge)
                    .duration_ms(50),
            )
            .case(CaseSpec::new("h3").name(HOSTILE).crash(HOSTILE).duration_ms(50))
            .case(
                CaseSpec::new("h4")
                    .name(HOSTILE)
                    .score(0.95)
                    .feedback(HOSTILE)
                    .duration_ms(50),
            ),
    );
    let files = Files::new("reports-hostile");
    let out = support::run(files.gate(&sim.base_url()).args(["--suite", "s1"]));
    let json = check_reports(
        &files,
        &out,
        &Expected {
            code: 1,
            verdict: "failed",
            total: 4,
        },
    );
    let cases = json["cases"].as_array().expect("cases");
    assert_eq!(cases[0]["name"], HOSTILE, "JSON keeps the text exactly");
    assert_eq!(cases[0]["feedback"], HOSTILE);
    assert!(cases[1]["feedback"].as_str().is_some_and(|f| f.len() > 200 * 1024));

    let summary = support::read(&files.summary);
    let table_end = summary.find("<details>").expect("details blocks");
    assert!(!summary[..table_end].contains("<script>"), "{summary:.2000}");
    assert!(!summary.contains('\u{0}') && !summary.contains('\u{1b}'));
    assert!(summary.contains("*Feedback truncated: "), "the 200 KB feedback is cut");
    assert!(summary.contains("the JSON report (`--json`) has all of it"));

    let xml = support::read(&files.junit);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed");
    let suite = doc.descendants().find(|n| n.has_tag_name("testsuite")).expect("suite");
    assert!(
        suite
            .attribute("name")
            .is_some_and(|n| n.starts_with("Evil ::error::x")),
        "{xml:.500}"
    );
    let failure = doc.descendants().find(|n| n.has_tag_name("failure")).expect("failure");
    assert!(failure
        .text()
        .is_some_and(|t| t.contains("<script>alert(1)</script> ]]>")));

    assert!(out
        .stdout
        .contains("::error title=kapso-gate%3A Evil ↵ %3A%3Aerror%3A%3Ax %250A %2525"));
    let outputs = github_outputs(&support::read(&files.output));
    assert_eq!(outputs.len(), OUTPUT_NAMES.len());
}

/// An argument clap itself refuses still leaves a usage verdict in GitHub's outputs, the step
/// summary and the JSON report named by the environment.
#[test]
fn an_unknown_flag_is_reported_as_a_usage_error() {
    let files = Files::new("unknown-flag");
    let out = support::run(
        support::gate("http://127.0.0.1:9")
            .args(["c1", "--treshold", "0.9"])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &files.summary)
            .env("GITHUB_OUTPUT", &files.output)
            .env("KAPSO_JSON", &files.json),
    );
    assert_eq!(out.code, 2, "{}", out.all_output());
    assert!(support::read(&files.output).contains("verdict<<"), "outputs written");
    assert!(
        support::read(&files.output).contains("\nusage\n"),
        "{}",
        support::read(&files.output)
    );
    assert!(support::read(&files.summary).contains("usage"));
    let report = json_report(&files.json);
    assert_eq!(report["verdict"], "usage");
    assert_eq!(report["exit_code"], 2);
}
