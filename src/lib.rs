//! kapso-gate: runs Kapso agent test cases and turns their judge scores into a CI verdict.
//!
//! Data flows one way: `cli::Args` → `settings::Settings` → `plan` (the cases) → `scheduler`
//! (create, poll, deadline, cancellation, through `client` and `budget`) → `report::build`
//! (statuses from `verdict`) → renderers in `report` → `output` (files). `gate` runs that
//! flow; `dry_run` stops after the plan. With `--shard`, `shard` keeps this job's part of the
//! plan (and its share of the rate budget); with `--rerun-failed`, `rerun` supplies the earlier
//! passes carried over instead of run; `merge` turns the shards' reports into one report by the
//! same verdict rules, without running anything. Reports read back (`--baseline`,
//! `--rerun-failed`, `--merge`) go through `report::read`, which re-derives every status. The library never prints: progress goes to an
//! observer, results come back as a `Report`. `docs/ARCHITECTURE.md` is the map.

#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used))]
#![forbid(unsafe_code)]

pub mod domain;
pub mod fs;
pub mod input;
pub mod output;
pub mod policy;
pub mod report;
pub mod run;
pub mod shards;

pub use domain::outcome::Interrupt;
pub use run::dry_run::dry_run;
pub use run::gate::{run, usage_failure_report, Progress};
