//! Shards: the reports of the parallel jobs of one selection merged into one verdict
//! (`merge`). The split itself (`--shard K/N`) is input: `input::shard`.

pub mod merge;
