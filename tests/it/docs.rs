//! Keeps the book (`docs/`, an mdBook) and the README's front door honest: every page is in the
//! book, every relative link and `#anchor` resolves, every YAML block parses, the options
//! reference lists every option and variable the binary reads, and the release-download recipes
//! really fetch what `.github/workflows/release.yml` publishes and refuse a binary that does not
//! match the pinned SHA-256 (run with curl and sha256sum against a local release server).

use crate::support::release_server::ReleaseServer;
use kapso_gate::input::cli::env_bindings;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use yaml_rust2::{Yaml, YamlLoader};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The lines between these two comments are the recipe's download; the test runs exactly them.
const BEGIN: &str = "# --- download kapso-gate, verify the pinned SHA-256 ---";
const END: &str = "# --- kapso-gate verified ---";
/// Where the recipes download from; the test points it at its own server.
const RELEASES: &str = "https://github.com/OWNER/kapso-gate/releases/download";
/// The pages whose recipes must download the release binary.
const RECIPE_PAGES: [&str; 5] = [
    "docs/install.md",
    "docs/gitlab.md",
    "docs/circleci.md",
    "docs/jenkins.md",
    "docs/buildkite.md",
];

struct Page {
    /// Relative to the repository root, with `/`.
    path: String,
    text: String,
}

/// The README and every Markdown page of the book.
fn pages() -> Vec<Page> {
    let mut paths = vec!["README.md".to_owned()];
    let mut docs: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(Path::new(ROOT).join(&path)).expect("page");
            Page { path, text }
        })
        .collect()
}

fn page(path: &str) -> Page {
    pages()
        .into_iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("{path} missing"))
}

struct Fence {
    info: String,
    body: String,
}

/// Fenced code blocks (also indented ones inside list items), bodies de-indented.
fn fences(text: &str) -> Vec<Fence> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String, Vec<String>)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match open.take() {
            None if trimmed.starts_with("```") => {
                open = Some((indent, trimmed[3..].trim().to_owned(), Vec::new()));
            }
            None => {}
            Some((_, info, body)) if trimmed == "```" => out.push(Fence {
                info,
                body: body.join("\n") + "\n",
            }),
            Some((at, info, mut body)) => {
                body.push(line.get(at.min(indent)..).unwrap_or_default().to_owned());
                open = Some((at, info, body));
            }
        }
    }
    assert!(open.is_none(), "an unclosed code block");
    out
}

/// The lines outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut inside = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                inside = !inside;
                return false;
            }
            !inside
        })
        .collect()
}

/// The anchor GitHub and mdBook give a heading: its text without Markdown, lower case, letters,
/// digits, `-` and `_` kept, whitespace turned into `-`, everything else dropped; a repeated
/// anchor gets `-1`, `-2`, ... (both renderers agree on ASCII headings).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for line in prose(text) {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let heading = heading.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let plain = link_texts(heading.trim());
        let base: String = plain
            .chars()
            .filter_map(|c| match c {
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
                c if c.is_whitespace() => Some('-'),
                _ => None,
            })
            .collect();
        let n = seen.entry(base.clone()).or_insert(0);
        out.insert(if *n == 0 { base.clone() } else { format!("{base}-{n}") });
        *n += 1;
    }
    out
}

/// `[text](target)` becomes `text`.
fn link_texts(line: &str) -> String {
    let mut out = line.to_owned();
    while let Some((start, end, _)) = links_in(&out).into_iter().next() {
        let text = out[start + 1..].split("](").next().unwrap_or_default().to_owned();
        out.replace_range(start..end, &text);
    }
    out
}

/// Inline links as (start of `[`, end after `)`, target), code spans left out.
fn links_in(line: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut in_code = false;
    let mut open: Vec<usize> = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'`' => in_code = !in_code,
            b'[' if !in_code => open.push(i),
            b']' if !in_code && bytes.get(i + 1) == Some(&b'(') => {
                if let (Some(start), Some(close)) = (open.pop(), line[i..].find(')')) {
                    out.push((start, i + close + 1, line[i + 2..i + close].to_owned()));
                    i += close;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// `a/b/../c` without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let pages = pages();
    let anchors_of: BTreeMap<String, BTreeSet<String>> =
        pages.iter().map(|p| (p.path.clone(), anchors(&p.text))).collect();
    let mut broken = Vec::new();
    for page in &pages {
        for line in prose(&page.text) {
            for (_, _, target) in links_in(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
                let dir = Path::new(&page.path).parent().unwrap_or(Path::new(""));
                let resolved = if file.is_empty() {
                    PathBuf::from(&page.path)
                } else {
                    normalise(&dir.join(file))
                };
                let resolved_str = resolved.to_string_lossy().replace('\\', "/");
                if !Path::new(ROOT).join(&resolved).exists() {
                    broken.push(format!("{}: {target}: no file {resolved_str}", page.path));
                } else if page.path.starts_with("docs/") && !resolved_str.starts_with("docs/") {
                    broken.push(format!("{}: {target}: outside the book", page.path));
                } else if !anchor.is_empty() && !anchors_of.get(&resolved_str).is_some_and(|a| a.contains(anchor)) {
                    broken.push(format!("{}: {target}: no heading #{anchor}", page.path));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn anchors_follow_github_and_mdbook() {
    let got = anchors("# `--shard K/N` and `--shard auto`\n## Plain `docker run`\n## Plain `docker run`\n");
    let want: BTreeSet<String> = ["--shard-kn-and---shard-auto", "plain-docker-run", "plain-docker-run-1"]
        .map(str::to_owned)
        .into();
    assert_eq!(got, want);
    assert_eq!(
        link_texts("see [the map](ARCHITECTURE.md#x) and [`a`](b.md)"),
        "see the map and `a`"
    );
}

#[test]
fn every_page_is_in_the_book() {
    let toml = std::fs::read_to_string(Path::new(ROOT).join("docs/book.toml")).expect("book.toml");
    assert!(
        toml.contains("src = \".\""),
        "the book's source is docs/ itself: {toml}"
    );
    let summary = page("docs/SUMMARY.md").text;
    let listed: BTreeSet<String> = prose(&summary)
        .into_iter()
        .flat_map(links_in)
        .map(|(_, _, target)| format!("docs/{target}"))
        .collect();
    for p in pages()
        .iter()
        .filter(|p| p.path.starts_with("docs/") && p.path != "docs/SUMMARY.md")
    {
        assert!(listed.contains(&p.path), "SUMMARY.md does not list {}", p.path);
    }
    assert!(listed.contains("docs/ARCHITECTURE.md"), "the map is part of the book");
}

#[test]
fn every_yaml_block_parses() {
    let mut checked = 0;
    for page in pages() {
        for fence in fences(&page.text) {
            let lang = fence.info.split([' ', ',']).next().unwrap_or_default();
            if lang == "yaml" || lang == "yml" {
                YamlLoader::load_from_str(&fence.body).unwrap_or_else(|e| panic!("{}: {e}\n{}", page.path, fence.body));
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} YAML blocks found");
}

#[test]
fn the_readme_is_a_front_door() {
    let readme = page("README.md").text;
    let lines = readme.lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines; the details belong in the book"
    );
    for link in [
        "docs/options.md",
        "docs/SUMMARY.md",
        "docs/install.md",
        "docs/ARCHITECTURE.md",
    ] {
        assert!(readme.contains(&format!("]({link}")), "README does not link {link}");
    }
}

#[test]
fn the_options_reference_lists_every_option_and_variable() {
    let options = page("docs/options.md").text;
    for binding in env_bindings() {
        assert!(
            options.contains(&format!("`{}`", binding.var)),
            "docs/options.md does not mention `{}`",
            binding.var
        );
        if binding.option.starts_with("--") {
            let row = format!("| `{} ", binding.option);
            let flag_only = format!("| `{}` |", binding.option);
            assert!(
                options
                    .lines()
                    .any(|l| l.starts_with(&row) || l.starts_with(&flag_only)),
                "docs/options.md has no row for `{}`",
                binding.option
            );
        }
    }
}

/// The README's short table shows real options with their real variables (the defaults are
/// checked by the unit test beside `cli::command`).
#[test]
fn the_readme_options_rows_agree_with_the_binary() {
    let readme = page("README.md").text;
    let bindings = env_bindings();
    let mut rows = 0;
    for line in readme.lines().filter(|l| l.starts_with("| `--")) {
        let flag = line[3..].split(['`', ' ']).next().unwrap_or_default();
        let binding = bindings
            .iter()
            .find(|b| b.option == flag)
            .unwrap_or_else(|| panic!("README row for unknown option {flag}: {line}"));
        assert!(
            line.contains(&format!("| `{}` |", binding.var)),
            "{flag} row lacks its variable: {line}"
        );
        rows += 1;
    }
    assert!(rows >= 5, "the README's options table has {rows} rows");
}

/// Release asset names as `.github/workflows/release.yml` publishes them, and that they are
/// staged and uploaded under those names.
fn release_asset_names() -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join(".github/workflows/release.yml")).expect("release.yml");
    assert!(
        text.contains(r#""dist/kapso-gate-$TARGET$EXE""#),
        "release.yml stages another name"
    );
    assert!(
        text.contains("sha256sum kapso-gate-* kapso-gate.1 > checksums.txt"),
        "release.yml checksums"
    );
    assert!(
        text.contains("dist/kapso-gate-* dist/kapso-gate.1 dist/checksums.txt"),
        "release.yml uploads"
    );
    let workflow = YamlLoader::load_from_str(&text).expect("release.yml parses").remove(0);
    let include = workflow["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_vec()
        .expect("the build matrix")
        .clone();
    let names: Vec<String> = include
        .iter()
        .map(|entry| {
            let target = entry["target"].as_str().expect("target");
            let exe = entry["exe"].as_str().unwrap_or_default();
            format!("kapso-gate-{target}{exe}")
        })
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    names
}

/// The download lines of each marked recipe: from YAML blocks the shell strings CI runs (with
/// Buildkite's `$$` unescaped, as Buildkite does on upload), from other blocks their text.
fn download_snippets(page: &Page) -> Vec<String> {
    let mut scripts = Vec::new();
    for fence in fences(&page.text).into_iter().filter(|f| f.body.contains(BEGIN)) {
        if fence.info.starts_with("yaml") {
            let doc = YamlLoader::load_from_str(&fence.body).expect("YAML").remove(0);
            collect_strings(&doc, &mut scripts);
        } else {
            scripts.push(fence.body);
        }
    }
    let mut out = Vec::new();
    for script in scripts.into_iter().filter(|s| s.contains(BEGIN)) {
        let start = script.find(BEGIN).expect("begin");
        let end = script[start..]
            .find(END)
            .unwrap_or_else(|| panic!("{}: no end marker", page.path));
        let lines: Vec<&str> = script[start..start + end].lines().collect();
        let indent = lines.iter().map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
        let body: Vec<&str> = lines.iter().map(|l| &l[indent.min(l.len())..]).collect();
        let snippet = body.join("\n") + "\n";
        out.push(if page.path.ends_with("buildkite.md") {
            snippet.replace("$$", "$")
        } else {
            snippet
        });
    }
    out
}

fn collect_strings(yaml: &Yaml, out: &mut Vec<String>) {
    match yaml {
        Yaml::String(s) => out.push(s.clone()),
        Yaml::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Yaml::Hash(map) => map.iter().for_each(|(_, v)| collect_strings(v, out)),
        _ => {}
    }
}

/// Every line in a code block that fetches from the releases is inside a tested recipe.
#[test]
fn every_release_download_is_a_tested_recipe() {
    for page in pages() {
        let mut marked = false;
        for fence in fences(&page.text) {
            for line in fence.body.lines() {
                if line.contains(BEGIN) {
                    marked = true;
                } else if line.contains(END) {
                    marked = false;
                } else if line.contains("releases/download") {
                    assert!(marked, "{}: a download outside a tested recipe: {line}", page.path);
                }
            }
        }
    }
    for path in RECIPE_PAGES {
        assert!(
            !download_snippets(&page(path)).is_empty(),
            "{path} has no download recipe"
        );
    }
}

const VERSION: &str = "v9.9.9";

fn sha256_hex(dir: &Path, bytes: &[u8]) -> String {
    let file = dir.join("blob");
    std::fs::write(&file, bytes).expect("write blob");
    let out = Command::new("sha256sum").arg(&file).output().expect("sha256sum runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout).expect("utf-8")[..64].to_owned()
}

/// A release of fake binaries (each a script printing its own name) and its `checksums.txt`,
/// by request path; `tamper` replaces this machine's asset and fixes up `checksums.txt`, as
/// someone who controls the download host would.
fn release(dir: &Path, tamper: bool) -> BTreeMap<String, Vec<u8>> {
    let mine = format!("kapso-gate-{}-unknown-linux-musl", std::env::consts::ARCH);
    let mut files = BTreeMap::new();
    let mut checksums = String::new();
    for name in release_asset_names() {
        let mut body = format!("#!/bin/sh\necho {name}\n").into_bytes();
        if tamper && name == mine {
            body = b"#!/bin/sh\necho tampered\n".to_vec();
        }
        checksums.push_str(&format!("{}  {name}\n", sha256_hex(dir, &body)));
        files.insert(format!("/OWNER/kapso-gate/releases/download/{VERSION}/{name}"), body);
    }
    let sums = format!("/OWNER/kapso-gate/releases/download/{VERSION}/checksums.txt");
    files.insert(sums, checksums.into_bytes());
    files
}

/// Runs a snippet in a fresh folder with `sh -e`, as CI shells do; returns (success, folder, log).
fn run_snippet(snippet: &str, server: &ReleaseServer, pin: Option<&str>, name: &str) -> (bool, PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("kapso-docs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let local = format!("{}/OWNER/kapso-gate/releases/download", server.origin);
    let mut cmd = Command::new("sh");
    cmd.arg("-e")
        .arg("-c")
        .arg(snippet.replace(RELEASES, &local))
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &dir)
        .env("KAPSO_GATE_VERSION", VERSION);
    if let Some(pin) = pin {
        cmd.env("KAPSO_GATE_SHA256", pin);
    }
    let out = cmd.output().expect("sh runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), dir, log)
}

#[cfg(target_os = "linux")]
#[test]
fn release_download_recipes_fetch_the_published_asset_and_check_the_pin() {
    let scratch = std::env::temp_dir().join(format!("kapso-docs-sums-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch");
    let mine = format!("kapso-gate-{}-unknown-linux-musl", std::env::consts::ARCH);
    let honest = release(&scratch, false);
    let asset = honest[&format!("/OWNER/kapso-gate/releases/download/{VERSION}/{mine}")].clone();
    let pin = sha256_hex(&scratch, &asset);
    let server = ReleaseServer::start(honest);
    let tampered = ReleaseServer::start(release(&scratch, true));
    let mut ran = 0;
    for path in RECIPE_PAGES {
        for (i, snippet) in download_snippets(&page(path)).iter().enumerate() {
            let name = format!("{}-{i}", path.trim_start_matches("docs/").trim_end_matches(".md"));
            assert!(
                snippet.contains(RELEASES),
                "{path}: the recipe does not download from {RELEASES}"
            );
            let (ok, dir, log) = run_snippet(snippet, &server, Some(&pin), &name);
            assert!(ok, "{path} recipe {i} failed:\n{snippet}\n{log}");
            let binary = dir.join("kapso-gate");
            assert_eq!(
                std::fs::read(&binary).ok(),
                Some(asset.clone()),
                "{path} recipe {i}: {log}"
            );
            let said = Command::new(&binary).output().expect("the downloaded binary runs");
            assert_eq!(String::from_utf8_lossy(&said.stdout).trim(), mine, "{path} recipe {i}");

            let wrong = "0".repeat(64);
            for (why, server, pin) in [
                ("a wrong pin", &server, Some(wrong.as_str())),
                ("no pin", &server, None),
                (
                    "a tampered asset with matching checksums.txt",
                    &tampered,
                    Some(pin.as_str()),
                ),
            ] {
                let (ok, dir, log) = run_snippet(snippet, server, pin, &format!("{name}-bad"));
                assert!(!ok, "{path} recipe {i} accepted {why}:\n{log}");
                assert!(
                    !dir.join("kapso-gate").exists(),
                    "{path} recipe {i} left a binary after {why}"
                );
            }
            ran += 1;
        }
    }
    assert!(ran >= RECIPE_PAGES.len(), "ran {ran} recipes");
    assert!(
        server.requests().iter().any(|p| p.ends_with(&mine)),
        "{:?}",
        server.requests()
    );
}
