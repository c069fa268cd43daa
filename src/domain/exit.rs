//! The documented exit codes: the single place that maps an outcome to a process status.

use std::fmt;

/// How the gate ended. `main` turns this into the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// Every blocking case finished with a numeric score at or above its threshold.
    Passed,
    /// At least one blocking case scored below its threshold, crashed, or had no score.
    Failed,
    /// Invalid options or input, found before any run was created.
    Usage,
    /// Kapso refused a request in a way a retry cannot fix, and nothing failed.
    Rejected,
    /// At least one case got no verdict for a transient reason, and nothing failed or was rejected.
    Incomplete,
    /// Stopped by SIGINT (Ctrl-C, or a cancelled GitHub job).
    Interrupted,
    /// Stopped by SIGTERM.
    Terminated,
}

impl Exit {
    /// Every exit, in the order the documentation lists them.
    pub const ALL: [Exit; 7] = [
        Exit::Passed,
        Exit::Failed,
        Exit::Usage,
        Exit::Rejected,
        Exit::Incomplete,
        Exit::Interrupted,
        Exit::Terminated,
    ];

    /// The numeric process exit status.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Passed => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Rejected => 3,
            Exit::Incomplete => 4,
            Exit::Interrupted => 130,
            Exit::Terminated => 143,
        }
    }

    /// Stable lower-case name, used in reports and the `verdict` output.
    pub const fn name(self) -> &'static str {
        match self {
            Exit::Passed => "passed",
            Exit::Failed => "failed",
            Exit::Usage => "usage",
            Exit::Rejected => "rejected",
            Exit::Incomplete => "incomplete",
            Exit::Interrupted => "interrupted",
            Exit::Terminated => "terminated",
        }
    }

    /// One line for `--help` and the README.
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Passed => "every selected case finished with a numeric score at or above its threshold and no error",
            Exit::Failed => "a case scored below its threshold, finished with a Kapso error, or finished without a numeric score",
            Exit::Usage => "invalid options or input, found before any run was created",
            Exit::Rejected => "Kapso refused a request a retry cannot fix (400, 401, 402, 403, 404, 422) and no case failed",
            Exit::Incomplete => "a case got no verdict (deadline, network errors, 429 or 5xx after retries) and none failed or was rejected",
            Exit::Interrupted => "stopped by SIGINT; reports list unfinished cases as cancelled",
            Exit::Terminated => "stopped by SIGTERM; reports list unfinished cases as cancelled",
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The exit-code table as shown at the end of `--help`.
pub fn help_table() -> String {
    let mut out = String::from("Exit codes:\n");
    for exit in Exit::ALL {
        out.push_str(&format!(
            "  {:>3}  {:<11} {}\n",
            exit.code(),
            exit.name(),
            exit.meaning()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_documented() {
        let mut codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 130, 143]);
        let table = help_table();
        for exit in Exit::ALL {
            assert!(table.contains(exit.name()), "{exit} missing from help table");
        }
    }
}
