//! Kapso's wire format, parsed tolerantly: unknown fields are ignored, any field may be missing,
//! null or of an unexpected type. Parsing goes through `serde_json::Value` so that one odd field
//! never loses the rest of the object.

use crate::domain::outcome::FinishedRun;
use crate::domain::time::Timestamp;
use serde_json::{Map, Value};

/// A test run as the gate needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestRun {
    pub id: String,
    pub score: Option<f64>,
    /// Set when `score` was present but not a number (kept to explain the verdict).
    pub score_raw: Option<String>,
    pub feedback: Option<String>,
    pub execution_completed: Option<bool>,
    /// `Some` when Kapso reported an error: its message (or a rendering of whatever it sent).
    pub error: Option<String>,
    /// Kapso's timestamps, when they are RFC 3339 date-times (anything else is dropped here).
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub conversation: Option<Value>,
    pub test_case: Option<TestCase>,
}

impl TestRun {
    /// The run as the verdict rules read it.
    pub fn into_finished(self) -> FinishedRun {
        FinishedRun {
            id: self.id,
            score: self.score,
            score_raw: self.score_raw,
            feedback: self.feedback,
            error: self.error,
            started_at: self.started_at,
            ended_at: self.ended_at,
            conversation: self.conversation,
            definition_digest: self.test_case.as_ref().map(TestCase::definition_digest),
            case_name: self.test_case.and_then(|c| c.name),
        }
    }

    /// Finished per Kapso's rules: `execution_completed` is true or `error` is set. A crashed run
    /// keeps `execution_completed: false` forever, so the error alone finishes it.
    pub fn is_finished(&self) -> bool {
        self.execution_completed == Some(true) || self.error.is_some()
    }
}

/// A test case (also the shape embedded in suites and runs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestCase {
    pub id: String,
    pub name: Option<String>,
    pub suite_id: Option<String>,
    /// What the simulated user is told to do, and what the judge scores against.
    pub script: Option<String>,
    pub rubric: Option<String>,
}

impl TestCase {
    /// The fingerprint of what this case measures (name, script, rubric).
    pub fn definition_digest(&self) -> String {
        crate::domain::digest::definition_digest(self.name.as_deref(), self.script.as_deref(), self.rubric.as_deref())
    }
}

/// A test suite with its embedded test cases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestSuite {
    pub id: String,
    pub name: Option<String>,
    pub test_cases: Vec<TestCase>,
}

/// Why a success body could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("response is not JSON: {0}")]
    NotJson(String),
    #[error("response has no `data` object")]
    NoData,
    #[error("response `data` has no `id`")]
    NoId,
    #[error("response has an unusable ID: {0}")]
    BadId(String),
}

fn data(body: &[u8]) -> Result<Value, WireError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| WireError::NotJson(e.to_string()))?;
    match value {
        Value::Object(mut map) => map.remove("data").ok_or(WireError::NoData),
        _ => Err(WireError::NoData),
    }
}

fn object(value: Value) -> Result<Map<String, Value>, WireError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(WireError::NoData),
    }
}

fn string(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An ID from Kapso, held to the same rules as one from the user: it goes into URL paths.
fn id(map: &Map<String, Value>) -> Result<String, WireError> {
    let id = string(map, "id").filter(|s| !s.is_empty()).ok_or(WireError::NoId)?;
    crate::domain::ids::validate(&id).map_err(|e| WireError::BadId(e.to_string()))?;
    Ok(id)
}

/// Parses `{"data": <test run>}`.
pub fn parse_run(body: &[u8]) -> Result<TestRun, WireError> {
    match data(body) {
        Ok(value) => run_from_map(&object(value)?, None),
        Err(error) => run_with_unreadable_fields(body).ok_or(error),
    }
}

/// A run whose body is JSON that `Value` cannot hold: a number beyond f64 (`1e400`) fails the
/// whole parse. Each field of `data` is then read on its own; one that still fails is left out,
/// except a score, which is kept as sent (its nearest f64 is infinite) so that the verdict can
/// say it is out of range instead of the run looking unreadable until the deadline.
fn run_with_unreadable_fields(body: &[u8]) -> Option<TestRun> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        data: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>>,
    }
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    let mut map = Map::new();
    let mut unreadable_score = None;
    for (key, raw) in envelope.data {
        match serde_json::from_str::<Value>(raw.get()) {
            Ok(value) => {
                map.insert(key, value);
            }
            Err(_) if key == "score" => unreadable_score = Some(raw.get().to_owned()),
            Err(_) => {}
        }
    }
    run_from_map(&map, unreadable_score).ok()
}

/// The score and, when it is not a usable number, the text sent. `unreadable` is a JSON
/// number too large for f64: Rust's parser rounds it to an infinity, which the verdict rules
/// refuse as out of range.
fn score_of(map: &Map<String, Value>, unreadable: Option<String>) -> (Option<f64>, Option<String>) {
    if let Some(raw) = unreadable {
        let score = raw.trim().parse::<f64>().ok();
        return (score, Some(short(&raw)));
    }
    match map.get("score") {
        None | Some(Value::Null) => (None, None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) => (Some(f), None),
            None => (None, Some(n.to_string())),
        },
        Some(other) => (None, Some(short_json(other))),
    }
}

fn run_from_map(map: &Map<String, Value>, unreadable_score: Option<String>) -> Result<TestRun, WireError> {
    let (score, score_raw) = score_of(map, unreadable_score);
    Ok(TestRun {
        id: id(map)?,
        score,
        score_raw,
        feedback: string(map, "feedback"),
        execution_completed: map.get("execution_completed").and_then(Value::as_bool),
        error: map.get("error").and_then(error_message),
        started_at: string(map, "started_at").and_then(|t| Timestamp::parse(&t)),
        ended_at: string(map, "ended_at").and_then(|t| Timestamp::parse(&t)),
        conversation: map.get("conversation").filter(|v| !v.is_null()).cloned(),
        test_case: map
            .get("test_case")
            .and_then(Value::as_object)
            .and_then(|m| case_from_map(m).ok()),
    })
}

/// Kapso documents `error` as null or `{"message", "type"}`; anything non-null counts as an error.
fn error_message(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Object(map) => {
            let message = string(map, "message").filter(|m| !m.trim().is_empty());
            let kind = string(map, "type").filter(|t| !t.trim().is_empty());
            Some(match (kind, message) {
                (Some(kind), Some(message)) => format!("{kind}: {message}"),
                (None, Some(message)) => message,
                (Some(kind), None) => kind,
                (None, None) if map.is_empty() => "Kapso reported an error without a message".to_owned(),
                (None, None) => short_json(value),
            })
        }
        Value::String(s) if s.trim().is_empty() => Some("Kapso reported an error without a message".to_owned()),
        Value::String(s) => Some(s.clone()),
        other => Some(short_json(other)),
    }
}

fn short_json(value: &Value) -> String {
    short(&value.to_string())
}

/// Most characters of an odd value quoted in a reason (a score or an error of an unexpected
/// shape): enough to recognise it, short enough for a report line.
const QUOTED_VALUE_CHARS: usize = 200;

/// Kapso's odd value as quoted in a reason: the first characters and `...`.
fn short(text: &str) -> String {
    if text.chars().count() > QUOTED_VALUE_CHARS {
        let cut: String = text.chars().take(QUOTED_VALUE_CHARS).collect();
        format!("{cut}...")
    } else {
        text.to_owned()
    }
}

fn case_from_map(map: &Map<String, Value>) -> Result<TestCase, WireError> {
    Ok(TestCase {
        id: id(map)?,
        name: string(map, "name"),
        suite_id: string(map, "test_suite_id"),
        script: string(map, "script"),
        rubric: string(map, "rubric"),
    })
}

/// Parses `{"data": <test case>}`.
pub fn parse_case(body: &[u8]) -> Result<TestCase, WireError> {
    case_from_map(&object(data(body)?)?)
}

fn suite_from_map(map: &Map<String, Value>) -> Result<TestSuite, WireError> {
    let suite_id = id(map)?;
    let test_cases = match map.get("test_cases") {
        // Entries that are not objects are not cases; but a case that cannot be run must not
        // vanish from the selection: then the whole answer fails.
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_object)
            .map(|item| {
                let mut case = case_from_map(item)?;
                case.suite_id.get_or_insert_with(|| suite_id.clone());
                Ok(case)
            })
            .collect::<Result<Vec<_>, WireError>>()?,
        _ => Vec::new(),
    };
    Ok(TestSuite {
        id: suite_id,
        name: string(map, "name"),
        test_cases,
    })
}

/// Parses `{"data": <test suite with test_cases>}`.
pub fn parse_suite(body: &[u8]) -> Result<TestSuite, WireError> {
    suite_from_map(&object(data(body)?)?)
}

/// Parses `{"data": [<test suite>, ...]}`.
pub fn parse_suites(body: &[u8]) -> Result<Vec<TestSuite>, WireError> {
    match data(body)? {
        Value::Array(items) => items.iter().filter_map(Value::as_object).map(suite_from_map).collect(),
        _ => Err(WireError::NoData),
    }
}

/// Kapso's reason from an error body: `error`/`message`, the Rails `errors` map, or for anything
/// else a short sanitised snippet of the text.
pub fn error_reason(body: &[u8]) -> Option<String> {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        let mut parts: Vec<String> = Vec::new();
        for key in ["error", "message"] {
            if let Some(text) = string(&map, key).filter(|t| !t.trim().is_empty()) {
                if !parts.contains(&text) {
                    parts.push(text);
                }
            }
        }
        match map.get("errors") {
            Some(Value::Object(fields)) => {
                for (field, messages) in fields {
                    let list = match messages {
                        Value::Array(items) => items
                            .iter()
                            .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned))
                            .collect::<Vec<_>>()
                            .join(", "),
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    parts.push(format!("{field} {list}"));
                }
            }
            Some(Value::Array(items)) => parts.extend(
                items
                    .iter()
                    .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned)),
            ),
            Some(Value::String(s)) => parts.push(s.clone()),
            _ => {}
        }
        if !parts.is_empty() {
            return Some(sanitise(&parts.join(": "), 300));
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = html_title(&text).unwrap_or(&text);
    let clean = sanitise(text, 120);
    (!clean.is_empty()).then_some(clean)
}

fn html_title(text: &str) -> Option<&str> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = lower[start..].find("</title>")? + start;
    Some(&text[start..end])
}

/// Collapses whitespace, drops control characters and cuts to `max` characters.
pub fn sanitise(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for word in text.split_whitespace() {
        let word: String = word.chars().filter(|c| !c.is_control()).collect();
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count >= max {
                out.truncate(out.trim_end().len());
                out.push_str("...");
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_run_with_score() {
        let run = parse_run(br#"{"data":{"id":"r1","score":0.85,"feedback":"ok","execution_completed":true,"error":null,"extra":{"x":1},"test_case":{"id":"c1","name":"Refund"}}}"#).expect("parses");
        assert!(run.is_finished());
        assert_eq!(run.score, Some(0.85));
        assert_eq!(run.error, None);
        assert_eq!(run.test_case.and_then(|c| c.name).as_deref(), Some("Refund"));
    }

    #[test]
    fn crashed_run_is_finished_by_its_error() {
        let run = parse_run(br#"{"data":{"id":"r1","execution_completed":false,"error":{"message":"judge timed out","type":"TimeoutError"}}}"#).expect("parses");
        assert!(run.is_finished());
        assert_eq!(run.error.as_deref(), Some("TimeoutError: judge timed out"));
    }

    #[test]
    fn timestamps_are_parsed_here_and_odd_ones_dropped() {
        let run =
            parse_run(br#"{"data":{"id":"r1","started_at":"last tuesday","ended_at":"2026-01-01T12:00:12.5+02:00"}}"#)
                .expect("parses");
        assert_eq!(run.started_at, None, "only RFC 3339 date-times reach the report");
        let ended = run.ended_at.expect("an offset is RFC 3339");
        assert_eq!(ended.as_str(), "2026-01-01T12:00:12.5+02:00", "kept as Kapso wrote it");
        let numeric = parse_run(br#"{"data":{"id":"r1","started_at":1767261600}}"#).expect("parses");
        assert_eq!(numeric.started_at, None);
    }

    #[test]
    fn unfinished_and_odd_fields() {
        let run = parse_run(br#"{"data":{"id":"r1","execution_completed":null,"score":"high","conversation":"text","full_history":{}}}"#).expect("parses");
        assert!(!run.is_finished());
        assert_eq!(run.score, None);
        assert_eq!(run.score_raw.as_deref(), Some("\"high\""));
        assert_eq!(run.conversation, Some(Value::String("text".into())));
        let weird_error = parse_run(br#"{"data":{"id":"r1","error":[1]}}"#).expect("parses");
        assert_eq!(weird_error.error.as_deref(), Some("[1]"));
        let empty_error = parse_run(br#"{"data":{"id":"r1","error":{}}}"#).expect("parses");
        assert!(empty_error.is_finished());
    }

    #[test]
    fn scores_keep_their_digits_and_huge_ones_their_text() {
        for text in ["0.85", "3.4625227566085974e288", "-1e29", "1e-320", "0.1", "9.5"] {
            let body = format!(r#"{{"data":{{"id":"r1","score":{text}}}}}"#);
            let run = parse_run(body.as_bytes()).expect("parses");
            let expected: f64 = text.parse().expect("a number");
            assert_eq!(run.score.map(f64::to_bits), Some(expected.to_bits()), "{text}");
        }
        for (text, score) in [("1e400", f64::INFINITY), ("-1E+400", f64::NEG_INFINITY)] {
            let body = format!(
                r#"{{"data":{{"id":"r1","score":{text},"execution_completed":true,"feedback":"ok","x":[2e999]}}}}"#
            );
            let run = parse_run(body.as_bytes()).expect("one field too large for f64 loses nothing else");
            assert_eq!((run.score, run.score_raw.as_deref()), (Some(score), Some(text)));
            assert!(run.is_finished());
            assert_eq!(run.feedback.as_deref(), Some("ok"));
        }
        assert!(
            matches!(
                parse_run(br#"{"data":{"id":"r1","score":NaN}}"#),
                Err(WireError::NotJson(_))
            ),
            "NaN is not JSON: the body stays unreadable"
        );
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        assert!(matches!(parse_run(b"<html>"), Err(WireError::NotJson(_))));
        assert_eq!(parse_run(br#"{"data":"x"}"#), Err(WireError::NoData));
        assert_eq!(parse_run(br#"{"data":{"score":1}}"#), Err(WireError::NoId));
        assert_eq!(parse_run(br#"[1,2]"#), Err(WireError::NoData));
        assert_eq!(parse_suites(br#"{"data":{}}"#), Err(WireError::NoData));
    }

    #[test]
    fn suites_embed_cases() {
        let suite =
            parse_suite(br#"{"data":{"id":"s1","name":"Support","test_cases":[{"id":"c1","name":"A"},{"id":"c2"}]}}"#)
                .expect("parses");
        assert_eq!(suite.test_cases.len(), 2);
        let broken = br#"{"data":{"id":"s1","test_cases":[{"id":"c1"},{"name":"no id"}]}}"#;
        assert_eq!(
            parse_suite(broken),
            Err(WireError::NoId),
            "a case must not vanish silently"
        );
        let dots = br#"{"data":{"id":"s1","test_cases":[{"id":".."}]}}"#;
        assert!(
            matches!(parse_suite(dots), Err(WireError::BadId(_))),
            "server IDs stay one path segment"
        );
        assert!(matches!(parse_run(br#"{"data":{"id":"."}}"#), Err(WireError::BadId(_))));
        assert_eq!(suite.test_cases[1].suite_id.as_deref(), Some("s1"));
        let list = parse_suites(br#"{"data":[{"id":"s1","test_cases":[]},{"id":"s2"}]}"#).expect("parses");
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn error_reasons() {
        assert_eq!(
            error_reason(br#"{"error":"Not found","message":"Test case not found"}"#).as_deref(),
            Some("Not found: Test case not found")
        );
        assert_eq!(
            error_reason(br#"{"errors":{"agent_test_run":["can't be blank"]}}"#).as_deref(),
            Some("agent_test_run can't be blank")
        );
        assert_eq!(
            error_reason(b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>").as_deref(),
            Some("502 Bad Gateway")
        );
        assert_eq!(
            error_reason(b"line1\n\x1b[31mred\x1b[0m").as_deref(),
            Some("line1 [31mred[0m")
        );
        assert_eq!(error_reason(b""), None);
        assert!(error_reason(&[b'x'; 1000]).is_some_and(|r| r.len() < 130));
    }
}
