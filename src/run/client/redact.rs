//! The secrets taken out of what Kapso sent, after the JSON is decoded (see
//! [`crate::domain::secret::Redactor`]): every string of a mapped resource, every reason built from an
//! error body. Done here, in the wire-to-domain step, nothing downstream (terminal, JSON, JUnit,
//! step summary, annotations, outputs, the pull-request comment) can see a secret in any
//! spelling the server chose.

use super::error::RequestError;
use super::wire::{TestCase, TestRun, TestSuite};
use crate::domain::secret::Redactor;
use crate::domain::time::Timestamp;

/// A decoded answer whose text can hold what a server echoed.
pub(crate) trait Redact {
    fn redact(&mut self, redactor: &Redactor);
}

fn redact_opt(text: &mut Option<String>, redactor: &Redactor) {
    if let Some(text) = text {
        redactor.redact_in_place(text);
    }
}

/// A timestamp keeps the text Kapso sent, and a long fraction could spell a numeric secret:
/// such a timestamp is dropped whole (redacting it would leave no date-time).
fn redact_timestamp(at: &mut Option<Timestamp>, redactor: &Redactor) {
    if at.as_ref().is_some_and(|t| redactor.redact(t.as_str()) != t.as_str()) {
        *at = None;
    }
}

impl Redact for TestRun {
    fn redact(&mut self, redactor: &Redactor) {
        redactor.redact_in_place(&mut self.id);
        for text in [&mut self.score_raw, &mut self.feedback, &mut self.error] {
            redact_opt(text, redactor);
        }
        for at in [&mut self.started_at, &mut self.ended_at] {
            redact_timestamp(at, redactor);
        }
        if let Some(conversation) = &mut self.conversation {
            redactor.redact_json(conversation);
        }
        if let Some(case) = &mut self.test_case {
            case.redact(redactor);
        }
    }
}

impl Redact for TestCase {
    fn redact(&mut self, redactor: &Redactor) {
        redactor.redact_in_place(&mut self.id);
        redact_opt(&mut self.name, redactor);
        redact_opt(&mut self.suite_id, redactor);
    }
}

impl Redact for TestSuite {
    fn redact(&mut self, redactor: &Redactor) {
        redactor.redact_in_place(&mut self.id);
        redact_opt(&mut self.name, redactor);
        self.test_cases.iter_mut().for_each(|case| case.redact(redactor));
    }
}

impl<T: Redact> Redact for Vec<T> {
    fn redact(&mut self, redactor: &Redactor) {
        self.iter_mut().for_each(|item| item.redact(redactor));
    }
}

/// Every text of an error that can come from the server: an error body's reason, an unreadable
/// body's description, a redirect's host.
pub(crate) fn redact_error(error: RequestError, redactor: &Redactor) -> RequestError {
    match error {
        RequestError::Status {
            status,
            reason,
            retry_after,
        } => RequestError::Status {
            status,
            reason: reason.map(|r| redactor.redact(&r)),
            retry_after,
        },
        RequestError::Redirect { status, location } => RequestError::Redirect {
            status,
            location: location.map(|l| redactor.redact(&l)),
        },
        RequestError::Body(text) => RequestError::Body(redactor.redact(&text)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_of_a_run_is_redacted() {
        let redactor = Redactor::new(["sk_secret_key"]);
        let body =
            br#"{"data":{"id":"r1","score":"sk\u005fsecret\u005fkey","feedback":"pasted sk\u005fsecret\u005fkey",
            "error":{"message":"sk_secret_key"},"conversation":[{"role":"user","content":"sk\u005fsecret_key"}],
            "test_case":{"id":"c1","name":"sk_secret_key"}}}"#;
        let mut run = super::super::wire::parse_run(body).expect("a run");
        run.redact(&redactor);
        let shown = format!("{run:?}");
        assert!(!shown.contains("sk_secret_key"), "{shown}");
        assert_eq!(run.feedback.as_deref(), Some("pasted ***"));
        let error = RequestError::Status {
            status: 422,
            reason: Some("X-API-Key=sk_secret_key".into()),
            retry_after: None,
        };
        assert_eq!(redact_error(error, &redactor).to_string(), "HTTP 422 (X-API-Key=***)");
    }

    #[test]
    fn a_timestamp_that_spells_a_secret_is_dropped() {
        let redactor = Redactor::new(["123456789012"]);
        let body = br#"{"data":{"id":"r1","started_at":"2026-01-01T10:00:00.123456789012Z","ended_at":"2026-01-01T10:00:01Z"}}"#;
        let mut run = super::super::wire::parse_run(body).expect("a run");
        assert!(run.started_at.is_some(), "a long fraction is RFC 3339");
        run.redact(&redactor);
        assert_eq!(run.started_at, None);
        assert_eq!(
            run.ended_at.map(|t| t.to_string()).as_deref(),
            Some("2026-01-01T10:00:01Z")
        );
    }
}
