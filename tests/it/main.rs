//! The integration tests, built as one binary so the shared helpers in `support` compile once
//! and every helper is used by some module (no per-file `dead_code` allowances).
//!
//! - `smoke`: one passing case, the per-run lines and `-q`.
//! - `gate`: the end-to-end scenarios of the gate (exit codes, retries, selection, bad input).
//! - `budget`: the rate budget and the poll scheduler, read from the simulator's request log.
//! - `budget_pacing`: paced spending under every server window, `auto`, Retry-After, one request
//!   for a refused key.
//! - `policy`: trials and aggregates, per-case config, quarantine, baselines, `--agent`, `--dry-run`.
//! - `reports`: every report surface (JSON against its schema, JUnit, GitHub summary and outputs).
//! - `hardening`: cancellation, re-attaching with a state file, hostile servers, redirects,
//!   proxies, and the key in no output.
//! - `cancel`: a signal in every phase (dry run, comment, `--merge`) exits 130/143 and leaves no
//!   temporary file; a FIFO event file never blocks; a write that fails midway settles every output.
//! - `properties`: property tests of the parser, the escapers and the ID encoding; their
//!   reproducible configuration (a fixed seed, committed regressions).
//! - `arithmetic`: the verdict's arithmetic against exact decimals over extreme scores, and
//!   scores that survive the wire digit for digit.
//! - `action`: the GitHub Action, the Dockerfiles and the workflow examples match the binary.
//! - `readme`: the README's front door and exit codes match the binary.
//! - `docs`: the book's pages, links, YAML blocks, options reference and download recipes.
//! - `install_script`: the action's installer against a local server of fake release assets.
//! - `pr_comment`: the pull-request comment module against the fake GitHub and GitLab APIs;
//!   `pr_comment_gate`: the same through the binary, reports unchanged by any comment problem.
//! - `binding`: reports bound to their commit, selection and settings; statuses re-derived on
//!   reading; files refused by type and size without blocking.
//! - `shards`: `--shard`, `--merge` and `--rerun-failed` end to end.
//! - `spend`: `--max-runs` never exceeded, MIN trials that do not fit, the nearest case first,
//!   a shard's share, `--sample`, and `runs_created` on every report.
//! - `regression`: the regression gate against a baseline: regressed, held, not comparable, no
//!   baseline, flips in every report, the suite, the raw drop with one trial, the baseline's age.
//! - `trials`: `--trials MIN..MAX` stops when certain, never beyond MAX; intervals in reports.
//! - `edges`: untrusted text never acts as a workflow command (a model of the runner), scores at
//!   the threshold, settled reports, workspace paths, annotation size, JUnit against its schema.

mod support;

mod action;
mod architecture;
mod arithmetic;
mod binding;
mod budget;
mod budget_pacing;
mod cancel;
mod docs;
mod edges;
mod gate;
mod hardening;
mod install_script;
mod policy;
mod pr_comment;
mod pr_comment_gate;
mod properties;
mod readme;
mod regression;
mod reports;
mod shards;
mod smoke;
mod spend;
mod trials;
