//! The two ways the gate writes files: replacing one atomically (reports, the state file), so a
//! reader or a crash never sees half of it, and appending (GitHub's file commands require it).
//! Neither can block on a FIFO or a device, a write can be cancelled between chunks, and no
//! temporary file outlives the process: one that is dropped, fails or is cancelled is removed,
//! and [`discard_pending`] removes those still open when the process must exit at once.

use std::fs;
use std::io::{self, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Bytes written between two looks at the cancel flag: small enough that a cancel is prompt,
/// large enough that the look costs nothing.
const CHUNK: usize = 256 * 1024;

/// The temporary files open right now, for [`discard_pending`].
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn pending_list() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    PENDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes every temporary file still pending: for a process that is about to exit without
/// running destructors (a second signal).
pub fn discard_pending() {
    for temp in pending_list().drain(..) {
        let _ = fs::remove_file(temp);
    }
}

/// The error of a write stopped by `cancelled`.
pub fn cancelled_error() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "cancelled")
}

/// Whether `error` is [`cancelled_error`].
pub fn is_cancelled(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::Interrupted && error.to_string() == "cancelled"
}

/// Writes `bytes` to `path` and renames it over; creates missing parent directories.
pub fn replace_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut pending = Pending::create(path)?;
    pending.stage(bytes, &|| false)?;
    pending.commit()
}

/// A file being replaced: its temporary file is open (so the folder is writable), and nothing
/// is visible at the path until [`Pending::commit`]. Dropped uncommitted, it leaves nothing.
#[derive(Debug)]
pub struct Pending {
    path: PathBuf,
    temp: PathBuf,
    file: Option<fs::File>,
}

impl Pending {
    /// Creates a hidden temporary file beside `path`, creating missing parent directories. The
    /// temporary file is always new (`O_EXCL`): never a FIFO or a link left there by someone else.
    pub fn create(path: &Path) -> io::Result<Pending> {
        create_parent(path)?;
        let file_name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(file_name);
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = path.with_file_name(temp_name);
        // A leftover of a crashed process with the same ID is ours to replace.
        let _ = fs::remove_file(&temp);
        let file = fs::OpenOptions::new().write(true).create_new(true).open(&temp)?;
        pending_list().push(temp.clone());
        Ok(Pending {
            path: path.to_owned(),
            temp,
            file: Some(file),
        })
    }

    /// Writes `bytes` to the temporary file, replacing what an earlier call wrote; stops with
    /// [`cancelled_error`] as soon as `cancelled` says so. Nothing is visible at the path yet.
    pub fn stage(&mut self, bytes: &[u8], cancelled: &dyn Fn() -> bool) -> io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("already committed"))?;
        file.set_len(0)?;
        file.rewind()?;
        write_chunked(file, bytes, cancelled)
    }

    /// Renames the staged temporary file over the path. `rename` replaces an existing file on
    /// Unix and on Windows alike (Rust's `fs::rename` asks Windows to replace the target).
    pub fn commit(mut self) -> io::Result<()> {
        let file = self.file.take().ok_or_else(|| io::Error::other("already committed"))?;
        drop(file);
        fs::rename(&self.temp, &self.path)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // After a successful rename the temporary file is gone and this does nothing.
        let _ = fs::remove_file(&self.temp);
        pending_list().retain(|t| t != &self.temp);
    }
}

/// A file being appended to (GitHub's file commands), that can take back what it appended.
#[derive(Debug)]
pub struct Appending {
    file: fs::File,
    /// The length before anything was appended.
    start: u64,
}

impl Appending {
    /// Opens `path` for appending, creating it (and its parent directories) when missing. Only
    /// a regular file is accepted, and the open cannot block (`O_NONBLOCK`: a FIFO without a
    /// reader fails at once instead of waiting for one).
    pub fn open(path: &Path) -> io::Result<Appending> {
        create_parent(path)?;
        let file = non_blocking(fs::OpenOptions::new().create(true).append(true)).open(path)?;
        let metadata = file.metadata()?;
        if !metadata.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
        }
        Ok(Appending {
            file,
            start: metadata.len(),
        })
    }

    /// Appends `bytes` after what was there when the file was opened, replacing what an earlier
    /// call appended. On failure or cancel the file is left as it was found.
    pub fn stage(&mut self, bytes: &[u8], cancelled: &dyn Fn() -> bool) -> io::Result<()> {
        self.roll_back()?;
        let written = write_chunked(&mut self.file, bytes, cancelled);
        if written.is_err() {
            let _ = self.roll_back();
        }
        written
    }

    /// Takes back what was appended.
    pub fn roll_back(&mut self) -> io::Result<()> {
        self.file.set_len(self.start)
    }
}

/// `options` set not to block when opening (Unix); elsewhere unchanged.
pub fn non_blocking(options: &mut fs::OpenOptions) -> &mut fs::OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK)
    }
    #[cfg(not(unix))]
    {
        options
    }
}

/// Appends `contents` to `path`, creating it (and its parent directories) when missing.
pub fn append(path: &Path, contents: &str) -> io::Result<()> {
    Appending::open(path)?.stage(contents.as_bytes(), &|| false)
}

fn write_chunked(file: &mut fs::File, bytes: &[u8], cancelled: &dyn Fn() -> bool) -> io::Result<()> {
    for chunk in bytes.chunks(CHUNK) {
        if cancelled() {
            return Err(cancelled_error());
        }
        file.write_all(chunk)?;
    }
    file.flush()
}

fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => fs::create_dir_all(parent),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_appends() {
        let dir = std::env::temp_dir().join(format!("kapso-gate-file-write-{}", std::process::id()));
        let path = dir.join("a/b/report.json");
        replace_atomically(&path, b"one").expect("writes");
        replace_atomically(&path, b"two").expect("replaces");
        assert_eq!(fs::read_to_string(&path).expect("reads"), "two");
        let leftovers: Vec<_> = fs::read_dir(dir.join("a/b")).expect("dir").collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
        append(&dir.join("log"), "x\n").expect("creates");
        append(&dir.join("log"), "y\n").expect("appends");
        assert_eq!(fs::read_to_string(dir.join("log")).expect("reads"), "x\ny\n");
        assert!(
            replace_atomically(&dir.join("log/inside"), b"z").is_err(),
            "a file is no folder"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cancelled_or_dropped_write_leaves_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("kapso-gate-file-cancel-{}", std::process::id()));
        let path = dir.join("report.json");
        let mut pending = Pending::create(&path).expect("creates");
        let error = pending.stage(&[b'x'; 3 * CHUNK], &|| true).expect_err("cancelled");
        assert!(is_cancelled(&error));
        drop(pending);
        let staged = Pending::create(&path).expect("creates");
        discard_pending();
        assert_eq!(fs::read_dir(&dir).expect("dir").count(), 0, "nothing at all is left");
        drop(staged);

        let log = dir.join("log");
        append(&log, "kept\n").expect("appends");
        let mut appending = Appending::open(&log).expect("opens");
        appending.stage(b"first\n", &|| false).expect("appends");
        appending
            .stage(b"second\n", &|| false)
            .expect("replaces what it appended");
        assert_eq!(fs::read_to_string(&log).expect("reads"), "kept\nsecond\n");
        let looks = std::cell::Cell::new(0);
        let cancel_later = || {
            looks.set(looks.get() + 1);
            looks.get() > 1
        };
        assert!(appending.stage(&[b'y'; 3 * CHUNK], &cancel_later).is_err());
        assert_eq!(fs::read_to_string(&log).expect("reads"), "kept\n", "rolled back");
        let _ = fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("kapso-gate-file-fifo-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        assert!(Appending::open(&fifo).is_err(), "no reader: refused at once");
        let _ = fs::remove_dir_all(&dir);
    }
}
