//! Signals, owned by a thread of their own so that they are heard in every phase, also while
//! the main thread is busy (reading a large report, writing files): the first SIGINT or SIGTERM
//! (Ctrl-C or Ctrl-Break on Windows) asks the gate to stop through a watch channel that every
//! phase selects on; a second one, or a first one the process has not finished within
//! [`GRACE`], ends the process at once, removing its pending temporary files first.

use super::stdio::Stdio;
use kapso_gate::policy::verdict::interrupt_exit;
use kapso_gate::Interrupt;
use std::time::Duration;
use tokio::sync::watch;

/// How long a stopping process may take before it is ended at once: only a hang nobody
/// foresaw reaches it, since every phase stops within about a second on its own.
const GRACE: Duration = Duration::from_secs(5);

/// Where a stop request shows: `None` until the first signal.
pub type Stop = watch::Receiver<Option<Interrupt>>;

/// Starts listening. The handlers are installed before this returns, so no signal is missed
/// (or left to its default action) once the gate has started. Without signal support (which
/// should not happen) the receiver never changes.
pub fn listen(io: Stdio) -> Stop {
    let (tx, rx) = watch::channel(None);
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return rx;
    };
    let signals = {
        let _entered = runtime.enter();
        Signals::new()
    };
    let Some(signals) = signals else {
        return rx;
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || runtime.block_on(stop_on_signals(signals, tx, io)));
    if spawned.is_err() {
        io.err_line("kapso-gate: warning: could not start the signal listener");
    }
    rx
}

/// The first signal asks the gate to stop; a second one, or [`GRACE`] after the first, exits.
async fn stop_on_signals(mut signals: Signals, stop: watch::Sender<Option<Interrupt>>, io: Stdio) {
    let (first, name) = signals.recv().await;
    io.err_line(&format!(
        "kapso-gate: {name} received, stopping (send it again to exit at once)"
    ));
    let _ = stop.send(Some(first));
    tokio::select! {
        _ = signals.recv() => io.err_line("kapso-gate: second signal, exiting now"),
        () = tokio::time::sleep(GRACE) => io.err_line(&format!(
            "kapso-gate: still running {}s after {name}, exiting now",
            GRACE.as_secs()
        )),
    }
    kapso_gate::fs::file_write::discard_pending();
    std::process::exit(i32::from(interrupt_exit(first).code()));
}

/// Runs `work` on a thread of its own and waits for it unless a stop comes first: for work that
/// cannot look at the stop itself (reading and parsing large files). A stopped worker is left
/// to end with the process; it must not write anything.
pub fn unless_stopped<T: Send + 'static>(
    stop: &Stop,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Interrupt> {
    let (tx, rx) = std::sync::mpsc::channel();
    // Like tokio's own threads: a process that cannot start a thread has nothing left to do.
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    loop {
        if let Some(interrupt) = *stop.borrow() {
            return Err(interrupt);
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(done) => return Ok(done),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("the worker thread panicked"),
        }
    }
}

#[cfg(unix)]
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> Option<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Some(Self {
            int: signal(SignalKind::interrupt()).ok()?,
            term: signal(SignalKind::terminate()).ok()?,
        })
    }

    async fn recv(&mut self) -> (Interrupt, &'static str) {
        // Biased: when both are pending, SIGINT came first (the kernel delivers the lower number first).
        let interrupt = tokio::select! {
            biased;
            _ = self.int.recv() => Interrupt::Sigint,
            _ = self.term.recv() => Interrupt::Sigterm,
        };
        (interrupt, interrupt.name())
    }
}

/// Windows has no SIGTERM. Ctrl-C is the interrupt (exit 130, as SIGINT); Ctrl-Break is what
/// the GitHub runner sends after Ctrl-C when a cancelled step does not stop, the place SIGTERM
/// takes on Linux, so it maps to `Sigterm` (exit 143).
#[cfg(windows)]
struct Signals {
    ctrl_c: tokio::signal::windows::CtrlC,
    ctrl_break: tokio::signal::windows::CtrlBreak,
}

#[cfg(windows)]
impl Signals {
    fn new() -> Option<Self> {
        Some(Self {
            ctrl_c: tokio::signal::windows::ctrl_c().ok()?,
            ctrl_break: tokio::signal::windows::ctrl_break().ok()?,
        })
    }

    async fn recv(&mut self) -> (Interrupt, &'static str) {
        tokio::select! {
            biased;
            _ = self.ctrl_c.recv() => (Interrupt::Sigint, "Ctrl-C"),
            _ = self.ctrl_break.recv() => (Interrupt::Sigterm, "Ctrl-Break"),
        }
    }
}
