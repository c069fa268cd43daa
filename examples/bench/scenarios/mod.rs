//! The four scenarios, one module each; each prints its runs and returns its figures.

mod overhead;
mod scale;
mod scarce;
mod waves;

use crate::report::Row;
use crate::Options;
use std::path::Path;

/// Runs scenario `number` (1 to 4) with `options` against the binary `gate`.
pub fn run(number: u8, gate: &Path, options: &Options) -> Result<Vec<Row>, String> {
    match number {
        1 => overhead::run(gate, options),
        2 => scarce::run(gate, options),
        3 => scale::run(gate, options),
        _ => waves::run(gate, options),
    }
}
