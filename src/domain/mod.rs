//! The domain's leaves: exit codes, a selected case, the outcome of a trial, test-case and run
//! IDs, timestamps, scores as text, the fork rule per forge, digests, and the secrets that never
//! print. They import nothing of the crate outside `domain`.

pub mod case;
pub mod digest;
pub mod exit;
pub mod fork;
pub mod ids;
pub mod outcome;
pub mod score;
pub mod secret;
pub mod time;
