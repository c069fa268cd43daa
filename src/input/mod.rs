//! Input: the raw command line and environment (`cli`), the one table of defaults
//! (`defaults`), the config file (`config`), and their validation into `Settings`
//! (`settings`), all before any network call.

pub mod cli;
pub mod config;
pub mod defaults;
pub mod settings;
