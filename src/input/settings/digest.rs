//! The settings digest: one SHA-256 over every setting that changes a verdict, so that a report
//! can say which settings produced it and `--rerun-failed` and `--merge` can refuse a report of
//! other settings. Canonical: a fixed struct serialised as JSON (fields in declaration order,
//! per-case entries in a `BTreeMap`, numbers as Rust's shortest round-trip text), so the same
//! settings give the same digest on every machine and version that keeps this struct.

use super::Policy;
use crate::input::config::CaseConfig;
use serde::Serialize;
use std::collections::BTreeMap;

/// What is hashed. Adding a field changes every digest: do it only when a new setting changes
/// verdicts.
#[derive(Serialize)]
struct VerdictSettings<'a> {
    threshold: String,
    trials: String,
    aggregate: &'static str,
    confidence: String,
    inconclusive: String,
    /// Per-case overrides that change a verdict or whether it counts (the note does not).
    cases: BTreeMap<&'a str, CaseSettings>,
    max_drop: Option<String>,
    /// With `--max-drop` the baseline's scores (each with its trial scores and definition digest)
    /// decide verdicts; without it they are only shown.
    baseline_scores: Option<Vec<(&'a str, String)>>,
    api: &'a str,
}

#[derive(Serialize)]
struct CaseSettings {
    threshold: Option<String>,
    trials: Option<String>,
    blocking: Option<bool>,
}

/// The digest of `policy` against the API at `base_url`, 64 hex digits.
pub fn verdict_digest(policy: &Policy, base_url: &str) -> String {
    let number = |n: f64| n.to_string();
    let cases = policy
        .cases
        .iter()
        .map(|(id, entry)| (id.as_str(), case_settings(entry)))
        .collect();
    let baseline_scores = policy.max_drop.and(policy.baseline.as_ref()).map(|baseline| {
        baseline
            .sorted_scores()
            .into_iter()
            .map(|(id, score)| {
                // The regression gate reads the trials and the definition too.
                let entry = baseline.entry(id);
                let trials: Vec<String> = entry
                    .map(|e| e.trial_scores.iter().map(|s| number(*s)).collect())
                    .unwrap_or_default();
                let digest = entry.and_then(|e| e.definition_digest.as_deref()).unwrap_or("");
                (id, format!("{} [{}] {digest}", number(score), trials.join(",")))
            })
            .collect()
    });
    let settings = VerdictSettings {
        threshold: number(policy.threshold),
        trials: policy.trials.to_string(),
        aggregate: policy.aggregate.name(),
        confidence: number(policy.confidence),
        inconclusive: policy.inconclusive.to_string(),
        cases,
        max_drop: policy.max_drop.map(number),
        baseline_scores,
        api: base_url,
    };
    // Serialising a struct of strings, numbers and maps with string keys cannot fail.
    let bytes = serde_json::to_vec(&settings).unwrap_or_default();
    crate::domain::digest::sha256_hex(&bytes)
}

fn case_settings(entry: &CaseConfig) -> CaseSettings {
    CaseSettings {
        threshold: entry.threshold.map(|t| t.to_string()),
        // Validated when the settings were resolved.
        trials: entry
            .trials
            .as_ref()
            .and_then(|t| t.resolve().ok())
            .map(|t| t.to_string()),
        blocking: entry.blocking,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::resolve;

    fn digest(argv: &[&str]) -> String {
        let settings = resolve(argv).expect("valid");
        super::verdict_digest(&settings.policy, settings.connection.base_url.as_str())
    }

    #[test]
    fn every_verdict_setting_changes_the_digest_and_nothing_else_does() {
        let base = digest(&["a"]);
        assert_eq!(base.len(), 64);
        assert_eq!(base, digest(&["a"]), "stable");
        assert_eq!(
            base,
            digest(&["b", "--concurrency", "2", "--timeout", "5m"]),
            "not the selection or timing"
        );
        for changed in [
            &["a", "--threshold", "0.7"][..],
            &["a", "--trials", "3"],
            &["a", "--trials", "3", "--aggregate", "min"],
            &["a", "--confidence", "0.9"],
            &["a", "--inconclusive", "fail"],
            &["a", "--base-url", "http://127.0.0.1:9"],
        ] {
            assert_ne!(base, digest(changed), "{changed:?}");
        }
        assert_ne!(
            digest(&["a", "--trials", "3"]),
            digest(&["a", "--trials", "3", "--aggregate", "min"])
        );
    }
}
