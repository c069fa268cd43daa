//! `--merge`: the JSON reports of the shards of one selection in, one report out, with one
//! verdict by the rules of a single run ([`crate::policy::verdict::merged_exit`]). Refuses reports that
//! do not belong together, naming the file; a missing shard leaves the verdict incomplete.
//! [`merge`] is pure; [`load`] reads the files.

use crate::domain::exit::Exit;
use crate::domain::time::Timestamp;
use crate::input::shard::{self, MAX_SHARDS};
use crate::policy::verdict;
use crate::report::build::{self, RunInfo};
use crate::report::read::{self, ReadError};
use crate::report::{Binding, CaseReport, Report, RequestCounts, SelectionRecord, ShardRecord};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use crate::report::read::Named;

/// Why the reports cannot be merged. Every variant names the file at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("--merge needs at least one report file")]
    NoReports,
    #[error("--merge: {0}")]
    Read(#[from] ReadError),
    #[error("cannot read {file}: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file} was not written with --shard, so it cannot be merged")]
    NotAShard { file: String },
    #[error("{file} claims shard {shard}, which is not a shard K/N with 1 <= K <= N <= {MAX_SHARDS}")]
    ShardRange { file: String, shard: String },
    #[error("{file} is shard {shard} but {first} is of {total} shards: the reports come from different splits")]
    ShardCount {
        file: String,
        shard: String,
        first: String,
        total: u32,
    },
    #[error("{file} was run with another {what} than {first} ({found} against {expected})")]
    Setting {
        file: String,
        first: String,
        what: &'static str,
        found: String,
        expected: String,
    },
    #[error("{file} records no settings digest or selection (written by an earlier kapso-gate, or not by kapso-gate): it cannot be bound to the other shards")]
    Unbound { file: String },
    #[error("{file} was run with other verdict settings than {first}: their settings digests differ")]
    SettingsDigest { file: String, first: String },
    #[error("{file} was run at commit {found:?} but {first} at commit {expected:?}: a stale or foreign report; merge the reports of one commit")]
    Commit {
        file: String,
        first: String,
        found: String,
        expected: String,
    },
    #[error("{file} covers another selection than {first}: the shards must resolve the same cases")]
    Selection { file: String, first: String },
    #[error("{file} reports test case {case}, which is not in the selection")]
    ForeignCase { file: String, case: String },
    #[error("{file} is shard {shard} but reports test case {case}, which belongs to shard {owner}")]
    WrongShard {
        file: String,
        shard: String,
        case: String,
        owner: String,
    },
    #[error("{file} is shard {shard} but lacks test case {case} of its part of the selection")]
    MissingCase { file: String, shard: String, case: String },
    #[error("{file} and {other} are both shard {shard}")]
    DuplicateShard { file: String, other: String, shard: String },
    #[error("{file} and {other} both report test case {case}")]
    DuplicateCase { file: String, other: String, case: String },
}

/// The report paths of `--merge` values and `KAPSO_MERGE`: each value is split on newlines (so a
/// multi-line action input works; commas and spaces are legal in paths), blanks dropped.
pub fn input_paths(values: &[String]) -> Vec<PathBuf> {
    values
        .iter()
        .flat_map(|value| value.lines())
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// Reads every report `inputs` names: files, or folders whose `*.json` files are taken in name
/// order, each through the one report reader (type, size, schema version, statuses).
pub fn load(inputs: &[PathBuf]) -> Result<Vec<Named>, MergeError> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            files.extend(json_files_in(input)?);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files.iter().map(|path| read::read(path)).collect::<Result<_, _>>()?)
}

fn json_files_in(dir: &Path) -> Result<Vec<PathBuf>, MergeError> {
    let unreadable = |e: std::io::Error| MergeError::Unreadable {
        file: dir.display().to_string(),
        reason: e.to_string(),
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// Merges the shards' reports into the report of the whole selection.
pub fn merge(mut reports: Vec<Named>) -> Result<Report, MergeError> {
    let (shards, selection) = check(&reports)?;
    reports.sort_by_key(|named| named.report.shard.as_ref().map(|s| s.index));
    let first = &reports[0].report;
    let total = shards[0].total;
    let present: BTreeSet<u32> = shards.iter().map(|s| s.index).collect();
    let missing: Vec<String> = (1..=total)
        .filter(|k| !present.contains(k))
        .map(|k| format!("{k}/{total}"))
        .collect();
    let selected = shards.iter().find_map(|s| s.selected);
    let cases: Vec<CaseReport> = reports.iter().flat_map(|n| n.report.cases.iter().cloned()).collect();
    let short = selected.is_some_and(|n| missing.is_empty() && cases.len() < n);
    let statuses: Vec<(verdict::Status, bool)> = cases.iter().map(|c| (c.status, c.blocking)).collect();
    let shard_exits: Vec<Exit> = reports.iter().map(|n| n.report.verdict).collect();
    let (exit, warning) = verdict::merged_exit(&statuses, &shard_exits, !missing.is_empty() || short);
    let message = merged_message(&reports, &missing, short.then(|| (cases.len(), selected.unwrap_or(0))));
    let mut warnings: Vec<String> = Vec::new();
    for named in &reports {
        let label = named.report.shard.as_ref().map(ShardRecord::label).unwrap_or_default();
        warnings.extend(named.report.warnings.iter().map(|w| format!("shard {label}: {w}")));
    }
    warnings.extend(warning);
    let info = RunInfo {
        threshold: first.threshold,
        aggregate: first.aggregate,
        trials: first.trials,
        base_url: first.base_url.clone(),
        started_at: earliest(reports.iter().map(|n| &n.report.started_at)),
        finished_at: latest(reports.iter().map(|n| &n.report.finished_at)),
        requests: reports.iter().fold(RequestCounts::default(), |sum, n| RequestCounts {
            sent: sum.sent + n.report.requests.sent,
            retried: sum.retried + n.report.requests.retried,
            rate_limited: sum.rate_limited + n.report.requests.rate_limited,
        }),
        shard: None,
        // Every shard samples the same cases before taking its part.
        sample: first.sample.clone(),
        runs_created: reports.iter().map(|n| n.report.runs_created).sum(),
        binding: Binding {
            selection,
            ..first.binding.clone()
        },
    };
    let mut report = build::report(&info, cases, message, Some(exit), warnings);
    let mut seen = BTreeSet::new();
    report.warnings.retain(|w| seen.insert(w.clone()));
    Ok(report)
}

/// Checks that the reports belong together; returns their shard records in input order and the
/// selection (when any shard resolved it).
fn check(reports: &[Named]) -> Result<(Vec<ShardRecord>, Option<SelectionRecord>), MergeError> {
    let first = reports.first().ok_or(MergeError::NoReports)?;
    let mut shards: Vec<ShardRecord> = Vec::new();
    let mut owners: HashMap<&str, &str> = HashMap::new();
    for (position, named) in reports.iter().enumerate() {
        let file = named.file.clone();
        let shard = shard_of(named)?;
        if let Some(reference) = shards.first() {
            check_against(named, &shard, &first.file, &first.report, reference)?;
        }
        if let Some(other) = shards.iter().position(|s| s.index == shard.index) {
            return Err(MergeError::DuplicateShard {
                file,
                other: reports[other].file.clone(),
                shard: shard.label(),
            });
        }
        for case in &named.report.cases {
            if let Some(other) = owners.insert(&case.test_case_id, &reports[position].file) {
                return Err(MergeError::DuplicateCase {
                    file,
                    other: other.to_owned(),
                    case: case.test_case_id.clone(),
                });
            }
        }
        shards.push(shard);
    }
    let selection = reports.iter().find_map(|n| n.report.binding.selection.clone());
    if let Some(selection) = &selection {
        for (named, shard) in reports.iter().zip(&shards) {
            check_part(named, shard, selection)?;
        }
    }
    Ok((shards, selection))
}

/// The report's shard record, when it is a shard K/N with 1 <= K <= N, and it is bound to
/// settings (an unbound report cannot be told from a foreign one).
fn shard_of(named: &Named) -> Result<ShardRecord, MergeError> {
    let file = || named.file.clone();
    let shard = named
        .report
        .shard
        .clone()
        .ok_or(MergeError::NotAShard { file: file() })?;
    if !(1..=MAX_SHARDS).contains(&shard.total) || !(1..=shard.total).contains(&shard.index) {
        return Err(MergeError::ShardRange {
            file: file(),
            shard: shard.label(),
        });
    }
    if named.report.binding.settings_digest.is_none() {
        return Err(MergeError::Unbound { file: file() });
    }
    Ok(shard)
}

/// A shard's cases against the selection: each in it and owned by this shard; and, when the
/// shard resolved the selection itself, every case of its part present.
fn check_part(named: &Named, shard: &ShardRecord, selection: &SelectionRecord) -> Result<(), MergeError> {
    let file = || named.file.clone();
    let selected: BTreeSet<&str> = selection.cases.iter().map(String::as_str).collect();
    for case in &named.report.cases {
        let id = case.test_case_id.as_str();
        if !selected.contains(id) {
            return Err(MergeError::ForeignCase {
                file: file(),
                case: id.to_owned(),
            });
        }
        let owner = shard::owner(id, shard.total);
        if owner != shard.index {
            return Err(MergeError::WrongShard {
                file: file(),
                shard: shard.label(),
                case: id.to_owned(),
                owner: format!("{owner}/{}", shard.total),
            });
        }
    }
    if named.report.binding.selection.is_some() {
        let reported: BTreeSet<&str> = named.report.cases.iter().map(|c| c.test_case_id.as_str()).collect();
        // A `--sample` leaves cases of the selection out of every shard alike: not missing.
        let left_out: BTreeSet<&str> = named
            .report
            .sample
            .iter()
            .flat_map(|s| s.left_out.iter().map(String::as_str))
            .collect();
        let missing = selection.cases.iter().find(|id| {
            shard::owner(id, shard.total) == shard.index
                && !reported.contains(id.as_str())
                && !left_out.contains(id.as_str())
        });
        if let Some(case) = missing {
            return Err(MergeError::MissingCase {
                file: file(),
                shard: shard.label(),
                case: case.clone(),
            });
        }
    }
    Ok(())
}

/// One report against the first: the same split, settings, commit and selection.
fn check_against(
    named: &Named,
    shard: &ShardRecord,
    first_file: &str,
    first: &Report,
    reference: &ShardRecord,
) -> Result<(), MergeError> {
    let file = || named.file.clone();
    if shard.total != reference.total {
        return Err(MergeError::ShardCount {
            file: file(),
            shard: shard.label(),
            first: first_file.to_owned(),
            total: reference.total,
        });
    }
    let report = &named.report;
    let settings = [
        ("threshold", report.threshold.to_string(), first.threshold.to_string()),
        (
            "aggregate",
            report.aggregate.name().to_owned(),
            first.aggregate.name().to_owned(),
        ),
        ("number of trials", report.trials.to_string(), first.trials.to_string()),
        ("base URL", report.base_url.clone(), first.base_url.clone()),
    ];
    if let Some((what, found, expected)) = settings.into_iter().find(|(_, found, expected)| found != expected) {
        return Err(MergeError::Setting {
            file: file(),
            first: first_file.to_owned(),
            what,
            found,
            expected,
        });
    }
    if report.binding.settings_digest != first.binding.settings_digest {
        return Err(MergeError::SettingsDigest {
            file: file(),
            first: first_file.to_owned(),
        });
    }
    if report.binding.commit != first.binding.commit {
        let shown = |c: &Option<String>| c.clone().unwrap_or_else(|| "none".to_owned());
        return Err(MergeError::Commit {
            file: file(),
            first: first_file.to_owned(),
            found: shown(&report.binding.commit),
            expected: shown(&first.binding.commit),
        });
    }
    let digest = |r: &Report| r.binding.selection.as_ref().map(|s| s.digest.clone());
    if known_and_different(&shard.selected, &reference.selected)
        || known_and_different(&shard.selection_digest, &reference.selection_digest)
        || known_and_different(&digest(report), &digest(first))
    {
        return Err(MergeError::Selection {
            file: file(),
            first: first_file.to_owned(),
        });
    }
    Ok(())
}

/// A shard whose selection could not be resolved knows neither figure: it cannot conflict.
fn known_and_different<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
    a.is_some() && b.is_some() && a != b
}

/// The merged gate-level message: missing shards first, then each shard's own message.
fn merged_message(reports: &[Named], missing: &[String], short: Option<(usize, usize)>) -> Option<String> {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        let noun = if missing.len() == 1 { "shard" } else { "shards" };
        parts.push(format!(
            "{noun} {} missing: no report, so its cases have no verdict",
            missing.join(", ")
        ));
    }
    if let Some((found, selected)) = short {
        parts.push(format!(
            "the reports hold {found} of the {selected} selected cases: the rest have no verdict"
        ));
    }
    for named in reports {
        if let (Some(message), Some(shard)) = (&named.report.message, &named.report.shard) {
            parts.push(format!("shard {}: {message}", shard.label()));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn earliest<'a>(times: impl Iterator<Item = &'a Timestamp>) -> SystemTime {
    times.map(Timestamp::system_time).min().unwrap_or_else(SystemTime::now)
}

fn latest<'a>(times: impl Iterator<Item = &'a Timestamp>) -> SystemTime {
    times.map(Timestamp::system_time).max().unwrap_or_else(SystemTime::now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::verdict::Status;
    use crate::report::test_fixtures::{case, report};

    fn shard(index: u32, cases: Vec<CaseReport>) -> Named {
        let mut report = report(cases);
        report.shard = Some(ShardRecord {
            index,
            total: 3,
            selected: Some(3),
            selection_digest: Some("d".into()),
        });
        report.binding.settings_digest = Some("s".into());
        Named {
            file: format!("shard-{index}.json"),
            report,
        }
    }

    #[test]
    fn three_shards_make_one_report() {
        let merged = merge(vec![
            shard(3, vec![case("c", Status::Passed)]),
            shard(1, vec![case("a", Status::Passed)]),
            shard(2, vec![case("b", Status::Failed)]),
        ])
        .expect("merges");
        assert_eq!(merged.verdict, Exit::Failed);
        assert_eq!((merged.counts.total, merged.counts.failed), (3, 1));
        let ids: Vec<&str> = merged.cases.iter().map(|c| c.test_case_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"], "shard order");
        assert_eq!(merged.shard, None);
        assert_eq!(merged.message, None);
    }

    #[test]
    fn a_missing_shard_is_incomplete_and_named() {
        let merged = merge(vec![
            shard(1, vec![case("a", Status::Passed)]),
            shard(3, vec![case("c", Status::Passed)]),
        ])
        .expect("merges");
        assert_eq!(merged.verdict, Exit::Incomplete);
        assert!(merged
            .message
            .as_deref()
            .is_some_and(|m| m.contains("shard 2/3 missing")));
        let failing = merge(vec![shard(1, vec![case("a", Status::Failed)])]).expect("merges");
        assert_eq!(
            failing.verdict,
            Exit::Failed,
            "a failure is not hidden by a missing shard"
        );
    }

    #[test]
    fn refuses_reports_that_do_not_belong_together() {
        let mut other_threshold = shard(2, vec![case("b", Status::Passed)]);
        other_threshold.report.threshold = 0.9;
        let error = merge(vec![shard(1, vec![]), other_threshold]).expect_err("refused");
        assert!(matches!(&error, MergeError::Setting { file, what: "threshold", .. } if file == "shard-2.json"));

        let mut other_selection = shard(2, vec![]);
        if let Some(s) = other_selection.report.shard.as_mut() {
            s.selection_digest = Some("e".into());
        }
        let error = merge(vec![shard(1, vec![]), other_selection]).expect_err("refused");
        assert!(matches!(&error, MergeError::Selection { file, .. } if file == "shard-2.json"));

        let error = merge(vec![
            shard(1, vec![case("a", Status::Passed)]),
            shard(2, vec![case("a", Status::Passed)]),
        ])
        .expect_err("refused");
        assert!(error
            .to_string()
            .contains("shard-2.json and shard-1.json both report test case a"));

        let error = merge(vec![shard(1, vec![]), shard(1, vec![])]).expect_err("refused");
        assert!(matches!(error, MergeError::DuplicateShard { .. }));

        let mut unsharded = shard(1, vec![]);
        unsharded.report.shard = None;
        assert!(matches!(merge(vec![unsharded]), Err(MergeError::NotAShard { .. })));
        assert_eq!(merge(Vec::new()).expect_err("refused"), MergeError::NoReports);

        let mut zero = shard(1, vec![]);
        zero.report.shard = Some(ShardRecord {
            index: 0,
            total: 0,
            selected: None,
            selection_digest: None,
        });
        assert!(matches!(merge(vec![zero]), Err(MergeError::ShardRange { .. })));
        let mut beyond = shard(1, vec![]);
        beyond.report.shard = Some(ShardRecord {
            index: 4,
            total: 3,
            selected: None,
            selection_digest: None,
        });
        assert!(matches!(merge(vec![beyond]), Err(MergeError::ShardRange { .. })));
        let mut stale = shard(2, vec![]);
        stale.report.binding.commit = Some("old".into());
        assert!(
            matches!(merge(vec![shard(1, vec![]), stale]), Err(MergeError::Commit { file, .. }) if file == "shard-2.json")
        );
        let mut unbound = shard(1, vec![]);
        unbound.report.binding.settings_digest = None;
        assert!(matches!(merge(vec![unbound]), Err(MergeError::Unbound { .. })));
    }

    #[test]
    fn every_case_belongs_to_the_selection_and_to_its_shard() {
        let ids = ["a", "b", "c", "d", "e", "f"];
        let selection = SelectionRecord {
            digest: crate::input::shard::selection_digest(ids),
            cases: ids.iter().map(|s| (*s).to_owned()).collect(),
        };
        let part = |k: u32, extra: &[&str]| {
            let mut cases: Vec<CaseReport> = ids
                .iter()
                .filter(|id| crate::input::shard::owner(id, 3) == k)
                .map(|id| case(id, Status::Passed))
                .collect();
            cases.extend(extra.iter().map(|id| case(id, Status::Passed)));
            let mut named = shard(k, cases);
            named.report.binding.selection = Some(selection.clone());
            named
        };
        assert!(merge(vec![part(1, &[]), part(2, &[]), part(3, &[])]).is_ok());
        let error = merge(vec![part(1, &["zz"]), part(2, &[])]).expect_err("refused");
        assert!(matches!(&error, MergeError::ForeignCase { file, case } if file == "shard-1.json" && case == "zz"));
        let mut short = part(2, &[]);
        short.report.cases.pop();
        assert!(matches!(
            merge(vec![part(1, &[]), short]),
            Err(MergeError::MissingCase { .. })
        ));
    }
}
