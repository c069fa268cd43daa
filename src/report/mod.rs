//! Reports: the model, how it is built, and one pure renderer per output format.

pub mod build;
pub mod model;
pub mod terminal;

pub use model::{CaseReport, Counts, Report, TrialReport, SCHEMA_VERSION};
