//! Policy: the rules that turn trial outcomes into case verdicts and the gate's exit
//! (`verdict`), the statistics of repeated trials (`confidence`), and the one table of
//! defaults every setting falls back to (`defaults`). Nothing here knows
//! reports, settings or the wire format.

pub mod confidence;
pub mod defaults;
pub mod verdict;
