//! The shell completions and the man page of kapso-gate, generated from the one CLI definition
//! (`kapso_gate::input::cli::command`, the same one `--help` shows) so that they can never list a flag
//! the binary lacks. This lives outside the product binary on purpose: the generators
//! (`clap_complete`, `clap_mangen`) would only add weight to every download of kapso-gate.

use std::io;
use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// The name users type, which the completions register for.
const BIN: &str = "kapso-gate";

/// The shells with a completion file: bash, zsh, fish and PowerShell.
pub const SHELLS: [Shell; 4] = [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell];

/// Writes one completion script per shell into `completions/` under `out`, and the man page
/// `kapso-gate.1` into `out`; returns the paths written (completions first, sorted by shell).
pub fn generate(out: &Path) -> io::Result<Vec<PathBuf>> {
    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)?;
    let mut written = Vec::new();
    for shell in SHELLS {
        let mut command = kapso_gate::input::cli::command();
        written.push(clap_complete::generate_to(shell, &mut command, BIN, &completions)?);
    }
    let man = out.join(format!("{BIN}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(kapso_gate::input::cli::command().name(BIN)).render(&mut page)?;
    std::fs::write(&man, page)?;
    written.push(man);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each file names the real options, so a renamed or dropped flag shows here; every visible
    /// long option of the CLI is in every completion and in the man page.
    #[test]
    fn completions_and_man_page_list_the_real_flags() {
        let out = std::env::temp_dir().join(format!("kapso-gate-xtask-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let written = generate(&out).expect("generate");
        let names: Vec<String> = written
            .iter()
            .map(|p| p.strip_prefix(&out).expect("under out").display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "completions/kapso-gate.bash",
                "completions/_kapso-gate",
                "completions/kapso-gate.fish",
                "completions/_kapso-gate.ps1",
                "kapso-gate.1",
            ]
        );
        let longs: Vec<String> = kapso_gate::input::cli::command()
            .get_arguments()
            .filter(|arg| !arg.is_hide_set())
            .filter_map(|arg| arg.get_long().map(str::to_owned))
            .collect();
        assert!(longs.iter().any(|l| l == "threshold"), "{longs:?}");
        for path in &written {
            let text = std::fs::read_to_string(path).expect("read");
            for long in &longs {
                // roff escapes each `-` of a flag as `\-`.
                let flag = if path.extension().is_some_and(|e| e == "1") {
                    format!("\\-\\-{}", long.replace('-', "\\-"))
                } else if path.extension().is_some_and(|e| e == "fish") {
                    format!("-l {long}")
                } else {
                    format!("--{long}")
                };
                assert!(text.contains(&flag), "{} lacks {flag}", path.display());
            }
        }
        let man = std::fs::read_to_string(out.join("kapso-gate.1")).expect("man page");
        assert!(man.starts_with(".ie") || man.contains(".TH kapso-gate 1"), "{man:.200}");
        let _ = std::fs::remove_dir_all(&out);
    }
}
