//! The two ways the gate writes files: replacing one atomically (reports, the state file), so a
//! reader or a crash never sees half of it, and appending (GitHub's file commands require it).

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// Writes `bytes` to a hidden temporary file beside `path`, then renames it over `path`.
/// Creates missing parent directories.
pub fn replace_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    Pending::create(path)?.commit(bytes)
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
    /// Opens a hidden temporary file beside `path`, creating missing parent directories.
    pub fn create(path: &Path) -> io::Result<Pending> {
        create_parent(path)?;
        let file_name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(file_name);
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = path.with_file_name(temp_name);
        let file = fs::File::create(&temp)?;
        Ok(Pending {
            path: path.to_owned(),
            temp,
            file: Some(file),
        })
    }

    /// Writes `bytes` and renames the temporary file over the path. `rename` replaces an
    /// existing file on Unix and on Windows alike (Rust's `fs::rename` asks Windows to replace
    /// the target).
    pub fn commit(mut self, bytes: &[u8]) -> io::Result<()> {
        let mut file = self.file.take().ok_or_else(|| io::Error::other("already committed"))?;
        file.write_all(bytes)?;
        file.flush()?;
        drop(file);
        fs::rename(&self.temp, &self.path)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // After a successful rename the temporary file is gone and this does nothing.
        let _ = fs::remove_file(&self.temp);
    }
}

/// Opens `path` for appending, creating it (and its parent directories) when missing.
pub fn open_append(path: &Path) -> io::Result<fs::File> {
    create_parent(path)?;
    fs::OpenOptions::new().create(true).append(true).open(path)
}

/// Appends `contents` to `path`, creating it (and its parent directories) when missing.
pub fn append(path: &Path, contents: &str) -> io::Result<()> {
    let mut file = open_append(path)?;
    file.write_all(contents.as_bytes())?;
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
}
