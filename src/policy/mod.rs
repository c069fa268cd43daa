//! Policy: the rules that turn trial outcomes into case verdicts and the gate's exit
//! (`verdict`), what a baseline's trials make of a case (`regression_gate`), the statistics of
//! repeated trials (`confidence`), and the one table of defaults every setting falls back to
//! (`defaults`). Nothing here knows reports, settings or the wire format.

pub mod confidence;
pub mod defaults;
pub mod regression_gate;
pub mod verdict;
