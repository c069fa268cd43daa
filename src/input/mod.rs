//! Input: the raw command line and environment (`cli`), the one table of defaults
//! (`defaults`), the one table of environment variable names (`vars`), the config file (`config`), and their validation into `Settings`
//! (`settings`), all before any network call.

pub mod cli;
pub mod config;
pub mod defaults;
pub mod settings;
pub mod vars;
