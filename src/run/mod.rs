//! Run: the selection expanded into cases (`plan`), the run lifecycle (`scheduler`) over the one
//! HTTP client (`client`) and the one rate budget (`budget`), the state file for re-attaching
//! (`state`), and the two entry points that drive them (`gate`, `dry_run`).

pub mod budget;
pub mod client;
pub mod dry_run;
pub mod gate;
pub mod plan;
pub mod sample;
pub mod scheduler;
pub mod spend;
pub mod state;
