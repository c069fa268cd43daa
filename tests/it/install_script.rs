//! Tests of `action/install.sh`, the install step of the composite GitHub Action, run with bash
//! against a small HTTP server on 127.0.0.1 that serves fake release assets. Each test builds a
//! throwaway action directory (the script plus, for a release, an `action/release` file with the
//! committed checksums), a tool cache and a `$GITHUB_OUTPUT`, the way the runner provides them.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

const SCRIPT: &str = include_str!("../../action/install.sh");
const VERSION: &str = "v1.4.2";

/// Serves fixed bodies by path (404 for anything else) and records every requested path.
struct AssetServer {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl AssetServer {
    fn start(assets: BTreeMap<String, Vec<u8>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!("http://{}/download/{VERSION}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // Drain the headers so curl sees a complete exchange.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                seen.lock().expect("requests").push(path.clone());
                let asset = path.strip_prefix(&format!("/download/{VERSION}/")).unwrap_or_default();
                let (status, body) = match assets.get(asset) {
                    Some(body) => ("200 OK", body.clone()),
                    None => ("404 Not Found", b"Not Found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
            }
        });
        Self { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests").clone()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    // The tests compute the expected sums with the system's sha256sum, the tool the script uses
    // on Linux, so no hashing crate is needed.
    let dir = temp_dir("sha");
    let file = dir.join("blob");
    std::fs::write(&file, bytes).expect("write blob");
    let out = Command::new("sha256sum").arg(&file).output().expect("sha256sum runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout).expect("utf-8")[..64].to_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kapso-install-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The five released targets, as the runner names their platforms.
const PLATFORMS: [(&str, &str, &str); 5] = [
    ("Linux", "X64", "kapso-gate-x86_64-unknown-linux-musl"),
    ("Linux", "ARM64", "kapso-gate-aarch64-unknown-linux-musl"),
    ("macOS", "X64", "kapso-gate-x86_64-apple-darwin"),
    ("macOS", "ARM64", "kapso-gate-aarch64-apple-darwin"),
    ("Windows", "X64", "kapso-gate-x86_64-pc-windows-msvc.exe"),
];

/// A distinct fake binary per asset, so a wrong pick cannot pass.
fn fake_binary(asset: &str) -> Vec<u8> {
    format!("#!/bin/sh\necho fake {asset}\n").into_bytes()
}

struct Fixture {
    action: PathBuf,
    tool_cache: PathBuf,
    github_output: PathBuf,
}

impl Fixture {
    /// An action directory; with `checksums` (asset → sha256), a release commit's action/release.
    fn new(name: &str, checksums: Option<&BTreeMap<String, String>>) -> Self {
        Self::with_url(
            name,
            checksums,
            &format!("https://github.invalid/o/r/releases/download/{VERSION}"),
        )
    }

    /// As `new`, with `url` as the release's download location in action/release.
    fn with_url(name: &str, checksums: Option<&BTreeMap<String, String>>, url: &str) -> Self {
        let root = temp_dir(name);
        let action = root.join("action-checkout");
        std::fs::create_dir_all(action.join("action")).expect("action dir");
        std::fs::write(action.join("action/install.sh"), SCRIPT).expect("script");
        if let Some(sums) = checksums {
            let mut release = format!("# written by the release workflow\nversion {VERSION}\nurl {url}\n");
            for (asset, sum) in sums {
                release.push_str(&format!("sha256 {sum} {asset}\n"));
            }
            std::fs::write(action.join("action/release"), release).expect("release file");
        }
        let tool_cache = root.join("tool-cache");
        std::fs::create_dir_all(&tool_cache).expect("tool cache");
        let github_output = root.join("github_output");
        std::fs::write(&github_output, "").expect("output file");
        Self {
            action,
            tool_cache,
            github_output,
        }
    }

    fn command(&self, os: &str, arch: &str, download_url: &str) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(self.action.join("action/install.sh"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUNNER_OS", os)
            .env("RUNNER_ARCH", arch)
            .env("RUNNER_TOOL_CACHE", &self.tool_cache)
            .env("GITHUB_OUTPUT", &self.github_output)
            .env("GITHUB_ACTION_PATH", &self.action)
            .env("KAPSO_GATE_DOWNLOAD_URL", download_url);
        cmd
    }

    /// The last `path=` line the script wrote to `$GITHUB_OUTPUT`.
    fn installed_path(&self) -> Option<PathBuf> {
        std::fs::read_to_string(&self.github_output)
            .expect("output file")
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("path="))
            .map(PathBuf::from)
    }
}

struct Outcome {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command) -> Outcome {
    let out = cmd.output().expect("bash runs");
    Outcome {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn all_assets() -> (BTreeMap<String, Vec<u8>>, BTreeMap<String, String>) {
    let bodies: BTreeMap<String, Vec<u8>> = PLATFORMS
        .iter()
        .map(|(_, _, asset)| ((*asset).to_owned(), fake_binary(asset)))
        .collect();
    let sums = bodies.iter().map(|(a, b)| (a.clone(), sha256_hex(b))).collect();
    (bodies, sums)
}

/// Every regular file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn each_platform_gets_its_own_verified_asset() {
    let (bodies, sums) = all_assets();
    let server = AssetServer::start(bodies.clone());
    for (os, arch, asset) in PLATFORMS {
        let fixture = Fixture::new("platform", Some(&sums));
        let out = run(fixture.command(os, arch, &server.url));
        assert!(out.ok, "{os}/{arch}: {}{}", out.stdout, out.stderr);
        let path = fixture.installed_path().expect("a path= output");
        assert!(path.starts_with(&fixture.tool_cache), "{os}/{arch}: {}", path.display());
        assert_eq!(
            std::fs::read(&path).expect("installed binary"),
            bodies[asset],
            "{os}/{arch} installed the wrong asset"
        );
        assert_eq!(
            path.extension().is_some_and(|e| e == "exe"),
            os == "Windows",
            "{}",
            path.display()
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).expect("metadata").permissions());
        assert_eq!(mode & 0o111, 0o111, "{os}/{arch}: not executable");
    }
    let mut requested = server.requests();
    requested.sort();
    let mut expected: Vec<String> = PLATFORMS
        .iter()
        .map(|(_, _, asset)| format!("/download/{VERSION}/{asset}"))
        .collect();
    expected.sort();
    assert_eq!(requested, expected, "one download per platform, of its own asset");
}

#[test]
fn a_checksum_mismatch_is_refused_and_leaves_no_binary() {
    let (mut bodies, sums) = all_assets();
    bodies.insert(
        "kapso-gate-x86_64-unknown-linux-musl".into(),
        b"#!/bin/sh\necho tampered\n".to_vec(),
    );
    let server = AssetServer::start(bodies);
    let fixture = Fixture::new("mismatch", Some(&sums));
    let out = run(fixture.command("Linux", "X64", &server.url));
    assert!(!out.ok, "a tampered download must fail the step");
    assert!(out.stderr.contains("checksum mismatch"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(sums["kapso-gate-x86_64-unknown-linux-musl"].as_str()),
        "the message names the committed checksum: {}",
        out.stderr
    );
    assert!(out.stderr.contains("refusing to run it"), "{}", out.stderr);
    assert_eq!(fixture.installed_path(), None, "no path output");
    assert_eq!(
        files_under(&fixture.tool_cache),
        Vec::<PathBuf>::new(),
        "no file left behind"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_second_install_on_the_same_runner_uses_the_cache() {
    let (bodies, sums) = all_assets();
    let server = AssetServer::start(bodies);
    let fixture = Fixture::new("cache", Some(&sums));
    let first = run(fixture.command("Linux", "ARM64", &server.url));
    assert!(first.ok, "{}", first.stderr);
    let installed = fixture.installed_path().expect("first path");
    assert_eq!(server.requests().len(), 1);

    let second = run(fixture.command("Linux", "ARM64", &server.url));
    assert!(second.ok, "{}", second.stderr);
    assert_eq!(server.requests().len(), 1, "a cache hit makes no request");
    assert!(second.stderr.contains("tool cache"), "{}", second.stderr);
    assert_eq!(fixture.installed_path(), Some(installed));
}

/// A cached file that no longer matches the committed checksum is not trusted.
#[test]
fn a_tampered_cache_entry_is_downloaded_again() {
    let (bodies, sums) = all_assets();
    let server = AssetServer::start(bodies.clone());
    let fixture = Fixture::new("tampered-cache", Some(&sums));
    assert!(run(fixture.command("macOS", "ARM64", &server.url)).ok);
    let installed = fixture.installed_path().expect("path");
    std::fs::write(&installed, "#!/bin/sh\necho swapped\n").expect("tamper");

    let again = run(fixture.command("macOS", "ARM64", &server.url));
    assert!(again.ok, "{}", again.stderr);
    assert_eq!(
        server.requests().len(),
        2,
        "the tampered copy is replaced by a download"
    );
    assert_eq!(
        std::fs::read(&installed).expect("binary"),
        bodies["kapso-gate-aarch64-apple-darwin"]
    );
}

#[test]
fn a_ref_without_a_release_builds_from_source() {
    let server = AssetServer::start(BTreeMap::new());
    let fixture = Fixture::new("source", None);
    // A stand-in for cargo: records its arguments and leaves a binary where cargo would.
    let stub = fixture.tool_cache.parent().expect("root").join("fake-cargo");
    std::fs::write(
        &stub,
        "#!/usr/bin/env bash\nset -eu\necho \"$*\" > \"$(dirname \"$0\")/cargo-args\"\n\
         while [ $# -gt 0 ]; do [ \"$1\" = --target-dir ] && dir=$2; shift; done\n\
         mkdir -p \"$dir/release\" && printf '#!/bin/sh\\n' > \"$dir/release/kapso-gate\" && chmod +x \"$dir/release/kapso-gate\"\n",
    )
    .expect("stub");
    let mut cmd = fixture.command("Linux", "X64", &server.url);
    cmd.env("KAPSO_GATE_CARGO", &stub)
        .env("CARGO_TARGET_DIR", fixture.action.join("target"));
    std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let out = run(cmd);
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("::notice") && out.stdout.contains("building kapso-gate from source"),
        "the log says why it builds: {}",
        out.stdout
    );
    let args = std::fs::read_to_string(stub.with_file_name("cargo-args")).expect("cargo was called");
    assert!(args.starts_with("build --release --locked"), "{args}");
    assert!(
        args.contains(&fixture.action.join("Cargo.toml").display().to_string()),
        "{args}"
    );
    assert_eq!(
        fixture.installed_path(),
        Some(fixture.action.join("target/release/kapso-gate"))
    );
    assert_eq!(server.requests(), Vec::<String>::new(), "no download without a release");
}

#[test]
fn an_unreleased_platform_is_refused_clearly() {
    let (bodies, sums) = all_assets();
    let server = AssetServer::start(bodies);
    for (os, arch) in [("Windows", "ARM64"), ("Linux", "ARM"), ("FreeBSD", "X64"), ("", "")] {
        let fixture = Fixture::new("unknown", Some(&sums));
        let out = run(fixture.command(os, arch, &server.url));
        assert!(!out.ok, "{os}/{arch} must fail");
        assert!(
            out.stderr
                .contains(&format!("no released binary for RUNNER_OS='{os}' RUNNER_ARCH='{arch}'")),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("Windows X64"),
            "names what is released: {}",
            out.stderr
        );
        assert_eq!(fixture.installed_path(), None);
    }
    assert_eq!(server.requests(), Vec::<String>::new());
}

#[test]
fn a_missing_asset_fails_without_leaving_a_file() {
    let (mut bodies, sums) = all_assets();
    bodies.remove("kapso-gate-x86_64-apple-darwin");
    let server = AssetServer::start(bodies);
    let fixture = Fixture::new("missing-asset", Some(&sums));
    let out = run(fixture.command("macOS", "X64", &server.url));
    assert!(!out.ok);
    assert!(out.stderr.contains("could not download"), "{}", out.stderr);
    assert_eq!(files_under(&fixture.tool_cache), Vec::<PathBuf>::new());
}

/// Without the override the script downloads from the location committed in action/release.
#[test]
fn the_committed_url_is_the_default_download_location() {
    let (bodies, sums) = all_assets();
    let server = AssetServer::start(bodies.clone());
    let fixture = Fixture::with_url("default-url", Some(&sums), &server.url);
    let mut cmd = fixture.command("Windows", "X64", "");
    cmd.env_remove("KAPSO_GATE_DOWNLOAD_URL");
    let out = run(cmd);
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(
        server.requests(),
        [format!("/download/{VERSION}/kapso-gate-x86_64-pc-windows-msvc.exe")]
    );
    let path = fixture.installed_path().expect("path");
    assert_eq!(
        std::fs::read(path).expect("binary"),
        bodies["kapso-gate-x86_64-pc-windows-msvc.exe"]
    );
}
