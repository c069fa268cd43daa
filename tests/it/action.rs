//! Keeps the GitHub Action and the image definition in step with the binary: `action.yml` is a
//! composite action whose install step runs `action/install.sh` and whose gate step gives each
//! environment variable the CLI reads (`cli::env_bindings`) its own `INPUT_*` variable from one
//! input, with no `${{ }}` expression in any script; it declares exactly the outputs the binary
//! writes (`report::github::OUTPUT_NAMES`), taken from the gate step. The Dockerfile runs as root
//! with an exec-form entrypoint from digest-pinned base images, and its runtime stage matches
//! `ci/Dockerfile.prebuilt`; the GitHub workflow examples only use inputs that exist and are the
//! ones the docs show. Two tests run the binary with the environment the runner builds for the
//! gate step (the job's env, then the step's `INPUT_*` variables, empty where no input was given)
//! against kapso-sim.

use crate::support;
use crate::support::report::github_outputs;
use kapso_gate::input::cli::env_bindings;
use kapso_gate::report::github::OUTPUT_NAMES;
use kapso_sim::{CaseSpec, Scenario, Sim};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn yaml(relative: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    assert_eq!(docs.len(), 1, "{relative}: expected one YAML document");
    docs.remove(0)
}

fn action() -> Yaml {
    yaml("action.yml")
}

/// The keys of a mapping, as strings.
fn keys(node: &Yaml, what: &str) -> Vec<String> {
    node.as_hash()
        .unwrap_or_else(|| panic!("{what} is not a mapping"))
        .keys()
        .map(|k| {
            k.as_str()
                .unwrap_or_else(|| panic!("{what}: non-string key {k:?}"))
                .to_owned()
        })
        .collect()
}

/// The input that sets `var`: `KAPSO_TEST_SUITE_IDS` → `test-suite-ids`.
fn input_name(var: &str) -> String {
    var.strip_prefix("KAPSO_")
        .unwrap_or_else(|| panic!("{var} does not start with KAPSO_"))
        .to_ascii_lowercase()
        .replace('_', "-")
}

/// The composite step with this `id`.
fn step(id: &str) -> Yaml {
    let action = action();
    action["runs"]["steps"]
        .as_vec()
        .expect("runs.steps is a list")
        .iter()
        .find(|s| s["id"].as_str() == Some(id))
        .unwrap_or_else(|| panic!("no step with id `{id}` in action.yml"))
        .clone()
}

/// The variable the gate step sets for `var`: `KAPSO_THRESHOLD` → `INPUT_THRESHOLD`.
fn input_var(var: &str) -> String {
    let suffix = var
        .strip_prefix("KAPSO_")
        .unwrap_or_else(|| panic!("{var} does not start with KAPSO_"));
    format!("{}{suffix}", kapso_gate::input::vars::ACTION_INPUT_PREFIX)
}

/// The gate step's variables that carry the install step's outputs, and those outputs.
const INSTALL_OUTPUTS: [(&str, &str); 2] = [("KAPSO_GATE_BINARY", "path"), ("KAPSO_GATE_SHA256", "sha256")];

/// The gate step's env as the `KAPSO_*` variable each entry stands for → input name, requiring
/// each value to be exactly `${{ inputs.NAME }}`. `KAPSO_GATE_BINARY` and `KAPSO_GATE_SHA256`
/// (the install step's outputs) are the only other entries allowed.
fn env_to_input() -> BTreeMap<String, String> {
    let gate = step("gate");
    let env = &gate["env"];
    keys(env, "the gate step's env")
        .into_iter()
        .filter(|var| !INSTALL_OUTPUTS.iter().any(|(v, _)| v == var))
        .map(|var| {
            let value = env[var.as_str()]
                .as_str()
                .unwrap_or_else(|| panic!("env.{var} is not a string"));
            let input = value
                .strip_prefix("${{ inputs.")
                .and_then(|rest| rest.strip_suffix(" }}"))
                .unwrap_or_else(|| panic!("env.{var} must be exactly `${{{{ inputs.NAME }}}}`, got {value:?}"));
            let suffix = var
                .strip_prefix(kapso_gate::input::vars::ACTION_INPUT_PREFIX)
                .unwrap_or_else(|| panic!("the gate step's env.{var} is not an INPUT_* variable"));
            (format!("KAPSO_{suffix}"), input.to_owned())
        })
        .collect()
}

#[test]
fn every_cli_variable_has_an_input() {
    let action = action();
    let inputs = keys(&action["inputs"], "inputs");
    let env = env_to_input();
    for binding in env_bindings() {
        let name = input_name(&binding.var);
        assert!(
            inputs.contains(&name),
            "{} ({}) has no input `{name}` in action.yml",
            binding.option,
            binding.var
        );
        assert_eq!(
            env.get(&binding.var),
            Some(&name),
            "the gate step's env.{} must be `${{{{ inputs.{name} }}}}`",
            input_var(&binding.var)
        );
    }
}

#[test]
fn every_input_maps_to_a_variable_the_cli_reads() {
    let action = action();
    let read_by_cli: BTreeSet<String> = env_bindings().into_iter().map(|b| b.var).collect();
    let env = env_to_input();
    for var in env.keys() {
        assert!(
            read_by_cli.contains(var),
            "the gate step sets {}, but the CLI does not read {var}",
            input_var(var)
        );
    }
    let mapped: Vec<&String> = env.values().collect();
    for input in keys(&action["inputs"], "inputs") {
        let uses = mapped.iter().filter(|m| ***m == input).count();
        assert_eq!(
            uses, 1,
            "input `{input}` must map to exactly one variable of the gate step"
        );
    }
}

#[test]
fn declared_outputs_are_the_ones_the_binary_writes() {
    let action = action();
    let mut declared = keys(&action["outputs"], "outputs");
    let mut written: Vec<String> = OUTPUT_NAMES.iter().map(|s| (*s).to_owned()).collect();
    declared.sort();
    written.sort();
    assert_eq!(declared, written, "action.yml outputs vs report::github::OUTPUT_NAMES");
    for name in declared {
        assert_eq!(
            action["outputs"][name.as_str()]["value"].as_str(),
            Some(format!("${{{{ steps.gate.outputs.{name} }}}}").as_str()),
            "output `{name}` must pass the gate step's output through"
        );
    }
}

/// Two steps, both bash (on every runner OS, Git Bash on Windows): install, then `exec` the
/// script's `--exec` half, which checks a private copy of the installed binary against the
/// install step's SHA-256 and `exec`s it without arguments, so the binary gets the runner's
/// signals and its exit status is the step's. (tests/it/install_script.rs runs both halves.)
#[test]
fn action_installs_then_execs_the_binary() {
    let action = action();
    let runs = &action["runs"];
    assert_eq!(runs["using"].as_str(), Some("composite"));
    let steps = runs["steps"].as_vec().expect("runs.steps");
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap_or_default()).collect();
    assert_eq!(ids, ["install", "gate"]);
    for step in steps {
        assert_eq!(step["shell"].as_str(), Some("bash"), "{step:?}");
        assert!(step["uses"].is_badvalue(), "no other actions: {step:?}");
    }
    assert_eq!(
        step("install")["run"].as_str().map(str::trim),
        Some(r#"bash "$GITHUB_ACTION_PATH/action/install.sh""#)
    );
    assert_eq!(
        step("gate")["run"].as_str().map(str::trim),
        Some(r#"exec bash "$GITHUB_ACTION_PATH/action/install.sh" --exec"#)
    );
    let script = read("action/install.sh");
    for (var, output) in INSTALL_OUTPUTS {
        assert_eq!(
            step("gate")["env"][var].as_str(),
            Some(format!("${{{{ steps.install.outputs.{output} }}}}").as_str())
        );
        assert!(
            script.contains(&format!("printf '{output}=%s\\n'")),
            "install.sh writes the `{output}` output the gate step reads"
        );
    }
    assert!(
        script.contains(r#"exec "$copy""#),
        "the --exec half execs the checked copy"
    );
    for key in ["name", "description", "author"] {
        assert!(action[key].as_str().is_some_and(|v| !v.is_empty()), "{key} missing");
    }
    assert!(action["branding"]["icon"].as_str().is_some() && action["branding"]["color"].as_str().is_some());
    assert_eq!(action["inputs"]["api-key"]["required"].as_bool(), Some(true));
    for input in keys(&action["inputs"], "inputs") {
        let description = action["inputs"][input.as_str()]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(!description.is_empty(), "input `{input}` has no description");
        assert!(
            !description.contains("${{"),
            "input `{input}`: no expressions in descriptions"
        );
    }
}

/// `${{ }}` inside a script is pasted into its text before bash parses it: an input holding
/// `"; curl ... #` would run. Values reach scripts only through `env:`.
#[test]
fn no_expression_inside_any_run_script() {
    let action = action();
    let steps = action["runs"]["steps"].as_vec().expect("runs.steps");
    let mut scripts = 0;
    for step in steps {
        if let Some(run) = step["run"].as_str() {
            scripts += 1;
            assert!(!run.contains("${{"), "an expression inside a run: script: {run:?}");
        }
    }
    assert_eq!(scripts, steps.len(), "every step is a script");
    // The YAML parse above would hide a `${{` in a block the parser reads differently; the raw
    // text of every run: line and its continuation lines must not have one either.
    let text = read("action.yml");
    let mut in_run = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(run_indent) = in_run {
            if line.trim().is_empty() || indent > run_indent {
                assert!(!line.contains("${{"), "an expression inside a run: script: {line:?}");
                continue;
            }
            in_run = None;
        }
        if let Some(rest) = line.trim_start().strip_prefix("run:") {
            assert!(!rest.contains("${{"), "an expression inside a run: script: {line:?}");
            in_run = Some(indent);
        }
    }
}

/// No input has a default: a value in `runs.env` would count as given on the command line and
/// beat the config file (flag or variable, then config file, then built-in default), so
/// `threshold: 0.8` would silently override a config file's threshold. Descriptions name the
/// built-in defaults instead. The one exception is `github-token`: a token has no config-file
/// value to override, and the workflow's own token is the documented default.
#[test]
fn inputs_leave_defaults_to_the_binary() {
    let action = action();
    assert_eq!(
        action["inputs"]["github-token"]["default"].as_str(),
        Some("${{ github.token }}")
    );
    for input in keys(&action["inputs"], "inputs")
        .into_iter()
        .filter(|i| i != "github-token")
    {
        let default = &action["inputs"][input.as_str()]["default"];
        assert!(
            default.is_badvalue() || default.as_str() == Some(""),
            "input `{input}` must not have a default, got {default:?}"
        );
    }
}

/// The gate step's process environment as the runner assembles it: the job's env first, then
/// the step's env (every `INPUT_*` variable, empty for an input the workflow left out) on top.
fn gate_step(job_env: &[(&str, String)], given: &BTreeMap<&str, String>, dir: &Path) -> Command {
    let mut env: BTreeMap<String, String> = job_env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    env.insert("GITHUB_ACTIONS".into(), "true".into());
    env.insert("GITHUB_OUTPUT".into(), dir.join("github_output").display().to_string());
    for (var, input) in env_to_input() {
        env.insert(input_var(&var), given.get(input.as_str()).cloned().unwrap_or_default());
    }
    std::fs::write(dir.join("github_output"), "").expect("output file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kapso-gate"));
    cmd.env_clear().current_dir(dir).envs(env);
    cmd
}

/// GitHub sets every step env variable, to an empty string when the workflow leaves the input
/// out; the binary must take an empty variable as unset. The outputs it writes are the declared ones.
#[test]
fn the_binary_runs_with_the_environment_the_action_builds() {
    let sim = Sim::start(Scenario::new(support::KEY).case(CaseSpec::passing("c1", 0.9).duration_ms(50)));
    let dir = support::temp_dir("action-env");
    let given: BTreeMap<&str, String> = [
        ("api-key", support::KEY.to_owned()),
        ("test-case-ids", "c1\n".to_owned()),
        ("base-url", sim.base_url()),
        ("poll-interval", "100ms".to_owned()),
        ("json", dir.join("report.json").display().to_string()),
    ]
    .into_iter()
    .collect();
    let out = support::run_within(&mut gate_step(&[], &given, &dir), Duration::from_secs(60));
    assert_eq!(out.code, 0, "{}", out.all_output());
    let mut written: Vec<String> = github_outputs(&support::read(&dir.join("github_output")))
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let mut declared = keys(&action()["outputs"], "outputs");
    written.sort();
    declared.sort();
    assert_eq!(
        written, declared,
        "outputs written by the binary vs declared in action.yml"
    );
}

/// A `KAPSO_*` variable in the job's env (set for some other step, say) must not beat an input
/// given to the action; an input left out leaves the job's value in force. The case scores 0.9:
/// the job's threshold 0.95 fails it, the input's 0.85 passes it.
#[test]
fn an_input_wins_over_the_jobs_kapso_variable() {
    let sim = Sim::start(Scenario::new(support::KEY).case(CaseSpec::passing("c1", 0.9).duration_ms(50)));
    let dir = support::temp_dir("action-precedence");
    let job_env = [
        ("KAPSO_THRESHOLD", "0.95".to_owned()),
        ("KAPSO_BASE_URL", sim.base_url()),
        ("KAPSO_POLL_INTERVAL", "100ms".to_owned()),
        ("KAPSO_TEST_CASE_IDS", "not-this-case".to_owned()),
    ];
    let mut given: BTreeMap<&str, String> = [
        ("api-key", support::KEY.to_owned()),
        ("test-case-ids", "c1".to_owned()),
        ("threshold", "0.85".to_owned()),
    ]
    .into_iter()
    .collect();
    let out = support::run_within(&mut gate_step(&job_env, &given, &dir), Duration::from_secs(60));
    assert_eq!(
        out.code,
        0,
        "the inputs (threshold 0.85, case c1) win: {}",
        out.all_output()
    );
    assert_eq!(
        support::runs_of(&sim, "not-this-case"),
        0,
        "the job's case IDs were replaced"
    );

    given.remove("threshold");
    let out = support::run_within(&mut gate_step(&job_env, &given, &dir), Duration::from_secs(60));
    assert_eq!(
        out.code,
        1,
        "without the input the job's KAPSO_THRESHOLD=0.95 applies (and the job's base URL): {}",
        out.all_output()
    );
    assert!(
        support::read(&dir.join("github_output")).contains("verdict<<"),
        "outputs written"
    );
}

/// Dockerfile instructions with continuation lines joined and comments dropped.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part.trim_end());
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

fn keyword(instruction: &str) -> String {
    instruction
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// The lines of the last stage, from its `FROM` line on (comments included).
fn runtime_stage(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.trim_start().to_ascii_uppercase().starts_with("FROM "))
        .expect("no FROM line");
    lines[start..].to_vec()
}

#[test]
fn dockerfiles_run_as_root_with_an_exec_form_entrypoint() {
    for file in ["Dockerfile", "ci/Dockerfile.prebuilt"] {
        let text = read(file);
        let all = instructions(&text);
        assert!(
            !all.iter().any(|i| keyword(i) == "USER"),
            "{file}: no USER instruction (GitHub runs Docker actions as root)"
        );
        assert!(
            text.contains("No USER line"),
            "{file}: the comment explaining why there is no USER line is missing"
        );
        let stage = instructions(&runtime_stage(&text).join("\n"));
        assert_eq!(stage[0], "FROM scratch AS runtime", "{file}: the runtime stage");
        let entrypoints: Vec<&String> = stage.iter().filter(|i| keyword(i) == "ENTRYPOINT").collect();
        assert_eq!(entrypoints.len(), 1, "{file}: one ENTRYPOINT in the runtime stage");
        let form = entrypoints[0]["ENTRYPOINT".len()..].trim();
        let parsed: Vec<String> =
            serde_json::from_str(form).unwrap_or_else(|e| panic!("{file}: ENTRYPOINT must be exec form: {e}"));
        assert_eq!(parsed, ["/usr/local/bin/kapso-gate"], "{file}");
    }
}

#[test]
fn the_dockerfile_builds_a_static_binary_with_a_pinned_rust() {
    let text = read("Dockerfile");
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("# syntax=")),
        "no `# syntax=` line: a floating frontend image"
    );
    let all = instructions(&text);
    let builder = all.iter().find(|i| keyword(i) == "FROM").expect("FROM");
    let image = builder.split_whitespace().nth(1).unwrap_or_default();
    let (reference, digest) = image
        .split_once("@sha256:")
        .unwrap_or_else(|| panic!("the builder must be pinned by digest, got {image}"));
    assert!(
        digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "not a sha256 digest: {digest}"
    );
    let tag = reference
        .strip_prefix("rust:")
        .expect("the builder is the official rust image");
    assert!(
        tag.split('-').next().is_some_and(|v| v.split('.').count() == 3),
        "the builder must name an exact Rust version next to its digest, got {image}"
    );
    let build = all
        .iter()
        .find(|i| i.contains("cargo build"))
        .expect("a cargo build step");
    for needed in ["--release", "--locked", "unknown-linux-musl", "--version"] {
        assert!(build.contains(needed), "the build step lacks {needed}: {build}");
    }
}

/// `.dockerignore` is an allowlist: everything is excluded, then the workspace is let back in.
#[test]
fn dockerignore_is_an_allowlist_of_the_workspace() {
    let ignore = read(".dockerignore");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(patterns.first(), Some(&"*"), "the first pattern excludes everything");
    let allowed: Vec<&str> = patterns.iter().filter_map(|p| p.strip_prefix('!')).collect();
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "src/",
        "sim/Cargo.toml",
        "sim/src/",
        "xtask/Cargo.toml",
        "xtask/src/",
    ] {
        assert!(allowed.contains(&needed), ".dockerignore must allow {needed}");
    }
    for path in &allowed {
        let first = path.split('/').next().unwrap_or_default();
        assert!(
            root().join(first).exists(),
            ".dockerignore allows {path}, which does not exist"
        );
        for never in ["target", ".git", ".venv", ".env"] {
            assert_ne!(first, never, ".dockerignore must not let {never} in");
        }
    }
}

/// The prebuilt Dockerfile is the runtime stage with another source for the root filesystem.
#[test]
fn prebuilt_runtime_stage_matches_the_dockerfile() {
    let full = read("Dockerfile");
    let prebuilt = read("ci/Dockerfile.prebuilt");
    let without_copy = |lines: Vec<&str>| -> Vec<String> {
        lines
            .into_iter()
            .filter(|l| !l.starts_with("COPY ") && *l != "ARG TARGETARCH")
            .map(str::to_owned)
            .collect()
    };
    let a = runtime_stage(&full);
    let b = runtime_stage(&prebuilt);
    assert!(a.contains(&"COPY --from=builder /rootfs/ /"), "Dockerfile runtime COPY");
    assert!(
        b.contains(&"COPY rootfs/${TARGETARCH}/ /"),
        "ci/Dockerfile.prebuilt runtime COPY"
    );
    assert_eq!(
        without_copy(a),
        without_copy(b),
        "the runtime stages of Dockerfile and ci/Dockerfile.prebuilt drifted apart"
    );
}

fn workflow_examples() -> Vec<PathBuf> {
    let dir = root().join(".github/workflow-examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no workflow examples");
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

/// actionlint cannot see a remote action's inputs, so check the examples' `with:` keys here.
#[test]
fn workflow_examples_use_existing_inputs() {
    let action = action();
    let inputs = keys(&action["inputs"], "inputs");
    let bindings: BTreeSet<String> = env_bindings().into_iter().map(|b| b.var).collect();
    let mut gate_steps = 0;
    for file in workflow_examples() {
        let name = relative(&file);
        let workflow = yaml(&name);
        for job in keys(&workflow["jobs"], "jobs") {
            for step in workflow["jobs"][job.as_str()]["steps"].as_vec().into_iter().flatten() {
                let uses = step["uses"].as_str().unwrap_or_default();
                if uses.contains("/kapso-gate@") {
                    gate_steps += 1;
                    let with = &step["with"];
                    let given = keys(with, &format!("{name}: with"));
                    for key in &given {
                        assert!(inputs.contains(key), "{name}: `{key}` is not an input of action.yml");
                    }
                    assert!(given.iter().any(|k| k == "api-key"), "{name}: api-key missing");
                } else if uses.starts_with("docker://") && uses.contains("kapso-gate") {
                    // A docker:// step skips action.yml: inputs would arrive as INPUT_*, so
                    // the step sets the KAPSO_* variables itself.
                    gate_steps += 1;
                    assert!(step["with"].is_badvalue(), "{name}: use env, not with, for {uses}");
                    for var in keys(&step["env"], &format!("{name}: env")) {
                        assert!(bindings.contains(&var), "{name}: the CLI does not read {var}");
                    }
                }
            }
        }
    }
    assert!(
        gate_steps >= 3,
        "expected kapso-gate steps in the examples, found {gate_steps}"
    );
}

/// Each example file appears verbatim in the documentation that shows it (the README or a page
/// of the book).
#[test]
fn workflow_examples_are_the_documented_ones() {
    let mut pages = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).expect("docs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let docs: String = pages
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect::<Vec<_>>()
        .join("\n");
    for file in workflow_examples() {
        let text = std::fs::read_to_string(&file).expect("example");
        assert!(
            docs.contains(text.trim_end()),
            "{} differs from the example in README.md and docs/",
            relative(&file)
        );
    }
}

/// `env_bindings` only sees options that have a variable, so an option added without one would
/// have no action input and nobody would notice: every visible option needs a variable, except
/// help, version and the verbosity switches (which the action has no use for).
#[test]
fn every_visible_option_has_an_environment_variable() {
    use clap::CommandFactory;
    let command = kapso_gate::input::cli::Args::command();
    let missing: Vec<String> = command
        .get_arguments()
        .filter(|arg| !arg.is_hide_set() && arg.get_env().is_none())
        .filter_map(|arg| arg.get_long())
        .filter(|long| !["help", "version", "verbose", "quiet"].contains(long))
        .map(|long| format!("--{long}"))
        .collect();
    assert!(
        missing.is_empty(),
        "options without a KAPSO_* variable (so without an action input): {missing:?}"
    );
}

/// Every workflow the docs show: the YAML blocks of the README and the book that are workflows,
/// and the examples.
fn documented_workflows() -> Vec<(String, Yaml)> {
    let mut pages = vec!["README.md".to_owned()];
    let mut book: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    book.sort();
    pages.extend(book);
    let mut workflows: Vec<(String, Yaml)> = Vec::new();
    for page in pages {
        let text = read(&page);
        let found = text
            .split("```yaml")
            .skip(1)
            .filter_map(|block| block.split("```").next())
            .filter_map(|text| YamlLoader::load_from_str(text).ok()?.into_iter().next())
            .filter(|doc| doc["jobs"].as_hash().is_some())
            .enumerate()
            .map(|(i, doc)| (format!("{page} workflow #{}", i + 1), doc));
        workflows.extend(found);
    }
    for file in workflow_examples() {
        let name = relative(&file);
        workflows.push((name.clone(), yaml(&name)));
    }
    workflows
}

/// Least privilege: a workflow grants no write permission at its top level (every job would
/// get it); the job that comments on the pull request asks for `pull-requests: write` itself.
#[test]
fn write_permissions_are_granted_per_job() {
    let mut commenting_jobs = 0;
    for (name, workflow) in documented_workflows() {
        let top = &workflow["permissions"];
        assert_ne!(
            top.as_str(),
            Some("write-all"),
            "{name}: write-all at the workflow level"
        );
        for (scope, level) in top.as_hash().into_iter().flatten() {
            assert_ne!(
                level.as_str(),
                Some("write"),
                "{name}: {scope:?}: write at the workflow level"
            );
        }
        for job in keys(&workflow["jobs"], &format!("{name}: jobs")) {
            let job = &workflow["jobs"][job.as_str()];
            let comments = job["steps"].as_vec().into_iter().flatten().any(|step| {
                matches!(&step["with"]["pr-comment"], Yaml::Boolean(true))
                    || step["with"]["pr-comment"].as_str() == Some("true")
            });
            if comments {
                commenting_jobs += 1;
                assert_eq!(
                    job["permissions"]["pull-requests"].as_str(),
                    Some("write"),
                    "{name}: the job with pr-comment must grant pull-requests: write itself"
                );
            }
        }
    }
    assert!(
        commenting_jobs >= 1,
        "no documented workflow comments on the pull request"
    );
}
