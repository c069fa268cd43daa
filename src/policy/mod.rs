//! Policy: the rules that turn trial outcomes into case verdicts and the gate's exit
//! (`verdict`), what a baseline's trials make of a case (`regression_gate`), and the statistics of repeated trials (`confidence`). Nothing here knows
//! reports, settings or the wire format.

pub mod confidence;
pub mod regression_gate;
pub mod verdict;
