//! Reading what the gate reported: the JSON report and its cases, GitHub's output file, and
//! the check that every report surface shows what it must for every case.

use super::{read, Finished};
use serde_json::Value;
use std::path::Path;

/// The JSON report at `path`, parsed.
pub fn json_report(path: &Path) -> Value {
    let text = read(path);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}\n{text:.2000}", path.display()))
}

/// The entry of case `id` in a JSON report.
pub fn json_case<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .expect("the report has a cases array")
        .iter()
        .find(|c| c["test_case_id"] == id)
        .unwrap_or_else(|| panic!("case {id} missing from the JSON report\n{report:#}"))
}

/// The status of case `id` in a JSON report.
pub fn status_of(report: &Value, id: &str) -> String {
    json_case(report, id)["status"].as_str().expect("status").to_owned()
}

/// The reason given for case `id` in a JSON report (empty when there is none).
pub fn reason_of(report: &Value, id: &str) -> String {
    json_case(report, id)["reason"].as_str().unwrap_or_default().to_owned()
}

/// The `name<<DELIMITER\nvalue\nDELIMITER\n` entries of a `GITHUB_OUTPUT` file, in order.
pub fn github_outputs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let (name, delimiter) = line
            .split_once("<<")
            .unwrap_or_else(|| panic!("not a delimited output: {line:?}"));
        let mut value: Vec<&str> = Vec::new();
        loop {
            let next = lines.next().unwrap_or_else(|| panic!("unterminated output {name}"));
            if next == delimiter {
                break;
            }
            value.push(next);
        }
        out.push((name.to_owned(), value.join("\n")));
    }
    out
}

/// The text of each report surface one gate run wrote, by name, for checks that every surface
/// shows something about every case.
#[derive(Debug)]
pub struct Surfaces(Vec<(&'static str, String)>);

impl Surfaces {
    /// The terminal (stdout of `out`), the job summary at `summary` and the JUnit report at `junit`.
    pub fn of(out: &Finished, summary: &Path, junit: &Path) -> Surfaces {
        Surfaces(vec![
            ("terminal", out.stdout.clone()),
            ("job summary (markdown)", read(summary)),
            ("JUnit", read(junit)),
        ])
    }

    /// Adds one more surface, for example the JSON report.
    pub fn with(mut self, name: &'static str, text: String) -> Surfaces {
        self.0.push((name, text));
        self
    }

    /// For every surface and every item of `cases`, `misses(text, item)` lists what `text` fails
    /// to show. Markdown escapes punctuation (`0\.3`), so each text is compared as rendered, with
    /// backslashes dropped. Fails listing every miss, then every surface's text.
    pub fn assert_every_case_shown<C>(&self, cases: &[C], misses: impl Fn(&str, &C) -> Vec<String>) {
        let mut missing = Vec::new();
        for (surface, text) in &self.0 {
            let text = text.replace('\\', "");
            for item in cases {
                missing.extend(misses(&text, item).into_iter().map(|m| format!("{surface}: {m}")));
            }
        }
        assert!(
            missing.is_empty(),
            "missing from the reports:\n  {}\n\n{}",
            missing.join("\n  "),
            self.0
                .iter()
                .map(|(surface, text)| format!("--- {surface}\n{text}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
