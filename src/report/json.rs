//! The JSON report: the report model serialised as pretty JSON. The field names are the model's
//! and a public interface, versioned by `schema_version` and documented field by field in
//! `docs/report.schema.json` (a test validates real output against it).

use super::model::Report;

/// The report as pretty-printed JSON, ending with a newline.
pub fn render(report: &Report) -> String {
    match serde_json::to_string_pretty(report) {
        Ok(mut text) => {
            text.push('\n');
            text
        }
        // Unreachable with this model (no maps with non-string keys), but a report must
        // never be lost: fall back to the fields every consumer checks first.
        Err(error) => format!(
            "{{\"schema_version\": {}, \"verdict\": \"{}\", \"exit_code\": {}, \"message\": {}}}\n",
            report.schema_version,
            report.verdict.name(),
            report.exit_code,
            serde_json::Value::String(format!("the JSON report could not be serialised: {error}"))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::verdict::Status;
    use crate::report::test_fixtures::{case, report};

    #[test]
    fn round_trips_and_keeps_field_names() {
        let mut failing = case("c1", Status::Failed);
        failing.name = Some("Refund | <script>alert(1)</script> ]]> \u{0}\u{1b}".into());
        failing.feedback = Some("\n::error::x %0A %25 مرحبا 🎉".into());
        let report = report(vec![failing]);
        let text = render(&report);
        assert!(text.ends_with("}\n"));
        assert!(text.contains("\"schema_version\": 1,"), "{text}");
        assert!(
            text.contains("\\u0000\\u001b"),
            "control characters are JSON-escaped: {text}"
        );
        let back: Report = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back, report);
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let mut keys: Vec<&str> = value.as_object().expect("object").keys().map(String::as_str).collect();
        let mut expected = vec![
            "schema_version",
            "tool",
            "version",
            "verdict",
            "exit_code",
            "message",
            "threshold",
            "aggregate",
            "trials",
            "started_at",
            "finished_at",
            "duration_ms",
            "base_url",
            "shard",
            "sample",
            "commit",
            "selection",
            "settings_digest",
            "policy",
            "baseline",
            "counts",
            "requests",
            "runs_created",
            "warnings",
            "regression_summary",
            "cases",
        ];
        keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys, expected);
    }
}
