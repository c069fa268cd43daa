//! `cargo run -p xtask -- docs OUT`: writes the shell completions to `OUT/completions/` and the
//! man page to `OUT/kapso-gate.1` (the release workflow attaches both to each release).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [task, out] = args.as_slice() else {
        eprintln!("usage: cargo run -p xtask -- docs OUT_DIR");
        return ExitCode::from(2);
    };
    if task != "docs" {
        eprintln!("unknown task {task:?}; the one task is `docs`");
        return ExitCode::from(2);
    }
    match xtask::generate(&PathBuf::from(out)) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write to {out}: {e}");
            ExitCode::FAILURE
        }
    }
}
