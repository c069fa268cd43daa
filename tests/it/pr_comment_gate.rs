//! The pull-request comment through the real binary: created by the first run, updated by the
//! next, one per comment key, none on a fork, and no comment problem (403, 500, a slow API)
//! changes the exit code or any report. The token shows in no output and no report, and hostile
//! feedback stays inert in the comment.

use crate::support::leak::{assert_no_secret_in_files, assert_no_secret_in_output, AddMask};
use crate::support::{self, assert_code, gate, run, temp_dir, Finished, KEY};
use kapso_sim::github::{FakeGithub, GithubFault};
use kapso_sim::{CaseSpec, Scenario, Sim};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const TOKEN: &str = "ghs_gateEndToEndToken9Qz";
const REPO: &str = "acme/bot";
const HOSTILE: &str = "Ping @everyone about #1 and acme/bot#2\n```\n</details>\n@here";

fn scenario() -> Scenario {
    Scenario::new(KEY)
        .case(CaseSpec::passing("ok1", 0.9).duration_ms(20))
        .case(CaseSpec::passing("bad1", 0.2).feedback(HOSTILE).duration_ms(20))
}

fn event(dir: &Path, head_repo: &str) -> PathBuf {
    let path = dir.join(format!("event-{}.json", head_repo.replace('/', "-")));
    let json = serde_json::json!({
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": { "sha": "0123456789abcdef0123456789abcdef01234567", "repo": { "full_name": head_repo } },
            "base": { "repo": { "full_name": REPO } },
        },
    });
    std::fs::write(&path, json.to_string()).expect("writes the event");
    path
}

/// The gate in a GitHub Actions `pull_request` run, with every report asked for in `dir`.
fn gate_on_pr(sim: &Sim, github: &FakeGithub, dir: &Path, event: &Path) -> Command {
    let mut cmd = gate(&sim.base_url());
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", event)
        .env("GITHUB_API_URL", github.api_url())
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_RUN_ID", "42")
        .env("GITHUB_WORKFLOW", "evals")
        .env("GITHUB_JOB", "gate")
        .env("KAPSO_GITHUB_TOKEN", TOKEN)
        .env("KAPSO_PR_COMMENT", "true")
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("KAPSO_JSON", dir.join("report.json"))
        .env("KAPSO_JUNIT", dir.join("junit.xml"))
        .args(["ok1", "bad1"]);
    cmd
}

/// The text inside fenced code blocks (which GitHub never links) and the text outside, by
/// CommonMark's rule: a block closes at a fence of the same character at least as long.
fn split_at_fences(body: &str) -> (String, String) {
    let (mut inside, mut outside) = (String::new(), String::new());
    let mut open: Option<String> = None;
    for line in body.lines() {
        let fence: String = line.chars().take_while(|c| *c == '`').collect();
        match &open {
            Some(f) if fence.len() >= f.len() && line.trim_end() == fence => open = None,
            Some(_) => inside.push_str(&format!("{line}\n")),
            None if fence.len() >= 3 => open = Some(fence),
            None => outside.push_str(&format!("{line}\n")),
        }
    }
    assert!(open.is_none(), "a code block was left open\n{body}");
    (inside, outside)
}

fn assert_token_hidden(out: &Finished, dir: &Path) {
    assert_no_secret_in_output(out, TOKEN, AddMask::Allowed);
    assert_no_secret_in_files(dir, TOKEN, "the comment token");
}

/// The parts of the reports a comment problem must leave unchanged.
fn reports(dir: &Path) -> (serde_json::Value, String) {
    let mut json: serde_json::Value = serde_json::from_str(&support::read(&dir.join("report.json"))).expect("JSON");
    for volatile in ["started_at", "finished_at", "duration_ms"] {
        json[volatile] = serde_json::Value::Null;
    }
    for case in json["cases"].as_array_mut().expect("cases") {
        for volatile in ["run_id", "trials", "started_at", "ended_at", "duration_ms"] {
            case[volatile] = serde_json::Value::Null;
        }
    }
    let outputs = support::read(&dir.join("output"));
    let values: String = outputs
        .lines()
        .filter(|l| !l.contains("ghadelimiter_") && !l.ends_with("report.json"))
        .collect::<Vec<_>>()
        .join("\n");
    (json, values)
}

#[test]
fn the_first_run_creates_the_comment_and_the_next_updates_it() {
    let sim = Sim::start(scenario());
    let github = FakeGithub::start(TOKEN);
    let dir = temp_dir("comment-create");
    let event = event(&dir, REPO);
    let first = run(&mut gate_on_pr(&sim, &github, &dir, &event));
    assert_code(&first, 1);
    assert!(
        first.stdout.contains("pull request comment created"),
        "{}",
        first.stdout
    );
    assert_eq!(github.comments().len(), 1);
    let body = &github.comments()[0].body;
    assert!(body.starts_with("<!-- kapso-gate:evals/gate -->"), "{body:.200}");
    assert!(body.contains("kapso-gate failed"), "{body:.400}");
    let (inside, outside) = split_at_fences(body);
    assert!(
        inside.contains("@everyone") && inside.contains("</details>\n@here"),
        "the feedback stays in its block\n{body}"
    );
    assert!(
        !outside.contains("@everyone") && !outside.contains("@here") && !outside.contains(" #1 "),
        "no live mention or reference outside code\n{outside}"
    );
    assert_token_hidden(&first, &dir);

    let second = run(&mut gate_on_pr(&sim, &github, &dir, &event));
    assert_code(&second, 1);
    assert!(
        second.stdout.contains("pull request comment updated"),
        "{}",
        second.stdout
    );
    assert_eq!(github.comments().len(), 1, "still one comment");

    let other_key = run(gate_on_pr(&sim, &github, &dir, &event).env("KAPSO_COMMENT_KEY", "nightly"));
    assert_code(&other_key, 1);
    assert_eq!(github.comments().len(), 2, "a second key makes a second comment");
}

#[test]
fn a_fork_makes_no_api_call() {
    let sim = Sim::start(scenario());
    let github = FakeGithub::start(TOKEN);
    let dir = temp_dir("comment-fork");
    let event = event(&dir, "someone/bot");
    let out = run(&mut gate_on_pr(&sim, &github, &dir, &event));
    assert_code(&out, 1);
    assert!(github.requests().is_empty(), "{:?}", github.requests());
    assert!(out.stdout.contains("skipped"), "{}", out.stdout);
}

#[test]
fn no_comment_problem_changes_the_exit_code_or_a_report() {
    let sim = Sim::start(scenario());
    let baseline_dir = temp_dir("comment-baseline");
    let mut plain = gate(&sim.base_url());
    plain
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", baseline_dir.join("summary.md"))
        .env("GITHUB_OUTPUT", baseline_dir.join("output"))
        .env("KAPSO_JSON", baseline_dir.join("report.json"))
        .env("KAPSO_JUNIT", baseline_dir.join("junit.xml"))
        .args(["ok1", "bad1"]);
    let expected_out = run(&mut plain);
    assert_code(&expected_out, 1);
    let expected = reports(&baseline_dir);
    for (name, fault) in [
        ("403", GithubFault::Status(403)),
        ("500", GithubFault::Status(500)),
        ("slow", GithubFault::Delay(Duration::from_secs(30))),
    ] {
        let github = FakeGithub::start(TOKEN);
        github.fault(fault);
        let dir = temp_dir(&format!("comment-{name}"));
        let event = event(&dir, REPO);
        let mut cmd = gate_on_pr(&sim, &github, &dir, &event);
        let out = run(cmd.env("KAPSO_COMMENT_DEADLINE", "500ms"));
        assert_code(&out, 1);
        assert_eq!(reports(&dir), expected, "{name}: the reports changed");
        assert!(
            out.stdout.contains("pull request comment"),
            "{name}: one line says so\n{}",
            out.stdout
        );
        assert_token_hidden(&out, &dir);
    }
}

/// A key and a workflow token that both hold `_`, which the simulator spells `\u005f` in every
/// JSON answer: redaction works on the decoded text, so neither shows anywhere, whichever
/// variable the token came from (`GITHUB_TOKEN` here), and the runner is told to mask both.
#[test]
fn secrets_spelled_with_json_escapes_are_redacted_everywhere() {
    const ESCAPED_KEY: &str = "kg_escaped_key_4Wp8";
    const WORKFLOW_TOKEN: &str = "ghs_workflowTokenEsc4pe9";
    let sim = Sim::start(
        Scenario::new(ESCAPED_KEY)
            .case(CaseSpec::passing("ok1", 0.9).duration_ms(20))
            .case(
                CaseSpec::passing("bad1", 0.2)
                    .name(format!("pasted {ESCAPED_KEY}"))
                    .feedback(format!(
                        "the user pasted {ESCAPED_KEY} and {WORKFLOW_TOKEN} into the chat"
                    ))
                    .duration_ms(20),
            )
            .escape_underscores(),
    );
    let github = FakeGithub::start(WORKFLOW_TOKEN);
    let dir = temp_dir("comment-escaped-secrets");
    let event = event(&dir, REPO);
    let mut cmd = gate_on_pr(&sim, &github, &dir, &event);
    cmd.env_remove("KAPSO_GITHUB_TOKEN")
        .env("GITHUB_TOKEN", WORKFLOW_TOKEN)
        .env("KAPSO_API_KEY", ESCAPED_KEY);
    let out = run(&mut cmd);
    assert_code(&out, 1);
    assert!(out.stdout.contains("pull request comment created"), "{}", out.stdout);
    for secret in [ESCAPED_KEY, WORKFLOW_TOKEN] {
        assert!(
            out.stdout.lines().any(|l| l == format!("::add-mask::{secret}")),
            "the runner is told to mask it\n{}",
            out.stdout
        );
        assert_no_secret_in_output(&out, secret, AddMask::Allowed);
        assert_no_secret_in_files(&dir, secret, "escaped secrets");
        let body = &github.comments()[0].body;
        assert!(!body.contains(secret), "the comment holds a secret\n{body}");
    }
    let json = support::read(&dir.join("report.json"));
    assert!(
        json.contains("the user pasted *** and *** into the chat"),
        "{json:.2000}"
    );
}

/// Plain http is allowed only to a loopback API, and then never through a proxy: the token
/// would cross the proxy in clear text. (An https API goes through a proxy as a tunnel.)
#[test]
fn the_token_never_crosses_a_proxy_in_clear_text() {
    let sim = Sim::start(scenario());
    let github = FakeGithub::start(TOKEN);
    let proxy = kapso_sim::ForwardProxy::start();
    let dir = temp_dir("comment-proxy");
    let event = event(&dir, REPO);
    let mut cmd = gate_on_pr(&sim, &github, &dir, &event);
    let out = run(cmd.env("HTTP_PROXY", proxy.url()).env("ALL_PROXY", proxy.url()));
    assert_code(&out, 1);
    assert!(out.stdout.contains("pull request comment created"), "{}", out.stdout);
    let forge = github.api_url();
    let through: Vec<String> = proxy.requests().into_iter().filter(|r| r.starts_with(&forge)).collect();
    assert!(through.is_empty(), "the comment went through the proxy: {through:?}");
    assert!(
        proxy.requests().iter().any(|r| r.starts_with(&sim.base_url())),
        "the proxy was in use: {:?}",
        proxy.requests()
    );
}
