//! JSON shapes of the Kapso resources (test case, suite, test run) as the real API returns
//! them, plus RFC 3339 timestamps and uuid-looking ids.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use crate::scenario::{CaseSpec, SuiteSpec};
use crate::state::{Run, Shared};

/// Where a run is at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Created with `run_now: false`: never executes.
    NotStarted,
    Running,
    Finished,
    Crashed,
}

impl Phase {
    pub fn of(run: &Run, now: Duration) -> Self {
        if !run.record.run_now {
            return Self::NotStarted;
        }
        match run.record.finishes_at {
            Some(at) if now >= at => {
                if run.trial.crash.is_some() {
                    Self::Crashed
                } else {
                    Self::Finished
                }
            }
            _ => Self::Running,
        }
    }

    /// What a client should treat as final.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Finished | Self::Crashed)
    }
}

/// The test case object.
pub(crate) fn case(shared: &Shared, case: &CaseSpec) -> Value {
    let suite_id = case.suite_id.clone().or_else(|| {
        shared
            .scenario
            .suites
            .iter()
            .find(|s| s.case_ids.contains(&case.id))
            .map(|s| s.id.clone())
    });
    json!({
        "id": case.id,
        "name": case.name,
        "description": case.description,
        "script": case.script.clone().unwrap_or_else(|| format!(
            "You are a customer writing to the business on WhatsApp. Goal: {}. \
             Reply naturally and stop once the agent has resolved the request.",
            case.description
        )),
        "rubric": case.rubric.clone().unwrap_or_else(|| format!(
            "The agent handles \"{}\" correctly, politely and without inventing facts.",
            case.name
        )),
        "test_suite_id": suite_id,
        "created_at": timestamp(shared.started_wall - Duration::from_secs(30 * 86_400)),
        "updated_at": timestamp(shared.started_wall - Duration::from_secs(86_400)),
    })
}

/// The cases of a suite: its `case_ids`, then the other cases whose `suite_id` names it.
pub(crate) fn suite_cases<'a>(shared: &'a Shared, suite: &'a SuiteSpec) -> Vec<&'a CaseSpec> {
    let cases = &shared.scenario.cases;
    let mut out: Vec<&CaseSpec> = suite
        .case_ids
        .iter()
        .filter_map(|id| cases.iter().find(|c| &c.id == id))
        .collect();
    for case in cases {
        if case.suite_id.as_deref() == Some(suite.id.as_str()) && !suite.case_ids.contains(&case.id) {
            out.push(case);
        }
    }
    out
}

/// The suite object with its cases embedded.
pub(crate) fn suite(shared: &Shared, suite: &SuiteSpec) -> Value {
    let cases: Vec<Value> = suite_cases(shared, suite)
        .into_iter()
        .map(|c| case(shared, c))
        .collect();
    json!({
        "id": suite.id,
        "name": suite.name,
        "description": format!("Regression cases for {}", suite.name),
        "agent_id": suite.agent_id,
        "test_cases": cases,
        "created_at": timestamp(shared.started_wall - Duration::from_secs(30 * 86_400)),
        "updated_at": timestamp(shared.started_wall - Duration::from_secs(86_400)),
    })
}

/// The test run object as of `now`.
pub(crate) fn run(shared: &Shared, run: &Run, case_spec: Option<&CaseSpec>, now: Duration) -> Value {
    let record = &run.record;
    let phase = Phase::of(run, now);
    let created = shared.started_wall + record.created_at;
    let ended = record.finishes_at.map(|at| shared.started_wall + at);
    let topic = case_spec.map_or("my order", |c| c.description.as_str());
    let mut value = json!({
        "id": record.id,
        "thread_id": run.thread_id,
        "started_at": null,
        "ended_at": null,
        "score": null,
        "feedback": null,
        "execution_completed": null,
        "conversation": [],
        "full_history": [],
        "error": null,
        "created_at": timestamp(created),
        "updated_at": timestamp(created),
        "metadata": {},
        "test_case": case_spec.map(|c| case(shared, c)),
    });
    let fields = value.as_object_mut().expect("object literal");
    match phase {
        Phase::NotStarted => {}
        Phase::Running => {
            fields.insert("started_at".into(), json!(timestamp(created)));
            fields.insert("execution_completed".into(), json!(false));
            fields.insert("conversation".into(), json!([user(topic)]));
            fields.insert("full_history".into(), json!([user(topic)]));
        }
        Phase::Finished | Phase::Crashed => {
            let ended = timestamp(ended.unwrap_or(created));
            fields.insert("started_at".into(), json!(timestamp(created)));
            fields.insert("ended_at".into(), json!(ended));
            fields.insert("updated_at".into(), json!(ended));
            fields.insert("conversation".into(), json!(conversation(topic)));
            fields.insert("full_history".into(), json!(full_history(topic)));
            if let Some(message) = &run.trial.crash {
                fields.insert("execution_completed".into(), json!(false));
                fields.insert("error".into(), json!({"message": message, "type": "RuntimeError"}));
            } else {
                fields.insert("execution_completed".into(), json!(true));
                let score = match &run.trial.raw_score {
                    Some(raw) => json!(format!("{}{raw}", crate::http::RAW_NUMBER)),
                    None => json!(run.trial.score),
                };
                fields.insert("score".into(), score);
                let feedback = run.trial.feedback.clone().or_else(|| {
                    run.trial
                        .score
                        .map(|s| format!("## Evaluation\n\n✅ Request understood\n\nScore: {s}"))
                });
                fields.insert("feedback".into(), json!(feedback));
            }
        }
    }
    value
}

fn user(topic: &str) -> Value {
    json!({"role": "user", "content": format!("Hi! {topic}")})
}

fn conversation(topic: &str) -> Vec<Value> {
    vec![
        user(topic),
        json!({"role": "assistant", "content": "Hi, thanks for writing! Let me check that for you."}),
        json!({"role": "user", "content": "Thanks."}),
        json!({"role": "assistant", "content": "All done. Is there anything else I can help you with?"}),
    ]
}

fn full_history(topic: &str) -> Vec<Value> {
    let mut history = conversation(topic);
    history.insert(
        2,
        json!({"role": "tool", "name": "lookup_customer", "content": "{\"found\": true}"}),
    );
    history
}

/// RFC 3339 in UTC with milliseconds, e.g. `2024-05-01T10:00:00.123Z`.
pub(crate) fn timestamp(at: SystemTime) -> String {
    let since = at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A uuid-looking (version 4 layout) id, unique per (seed, n).
pub(crate) fn uuid(seed: u64, n: u64) -> String {
    let a = splitmix(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let b = splitmix(a ^ n);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        a & 0xfff,
        8 + (b >> 62),
        (b >> 48) & 0xfff,
        // The low 32 bits are n masked by a per-simulator constant, so ids never collide
        // within one simulator.
        ((b & 0xffff) << 32) | ((n ^ splitmix(seed)) & 0xffff_ffff),
    )
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_714_557_600_123);
        assert_eq!(timestamp(at), "2024-05-01T10:00:00.123Z");
        assert_eq!(timestamp(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_825_600);
        assert_eq!(timestamp(leap), "2000-02-29T12:00:00.000Z");
    }

    #[test]
    fn uuids_look_right_and_differ() {
        let a = uuid(7, 1);
        let b = uuid(7, 2);
        assert_ne!(a, b);
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{a}");
    }
}
