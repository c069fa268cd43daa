//! The binary's own modules: progress lines as they happen (`console`) and the one sink through
//! which every line leaves the process (`stdio`).

pub mod console;
pub mod signals;
pub mod stdio;
