//! Finds the release `kapso-gate` binary the benchmarks drive, building it first when asked.
//! Shared by the benchmark examples through `#[path]` (an example cannot depend on another).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The release binary next to the running example (`target/release/examples/NAME` ->
/// `target/release/kapso-gate`), after `cargo build --release --bin kapso-gate` when `build`.
/// `label` names the benchmark in its progress line.
pub fn locate(build: bool, label: &str) -> Result<PathBuf, String> {
    if build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        eprintln!("{label}: cargo build --release --bin kapso-gate");
        let status = Command::new(cargo)
            .args(["build", "--release", "--bin", "kapso-gate"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("`cargo build --release --bin kapso-gate` failed".into());
        }
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this executable: {e}"))?;
    let gate = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate the target directory")?
        .join(format!("kapso-gate{}", std::env::consts::EXE_SUFFIX));
    if gate.is_file() {
        Ok(gate)
    } else {
        Err(format!(
            "{} is missing: run `cargo build --release` first (or drop --no-build)",
            gate.display()
        ))
    }
}
