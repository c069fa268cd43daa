//! The one place text leaves the process. Every line the gate writes to stdout or stderr goes
//! through a [`Stdio`]: under GitHub Actions, text is made inert as workflow commands in both
//! forms (`report::github::neutralise`), so no name, ID, feedback, server error, note or path
//! can act as a command; only the gate's own commands go through [`Stdio::commands`].

use kapso_gate::report::github;
use std::io::Write;

/// Where text goes and how it is made safe there.
#[derive(Debug, Clone, Copy)]
pub struct Stdio {
    /// Running under GitHub Actions: the runner reads every line for workflow commands.
    pub github: bool,
}

impl Stdio {
    /// Text for stdout (results).
    pub fn out(self, text: &str) {
        write(&mut std::io::stdout().lock(), &self.inert(text));
    }

    /// Text for stderr (diagnostics).
    pub fn err(self, text: &str) {
        write(&mut std::io::stderr().lock(), &self.inert(text));
    }

    /// One line of text for stderr.
    pub fn err_line(self, line: &str) {
        self.err(&format!("{line}\n"));
    }

    /// The gate's own workflow commands (their untrusted parts escaped by the GitHub
    /// renderer), for stdout. The legacy `##[` form is broken even here: the gate never uses it.
    pub fn commands(self, text: &str) {
        write(&mut std::io::stdout().lock(), &github::neutralise_legacy(text));
    }

    fn inert(self, text: &str) -> String {
        if self.github {
            github::neutralise(text)
        } else {
            text.to_owned()
        }
    }
}

fn write(stream: &mut dyn Write, text: &str) {
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
}
