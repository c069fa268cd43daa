//! Tests of `action/install.sh`, both halves of the composite GitHub Action's binary: the install
//! step, run with bash against a small HTTPS server on 127.0.0.1 that serves fake release assets
//! (with a throwaway certificate that curl trusts through `CURL_CA_BUNDLE`), and the gate step's
//! `--exec` half, run as action.yml's gate step runs it. Each test builds a throwaway action
//! directory (the script plus, for a release, an `action/release` file with the committed
//! checksums), a tool cache, a `$RUNNER_TEMP` and a `$GITHUB_OUTPUT`, the way the runner provides
//! them.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use yaml_rust2::YamlLoader;

const SCRIPT: &str = include_str!("../../action/install.sh");
const ACTION: &str = include_str!("../../action.yml");
const VERSION: &str = "v1.4.2";

/// A self-signed certificate for 127.0.0.1, made once per test process with openssl, and the
/// server configuration that presents it.
struct Tls {
    ca_file: PathBuf,
    config: Arc<rustls::ServerConfig>,
}

fn tls() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let dir = temp_dir("tls");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .args([
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .output()
            .expect("openssl runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from_pem_file(&cert).expect("certificate")],
                PrivateKeyDer::from_pem_file(&key).expect("key"),
            )
            .expect("server config");
        Tls {
            ca_file: cert,
            config: Arc::new(config),
        }
    })
}

/// The request head (up to the blank line), or `None` when the client goes away first.
fn read_head(stream: &mut impl Read) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Serves fixed bodies by path (404 for anything else) over HTTPS, or plain HTTP with
/// `start_plain`, and records every requested path.
struct AssetServer {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl AssetServer {
    fn start(assets: BTreeMap<String, Vec<u8>>) -> Self {
        Self::serve(assets, Some(Arc::clone(&tls().config)))
    }

    fn start_plain(assets: BTreeMap<String, Vec<u8>>) -> Self {
        Self::serve(assets, None)
    }

    fn serve(assets: BTreeMap<String, Vec<u8>>, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let address = listener.local_addr().expect("address");
        let url = format!("{scheme}://{address}/download/{VERSION}");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                // A client that stalls cannot hold the (sequential) server for long.
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                match &tls {
                    Some(config) => {
                        let Ok(connection) = rustls::ServerConnection::new(Arc::clone(config)) else {
                            continue;
                        };
                        let mut stream = rustls::StreamOwned::new(connection, stream);
                        answer(&mut stream, &assets, &seen);
                        stream.conn.send_close_notify();
                        let _ = stream.flush();
                    }
                    None => answer(&mut { stream }, &assets, &seen),
                }
            }
        });
        Self { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests").clone()
    }
}

/// Reads one request from `stream` and answers it from `assets`.
fn answer(stream: &mut (impl Read + Write), assets: &BTreeMap<String, Vec<u8>>, seen: &Mutex<Vec<String>>) {
    let Some(head) = read_head(stream) else { return };
    let path = head.split_whitespace().nth(1).unwrap_or_default().to_owned();
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

/// A server that accepts every connection and never sends a byte (nor closes); counts them.
fn silent_server() -> (String, Arc<Mutex<Vec<TcpStream>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("https://{}/download/{VERSION}", listener.local_addr().expect("address"));
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&held);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            keep.lock().expect("held").push(stream);
        }
    });
    (url, held)
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

/// A distinct fake binary per asset, so a wrong pick cannot pass; when run, it says which asset
/// it is and from where it was run.
fn fake_binary(asset: &str) -> Vec<u8> {
    format!("#!/bin/sh\necho fake {asset} \"$0\"\n").into_bytes()
}

struct Fixture {
    action: PathBuf,
    tool_cache: PathBuf,
    runner_temp: PathBuf,
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
        let runner_temp = root.join("runner-temp");
        std::fs::create_dir_all(&runner_temp).expect("runner temp");
        let github_output = root.join("github_output");
        std::fs::write(&github_output, "").expect("output file");
        Self {
            action,
            tool_cache,
            runner_temp,
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
            .env("RUNNER_TEMP", &self.runner_temp)
            .env("GITHUB_OUTPUT", &self.github_output)
            .env("GITHUB_ACTION_PATH", &self.action)
            .env("CURL_CA_BUNDLE", &tls().ca_file)
            .env("KAPSO_GATE_DOWNLOAD_URL", download_url);
        cmd
    }

    /// The last value of the output `name` the script wrote to `$GITHUB_OUTPUT`.
    fn output(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(&self.github_output)
            .expect("output file")
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    /// The last `path=` line the script wrote to `$GITHUB_OUTPUT`.
    fn installed_path(&self) -> Option<PathBuf> {
        self.output("path").map(PathBuf::from)
    }

    /// action.yml's gate step as the runner runs it: its `run:` script with bash, its env (the
    /// install step's outputs as `${{ steps.install.outputs.NAME }}` resolve from this
    /// fixture's `$GITHUB_OUTPUT`; the inputs are left out), on the runner's variables.
    fn gate_step(&self) -> Command {
        let action = YamlLoader::load_from_str(ACTION).expect("action.yml").remove(0);
        let gate = action["runs"]["steps"]
            .as_vec()
            .expect("steps")
            .iter()
            .find(|s| s["id"].as_str() == Some("gate"))
            .expect("a gate step")
            .clone();
        let script = self.runner_temp.parent().expect("root").join("gate-step.sh");
        std::fs::write(&script, gate["run"].as_str().expect("run")).expect("step script");
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUNNER_TEMP", &self.runner_temp)
            .env("GITHUB_ACTION_PATH", &self.action);
        for (var, value) in gate["env"].as_hash().expect("env") {
            let value = value.as_str().expect("string");
            if let Some(output) = value
                .strip_prefix("${{ steps.install.outputs.")
                .and_then(|rest| rest.strip_suffix(" }}"))
            {
                cmd.env(var.as_str().expect("name"), self.output(output).unwrap_or_default());
            }
        }
        cmd
    }
}

struct Outcome {
    ok: bool,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// No install here takes more than a few seconds; a hang (curl without timeouts) is killed.
const HANG: Duration = Duration::from_secs(90);

/// Runs `cmd` in its own process group with its output in files, so that a hang can be ended
/// whole (bash and its curl) and fails the test instead of blocking it.
fn run(mut cmd: Command) -> Outcome {
    let dir = temp_dir("out");
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let started = Instant::now();
    let mut child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("bash runs");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > HANG {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let outcome = Outcome {
        ok: status.is_some_and(|s| s.success()),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        elapsed: started.elapsed(),
    };
    assert!(
        status.is_some(),
        "still running after {HANG:?}, killed\n--- stdout\n{}\n--- stderr\n{}",
        outcome.stdout,
        outcome.stderr
    );
    outcome
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
    assert_eq!(
        fixture.output("sha256"),
        Some(sha256_hex(b"#!/bin/sh\n")),
        "the gate step checks the build against this"
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

/// The download's curl options: HTTPS only (redirects too), TLS 1.2 or later, bounded connect
/// and transfer times, a bounded number of retries within a bounded window, no `.curlrc`.
#[test]
fn the_download_is_https_only_and_bounded_in_time() {
    let curl = SCRIPT
        .split("download() {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("a download function");
    for flag in [
        "curl -q ",
        "--proto '=https'",
        "--proto-redir '=https'",
        "--tlsv1.2",
        "--connect-timeout \"$connect_timeout\"",
        "--max-time \"$download_timeout\"",
        "--retry 3",
        "--retry-max-time \"$download_timeout\"",
    ] {
        assert!(curl.contains(flag), "curl lacks {flag}: {curl}");
    }
    assert_eq!(
        SCRIPT.lines().filter(|l| l.trim_start().starts_with("curl ")).count(),
        1,
        "every download goes through download()"
    );
}

/// A plain-HTTP download location (a mirror given by mistake) is refused before any request.
#[test]
fn a_plain_http_download_location_is_refused() {
    let (bodies, sums) = all_assets();
    let server = AssetServer::start_plain(bodies);
    let fixture = Fixture::new("plain-http", Some(&sums));
    let out = run(fixture.command("Linux", "X64", &server.url));
    assert!(!out.ok, "an http:// download must fail: {}", out.stderr);
    assert!(out.stderr.contains("could not download"), "{}", out.stderr);
    assert_eq!(server.requests(), Vec::<String>::new(), "no request over plain HTTP");
    assert_eq!(fixture.installed_path(), None);
    assert_eq!(files_under(&fixture.tool_cache), Vec::<PathBuf>::new());
}

/// A server that accepts the connection and never answers fails the step within the (here
/// small) timeouts, after a bounded number of attempts, instead of hanging the job.
#[test]
fn a_silent_server_fails_the_install_within_the_timeouts() {
    let (_, sums) = all_assets();
    let (url, held) = silent_server();
    let fixture = Fixture::new("silent", Some(&sums));
    let mut cmd = fixture.command("Linux", "X64", &url);
    cmd.env("KAPSO_GATE_CONNECT_TIMEOUT", "1")
        .env("KAPSO_GATE_DOWNLOAD_TIMEOUT", "2");
    let out = run(cmd);
    assert!(!out.ok, "{}", out.stderr);
    assert!(out.stderr.contains("could not download"), "{}", out.stderr);
    // At most 2 s per attempt and retries started within 2 s: about 4 s, far below a hang.
    assert!(out.elapsed < Duration::from_secs(60), "took {:?}", out.elapsed);
    let attempts = held.lock().expect("held").len();
    assert!((1..=4).contains(&attempts), "{attempts} connections");
    assert_eq!(files_under(&fixture.tool_cache), Vec::<PathBuf>::new());
}

#[test]
fn a_timeout_that_is_not_a_number_of_seconds_is_refused() {
    let (bodies, sums) = all_assets();
    let server = AssetServer::start(bodies);
    for bad in ["0", "1.5", "10s", "-1", "08"] {
        let fixture = Fixture::new("bad-timeout", Some(&sums));
        let mut cmd = fixture.command("Linux", "X64", &server.url);
        cmd.env("KAPSO_GATE_DOWNLOAD_TIMEOUT", bad);
        let out = run(cmd);
        assert!(!out.ok, "{bad}");
        assert!(
            out.stderr
                .contains("KAPSO_GATE_DOWNLOAD_TIMEOUT must be a whole number of seconds"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(server.requests(), Vec::<String>::new());
}

/// The gate step runs a copy of the verified binary from a fresh directory of its own (mode
/// 0700) under RUNNER_TEMP, not the file in the shared tool cache.
#[test]
fn the_gate_step_runs_a_private_checked_copy() {
    let (bodies, sums) = all_assets();
    let server = AssetServer::start(bodies);
    let fixture = Fixture::new("gate-step", Some(&sums));
    assert!(run(fixture.command("Linux", "X64", &server.url)).ok);
    let out = run(fixture.gate_step());
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    let ran = out
        .stdout
        .trim()
        .strip_prefix("fake kapso-gate-x86_64-unknown-linux-musl ")
        .unwrap_or_else(|| panic!("the fake binary did not run: {}", out.stdout));
    let ran = PathBuf::from(ran);
    assert!(ran.starts_with(&fixture.runner_temp), "{}", ran.display());
    let dir = ran.parent().expect("a directory");
    assert_ne!(dir, fixture.runner_temp.as_path(), "a directory of its own");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(dir).expect("dir").permissions());
    assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
}

/// On a self-hosted runner the tool cache outlives the job and other jobs can write to it: a
/// binary swapped there after the install step verified it is refused by the gate step and
/// never runs.
#[test]
fn a_binary_swapped_in_the_cache_after_verification_never_runs() {
    let (bodies, sums) = all_assets();
    let server = AssetServer::start(bodies);
    let fixture = Fixture::new("swapped", Some(&sums));
    assert!(run(fixture.command("Linux", "X64", &server.url)).ok);
    let installed = fixture.installed_path().expect("path");
    let marker = fixture.runner_temp.parent().expect("root").join("swapped-binary-ran");
    std::fs::write(&installed, format!("#!/bin/sh\ntouch '{}'\n", marker.display())).expect("swap");

    let out = run(fixture.gate_step());
    assert!(!out.ok, "the gate step must fail: {}{}", out.stdout, out.stderr);
    assert!(!marker.exists(), "the swapped binary ran");
    assert!(
        out.stderr.contains("changed after the install step verified it")
            && out.stderr.contains(&sums["kapso-gate-x86_64-unknown-linux-musl"])
            && out.stderr.contains("refusing to run it"),
        "{}",
        out.stderr
    );
    assert_eq!(
        files_under(&fixture.runner_temp),
        Vec::<PathBuf>::new(),
        "no copy left behind"
    );
}
