//! Shards: one selection split over parallel jobs (`shard`), their reports merged into one
//! verdict (`merge`), and a re-run of what did not pass (`rerun`).

pub mod merge;
pub mod rerun;
pub mod shard;
