//! Keeps the map honest: the "Layers" table of `docs/ARCHITECTURE.md` is checked against the
//! real `crate::` paths in `src/`. Every module belongs to a listed unit; a unit imports only its
//! own layer or lower ones; there is no circle between units, between the folders of `src/`, or
//! between the modules of `sim/src`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const ARCHITECTURE: &str = include_str!("../../docs/ARCHITECTURE.md");

/// A listed unit (`run::client`) and its layer number.
type Layers = BTreeMap<String, u32>;

/// The table rows under `## Layers`: `| 3 | `run::client`, `run::budget` | ... |`.
fn layers_from_map(map: &str) -> Layers {
    let section = map.split("\n## Layers").nth(1).expect("a Layers section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut layers = Layers::new();
    for row in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Some(Ok(layer)) = cells.get(1).map(|c| c.parse::<u32>()) else {
            continue;
        };
        for unit in cells[2].split('`').skip(1).step_by(2) {
            let previous = layers.insert(unit.to_string(), layer);
            assert!(previous.is_none(), "`{unit}` is listed twice in the Layers table");
        }
    }
    assert!(layers.len() > 5, "the Layers table lists the modules: {layers:?}");
    layers
}

/// The unit a module path belongs to: the longest listed prefix.
fn unit_of<'a>(layers: &'a Layers, path: &str) -> Option<&'a str> {
    layers
        .keys()
        .filter(|unit| path == unit.as_str() || path.starts_with(&format!("{unit}::")))
        .max_by_key(|unit| unit.len())
        .map(String::as_str)
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// `src/run/client/mod.rs` → `run::client`; `src/lib.rs` → ``.
fn module_path(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).expect("under the root").with_extension("");
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts.join("::")
}

/// The source without comment lines (doc comments name paths that are not imports).
fn code_of(file: &Path) -> String {
    let text = fs::read_to_string(file).expect("readable source");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path the code names after `prefix::`, with `use prefix::{a, b::{c, d}}` groups expanded.
fn named_paths(code: &str, prefix: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let needle = format!("{prefix}::");
    let mut rest = code;
    while let Some(at) = rest.find(&needle) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + needle.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        paths.extend(expand(rest, String::new()));
    }
    paths
}

/// The path (or group of paths) at the start of `text`, each prefixed by `prefix`.
fn expand(text: &str, prefix: String) -> Vec<String> {
    if let Some(group) = text.strip_prefix('{') {
        let mut depth = 0;
        let mut item = String::new();
        let mut items = Vec::new();
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(std::mem::take(&mut item));
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
        items.push(item);
        return items
            .iter()
            .map(|i| i.trim())
            .filter(|i| !i.is_empty())
            .flat_map(|i| match i {
                "self" => vec![prefix.clone()],
                _ => expand(i, prefix.clone()),
            })
            .collect();
    }
    let mut path = prefix;
    let mut chars = text.char_indices().peekable();
    let mut segment = String::new();
    while let Some((at, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            segment.push(c);
        } else if text[at..].starts_with("::") && !segment.is_empty() {
            if !path.is_empty() {
                path.push_str("::");
            }
            path.push_str(&segment);
            segment.clear();
            chars.next();
            if text[at + 2..].starts_with('{') {
                return expand(&text[at + 2..], path);
            }
        } else {
            break;
        }
    }
    if !segment.is_empty() {
        if !path.is_empty() {
            path.push_str("::");
        }
        path.push_str(&segment);
    }
    vec![path]
}

/// Unit-level edges of the library: (from, to) with from ≠ to.
fn library_edges(layers: &Layers) -> BTreeSet<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges = BTreeSet::new();
    let mut unlisted = Vec::new();
    for file in rust_files(&root) {
        let module = module_path(&root, &file);
        if module == "main" || module.starts_with("app") {
            continue; // the binary: the top, it may import anything of the library
        }
        let paths = named_paths(&code_of(&file), "crate");
        let Some(from) = unit_of(layers, &module) else {
            // A folder's index that only declares its modules imports nothing to place.
            if !module.is_empty() && !paths.is_empty() {
                unlisted.push(module);
            }
            continue;
        };
        for path in paths {
            match unit_of(layers, &path) {
                Some(to) if to != from => {
                    edges.insert((from.to_string(), to.to_string()));
                }
                Some(_) => {}
                None => unlisted.push(format!("{path} (named in {module})")),
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "modules missing from the Layers table of docs/ARCHITECTURE.md: {unlisted:?}"
    );
    edges
}

/// A circle in the graph, if any, as the list of nodes along it.
fn find_circle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges {
        graph.entry(from).or_default().push(to);
    }
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            return Some(path[at..].iter().chain([&node]).map(|s| s.to_string()).collect());
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(start, &graph, &mut Vec::new(), &mut done))
}

fn folder(unit: &str) -> String {
    unit.split("::").next().unwrap_or(unit).to_string()
}

#[test]
fn no_module_imports_a_higher_layer() {
    let layers = layers_from_map(ARCHITECTURE);
    let upward: Vec<String> = library_edges(&layers)
        .into_iter()
        .filter(|(from, to)| layers[to] > layers[from])
        .map(|(from, to)| format!("{from} (layer {}) imports {to} (layer {})", layers[&from], layers[&to]))
        .collect();
    assert!(upward.is_empty(), "imports that point upward:\n{}", upward.join("\n"));
}

#[test]
fn no_circle_between_modules_or_folders() {
    let layers = layers_from_map(ARCHITECTURE);
    let edges = library_edges(&layers);
    assert_eq!(find_circle(&edges), None, "a circle between units");
    let folders: BTreeSet<(String, String)> = edges
        .iter()
        .map(|(from, to)| (folder(from), folder(to)))
        .filter(|(from, to)| from != to)
        .collect();
    assert_eq!(find_circle(&folders), None, "a circle between the folders of src/");
}

#[test]
fn the_simulator_has_no_import_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sim/src");
    let mut edges = BTreeSet::new();
    for file in rust_files(&root) {
        let from = folder(&module_path(&root, &file));
        for path in named_paths(&code_of(&file), "crate") {
            let to = folder(&path);
            if !from.is_empty() && to != from {
                edges.insert((from.clone(), to));
            }
        }
    }
    assert!(!edges.is_empty(), "the simulator's modules import each other");
    assert_eq!(find_circle(&edges), None, "a circle between the simulator's modules");
}

#[test]
fn the_checker_sees_grouped_imports_and_circles() {
    let code = "use crate::{run::client::{self, KapsoClient}, policy::verdict};\nfn f() { crate::domain::exit::Exit::Passed; }";
    assert_eq!(
        named_paths(code, "crate"),
        vec![
            "run::client",
            "run::client::KapsoClient",
            "policy::verdict",
            "domain::exit::Exit::Passed"
        ]
    );
    let circle: BTreeSet<(String, String)> = [("a", "b"), ("b", "c"), ("c", "a")]
        .iter()
        .map(|(x, y)| (x.to_string(), y.to_string()))
        .collect();
    assert!(find_circle(&circle).is_some());
    let layers = layers_from_map("\n## Layers\n\n| layer | units |\n| --- | --- |\n| 1 | `domain`, `policy::verdict` |\n| 2 | `run` |\n| 2 | `a` |\n| 2 | `b` |\n| 3 | `c` |\n| 4 | `d` |\n");
    assert_eq!(unit_of(&layers, "policy::verdict::rules"), Some("policy::verdict"));
    assert_eq!(unit_of(&layers, "policy::confidence"), None);
}
