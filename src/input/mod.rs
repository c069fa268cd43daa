//! Input: the raw command line and environment (`cli`), the one table of environment variable
//! names (`vars`), the config file (`config`), their validation into `Settings` (`settings`),
//! and the `--shard K/N` split with the partition it names (`shard`); all before any network
//! call.

pub mod cli;
pub mod config;
pub mod settings;
pub mod shard;
pub mod vars;
