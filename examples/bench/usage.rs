//! Peak RSS and CPU time of the gate process: read from `/usr/bin/time` when it is installed,
//! else sampled from `/proc` while the process runs.

use std::path::Path;
use std::process::{Command, Stdio};

/// Whether `/usr/bin/time` is there and works (GNU time with `-f`).
pub fn time_available() -> bool {
    Path::new("/usr/bin/time").is_file()
        && Command::new("/usr/bin/time")
            .args(["-f", "%M", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// `program` run under `/usr/bin/time`, which writes peak RSS (KiB) and user and system CPU
/// seconds to `report` as `%M %U %S`.
pub fn timed(program: &Path, report: &Path) -> Command {
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-o").arg(report).args(["-f", "%M %U %S"]).arg(program);
    cmd
}

/// `%M %U %S` as /usr/bin/time writes it (possibly after a "Command exited with" line).
pub fn parse_time_output(text: &str) -> (Option<u64>, Option<f64>) {
    let Some(line) = text.lines().rev().find(|l| !l.trim().is_empty()) else {
        return (None, None);
    };
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields.as_slice() {
        [rss, user, sys] => {
            let rss = rss.parse().ok();
            let cpu = user
                .parse::<f64>()
                .ok()
                .zip(sys.parse::<f64>().ok())
                .map(|(u, s)| u + s);
            (rss, cpu)
        }
        _ => (None, None),
    }
}

/// VmHWM (KiB) and utime + stime (seconds, assuming 100 clock ticks per second) of `pid`.
pub fn proc_sample(pid: u32) -> Option<(u64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the full line, 12 and 13 after "pid (comm) ".
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((hwm, (utime + stime) / 100.0))
}
