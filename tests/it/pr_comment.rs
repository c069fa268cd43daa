//! The pull-request comment against the fake GitHub REST API of kapso-sim, through the public
//! API `main` uses: `CommentConfig::from_env`, then `publish`.

use kapso_gate::domain::secret::ForgeToken;
use kapso_gate::output::comment::{
    self, CommentConfig, CommentFailure, CommentOutcome, CommentRequest, CommentSkip, RunContext,
};
use kapso_gate::policy::defaults::COMMENT_DEADLINE;
use kapso_sim::github::{FakeGithub, GithubFault, ACTIONS_BOT};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

const TOKEN: &str = "ghs_fakeWorkflowToken5Rt8";
const REPO: &str = "acme/bot";
const PR: u64 = 7;
const SUMMARY: &str = "### ❌ kapso-gate failed: 1 of 1 case did not pass (exit 1)\n";

/// An event file for a pull request whose head is in `head_repo`.
/// An event file, removed when dropped.
struct EventFile(PathBuf);

impl Drop for EventFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl std::ops::Deref for EventFile {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

fn event_file(name: &str, head_repo: &str) -> EventFile {
    let path = std::env::temp_dir().join(format!("kapso-gate-pr-comment-{}-{name}.json", std::process::id()));
    let json = serde_json::json!({
        "number": PR,
        "pull_request": {
            "number": PR,
            "head": { "sha": "0123456789abcdef0123456789abcdef01234567", "repo": { "full_name": head_repo } },
            "base": { "sha": "fedcba9876543210fedcba9876543210fedcba98", "repo": { "full_name": REPO } },
        },
    });
    std::fs::write(&path, json.to_string()).expect("write the event file");
    EventFile(path)
}

/// The variables of a GitHub Actions `pull_request` run against `fake`.
fn actions_env(fake: &FakeGithub, event: &std::path::Path) -> HashMap<String, String> {
    [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_EVENT_PATH", event.to_str().expect("a UTF-8 path")),
        ("GITHUB_TOKEN", TOKEN),
        ("GITHUB_API_URL", &fake.api_url()),
        ("GITHUB_REPOSITORY", REPO),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_RUN_ID", "9001"),
        ("GITHUB_WORKFLOW", "evals"),
        ("GITHUB_JOB", "gate"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Exactly what `main` calls, with a chosen key and deadline.
async fn run(vars: &HashMap<String, String>, key: Option<&str>, summary: &str, deadline: Duration) -> CommentOutcome {
    let request = CommentRequest {
        explicit_token: None,
        key: key.map(str::to_owned),
        deadline,
    };
    comment::publish_from_env(|name| vars.get(name).cloned(), &request, summary, &RunContext::now()).await
}

/// What `main` calls with the default settings.
async fn run_default(vars: &HashMap<String, String>) -> CommentOutcome {
    run(vars, None, SUMMARY, COMMENT_DEADLINE).await
}

fn requests_summary(fake: &FakeGithub) -> Vec<String> {
    fake.requests()
        .iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

#[tokio::test]
async fn first_run_creates_later_runs_update_one_comment() {
    let fake = FakeGithub::start(TOKEN);
    let event = event_file("create-update", REPO);
    let vars = actions_env(&fake, &event);
    let first = run_default(&vars).await;
    let comments = fake.comments();
    assert_eq!(comments.len(), 1, "{first}");
    let id = comments[0].id;
    assert_eq!(
        first,
        CommentOutcome::Created {
            url: Some(format!("https://github.com/acme/bot/pull/7#issuecomment-{id}"))
        }
    );
    assert!(comments[0]
        .body
        .starts_with("<!-- kapso-gate:evals/gate -->\n### ❌ kapso-gate failed"));
    assert!(comments[0]
        .body
        .contains("[workflow run](https://github.com/acme/bot/actions/runs/9001)"));

    let second = run(&vars, None, "### ✅ kapso-gate passed\n", COMMENT_DEADLINE).await;
    assert!(matches!(second, CommentOutcome::Updated { .. }), "{second}");
    let comments = fake.comments();
    assert_eq!(comments.len(), 1, "still one comment");
    assert_eq!((comments[0].id, comments[0].edits), (id, 1));
    assert!(comments[0].body.contains("### ✅ kapso-gate passed"));
    assert_eq!(
        requests_summary(&fake),
        [
            "GET /repos/acme/bot/issues/7/comments?per_page=100&page=1 200",
            "POST /repos/acme/bot/issues/7/comments 201",
            "GET /repos/acme/bot/issues/7/comments?per_page=100&page=1 200",
            "GET /user 403",
            &format!("PATCH /repos/acme/bot/issues/comments/{id} 200"),
        ]
    );
    for request in fake.requests() {
        assert_eq!(request.header("authorization"), Some(&*format!("Bearer {TOKEN}")));
        assert_eq!(request.header("accept"), Some("application/vnd.github+json"));
        assert!(request
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("kapso-gate/")));
    }
}

#[tokio::test]
async fn another_key_makes_another_comment() {
    let fake = FakeGithub::start(TOKEN);
    let event = event_file("keys", REPO);
    let vars = actions_env(&fake, &event);
    assert!(matches!(run_default(&vars).await, CommentOutcome::Created { .. }));
    let other = run(&vars, Some("py3.12"), SUMMARY, COMMENT_DEADLINE).await;
    assert!(matches!(other, CommentOutcome::Created { .. }), "{other}");
    let again = run(&vars, Some("py3.12"), SUMMARY, COMMENT_DEADLINE).await;
    assert!(matches!(again, CommentOutcome::Updated { .. }), "{again}");
    let bodies: Vec<String> = fake.comments().into_iter().map(|c| c.body).collect();
    assert_eq!(bodies.len(), 2);
    assert!(bodies[0].starts_with("<!-- kapso-gate:evals/gate -->\n"));
    assert!(bodies[1].starts_with("<!-- kapso-gate:py3.12 -->\n"));
}

#[tokio::test]
async fn a_fork_makes_no_api_call() {
    let fake = FakeGithub::start(TOKEN);
    let event = event_file("fork", "mallory/bot");
    let vars = actions_env(&fake, &event);
    let outcome = run_default(&vars).await;
    assert_eq!(outcome, CommentOutcome::Skipped(CommentSkip::Fork));
    assert_eq!(outcome.level(), comment::Level::Notice);
    assert!(fake.requests().is_empty(), "{:?}", requests_summary(&fake));
}

#[tokio::test]
async fn the_marker_on_page_two_is_found_and_updated() {
    let fake = FakeGithub::start(TOKEN);
    let event = event_file("pages", REPO);
    let vars = actions_env(&fake, &event);
    for i in 0..120 {
        let body = if i == 5 {
            "quoting: <!-- kapso-gate:evals/gate -->\nnot ours".to_owned()
        } else {
            format!("review comment {i}")
        };
        fake.add_comment(REPO, PR, &body, "octocat");
    }
    let ours = fake.add_comment(REPO, PR, "<!-- kapso-gate:evals/gate -->\nold", ACTIONS_BOT);
    fake.add_comment(
        REPO,
        PR,
        "<!-- kapso-gate:evals/gate -->\na later duplicate",
        ACTIONS_BOT,
    );
    fake.add_comment(
        REPO,
        PR + 1,
        "<!-- kapso-gate:evals/gate -->\nanother pull request",
        ACTIONS_BOT,
    );
    let outcome = run_default(&vars).await;
    assert!(matches!(outcome, CommentOutcome::Updated { .. }), "{outcome}");
    assert_eq!(fake.comments().len(), 123, "nothing created");
    let updated: Vec<u64> = fake.comments().iter().filter(|c| c.edits > 0).map(|c| c.id).collect();
    assert_eq!(updated, [ours]);
    assert_eq!(
        requests_summary(&fake),
        [
            "GET /repos/acme/bot/issues/7/comments?per_page=100&page=1 200",
            "GET /repos/acme/bot/issues/7/comments?per_page=100&page=2 200",
            "GET /user 403",
            &format!("PATCH /repos/acme/bot/issues/comments/{ours} 200"),
        ]
    );
}

#[tokio::test]
async fn a_persons_copy_of_the_marker_is_left_alone() {
    let fake = FakeGithub::start(TOKEN);
    let event = event_file("impostor", REPO);
    let vars = actions_env(&fake, &event);
    let copy = fake.add_comment(REPO, PR, "<!-- kapso-gate:evals/gate -->\nlooks official", "mallory");
    assert!(matches!(run_default(&vars).await, CommentOutcome::Created { .. }));
    assert!(matches!(run_default(&vars).await, CommentOutcome::Updated { .. }));
    let comments = fake.comments();
    assert_eq!(comments.len(), 2);
    assert_eq!(
        (comments[0].id, comments[0].edits),
        (copy, 0),
        "the workflow token's bot never edits it"
    );
    assert_eq!((comments[1].login.as_str(), comments[1].edits), (ACTIONS_BOT, 1));
}

#[tokio::test]
async fn another_bots_copy_of_the_marker_is_left_alone() {
    let fake = FakeGithub::start(TOKEN);
    let event = event_file("other-bot", REPO);
    let vars = actions_env(&fake, &event);
    let copy = fake.add_comment(
        REPO,
        PR,
        "<!-- kapso-gate:evals/gate -->\nlooks official",
        "evil-app[bot]",
    );
    assert!(matches!(run_default(&vars).await, CommentOutcome::Created { .. }));
    assert!(matches!(run_default(&vars).await, CommentOutcome::Updated { .. }));
    let comments = fake.comments();
    assert_eq!(comments.len(), 2);
    assert_eq!(
        (comments[0].id, comments[0].edits),
        (copy, 0),
        "only github-actions[bot]'s is ours"
    );
    assert_eq!((comments[1].login.as_str(), comments[1].edits), (ACTIONS_BOT, 1));
}

#[tokio::test]
async fn a_personal_token_edits_only_its_users_comment() {
    const PERSONAL: &str = "ghp_alicePersonalToken0123456789";
    let fake = FakeGithub::start(TOKEN);
    fake.add_personal_token(PERSONAL, "alice");
    let event = event_file("personal", REPO);
    let mut vars = actions_env(&fake, &event);
    vars.insert("GITHUB_TOKEN".into(), PERSONAL.into());
    let copy = fake.add_comment(REPO, PR, "<!-- kapso-gate:evals/gate -->\nlooks official", "mallory");
    let bot = fake.add_comment(REPO, PR, "<!-- kapso-gate:evals/gate -->\nthe workflow's", ACTIONS_BOT);
    let first = run_default(&vars).await;
    assert!(matches!(first, CommentOutcome::Created { .. }), "{first}");
    let second = run_default(&vars).await;
    assert!(matches!(second, CommentOutcome::Updated { .. }), "{second}");
    let comments = fake.comments();
    assert_eq!(comments.len(), 3);
    assert_eq!(
        (comments[0].id, comments[0].edits),
        (copy, 0),
        "a person's copy is never edited"
    );
    assert_eq!((comments[1].id, comments[1].edits), (bot, 0), "nor another identity's");
    assert_eq!((comments[2].login.as_str(), comments[2].edits), ("alice", 1));
    let asked: Vec<String> = requests_summary(&fake)
        .into_iter()
        .filter(|r| r.contains("/user"))
        .collect();
    assert_eq!(
        asked,
        ["GET /user 200", "GET /user 200"],
        "asked once a run, only when a marker shows"
    );
}

#[tokio::test]
async fn near_equal_keys_get_their_own_comments() {
    let fake = FakeGithub::start(TOKEN);
    let event = event_file("near-keys", REPO);
    let vars = actions_env(&fake, &event);
    let long = "k".repeat(100);
    let keys = [
        "CI (linux)".to_owned(),
        "CI [linux]".to_owned(),
        format!("{long}-a"),
        format!("{long}-b"),
    ];
    for key in &keys {
        let outcome = run(&vars, Some(key), SUMMARY, COMMENT_DEADLINE).await;
        assert!(matches!(outcome, CommentOutcome::Created { .. }), "{key}: {outcome}");
    }
    for key in &keys {
        let outcome = run(&vars, Some(key), SUMMARY, COMMENT_DEADLINE).await;
        assert!(matches!(outcome, CommentOutcome::Updated { .. }), "{key}: {outcome}");
    }
    let comments = fake.comments();
    assert_eq!(comments.len(), 4);
    assert!(comments.iter().all(|c| c.edits == 1), "each updated once");
    assert!(comments[0].body.starts_with("<!-- kapso-gate:CI%20%28linux%29 -->\n"));
}

#[tokio::test]
async fn refusals_and_failures_are_outcomes() {
    let cases = [
        (
            GithubFault::Status(403),
            CommentOutcome::Skipped(CommentSkip::Forbidden),
        ),
        (
            GithubFault::Status(500),
            CommentOutcome::Failed(CommentFailure::Status(500)),
        ),
        (
            GithubFault::Status(401),
            CommentOutcome::Failed(CommentFailure::Status(401)),
        ),
        (
            GithubFault::Status(404),
            CommentOutcome::Failed(CommentFailure::Status(404)),
        ),
        (
            GithubFault::Status(429),
            CommentOutcome::Failed(CommentFailure::RateLimited),
        ),
        (
            GithubFault::RateLimited,
            CommentOutcome::Failed(CommentFailure::RateLimited),
        ),
        (GithubFault::NotJson, CommentOutcome::Failed(CommentFailure::Unreadable)),
        (GithubFault::HalfBody, CommentOutcome::Failed(CommentFailure::Transport)),
        (
            GithubFault::Huge(33 * 1024 * 1024),
            CommentOutcome::Failed(CommentFailure::TooLarge),
        ),
    ];
    for (fault, expected) in cases {
        let fake = FakeGithub::start(TOKEN);
        let event = event_file("faults", REPO);
        let vars = actions_env(&fake, &event);
        fake.fault(fault.clone());
        let outcome = run_default(&vars).await;
        assert_eq!(outcome, expected, "{fault:?}");
        assert!(fake.comments().is_empty());
        assert_eq!(fake.requests().len(), 1, "{fault:?}: no retry, no second step");
    }
}

#[tokio::test]
async fn a_403_on_create_is_a_notice() {
    let fake = FakeGithub::start(TOKEN);
    let event = event_file("read-only", REPO);
    let vars = actions_env(&fake, &event);
    fake.fault_on("POST", GithubFault::Status(403));
    let outcome = run_default(&vars).await;
    assert_eq!(outcome, CommentOutcome::Skipped(CommentSkip::Forbidden));
    assert!(outcome.to_string().contains("permissions: pull-requests: write"));
}

#[tokio::test]
async fn a_slow_api_meets_the_deadline() {
    let fake = FakeGithub::start(TOKEN);
    let event = event_file("slow", REPO);
    let vars = actions_env(&fake, &event);
    fake.fault(GithubFault::Delay(Duration::from_secs(60)));
    let deadline = Duration::from_millis(300);
    let outcome = run(&vars, None, SUMMARY, deadline).await;
    assert_eq!(outcome, CommentOutcome::Failed(CommentFailure::Timeout(deadline)));
    assert!(fake.comments().is_empty());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let elsewhere = FakeGithub::start(TOKEN);
    let fake = FakeGithub::start(TOKEN);
    let event = event_file("redirect", REPO);
    let vars = actions_env(&fake, &event);
    let target = format!("{}/repos/acme/bot/issues/7/comments", elsewhere.api_url());
    fake.fault(GithubFault::Redirect(target));
    let outcome = run_default(&vars).await;
    assert_eq!(outcome, CommentOutcome::Failed(CommentFailure::Redirected(307)));
    assert!(elsewhere.requests().is_empty(), "the token did not travel");
}

#[tokio::test]
async fn the_token_is_in_no_outcome() {
    let fake = FakeGithub::start(TOKEN);
    let event = event_file("leak", REPO);
    let vars = actions_env(&fake, &event);
    fake.fault_on_times("GET", GithubFault::EchoAuthorization, 1);
    let echoed = run_default(&vars).await;
    assert_eq!(echoed, CommentOutcome::Failed(CommentFailure::Status(500)));
    let created = run_default(&vars).await;
    let config = CommentConfig::from_env(|n| vars.get(n).cloned(), ForgeToken::new(TOKEN), None).expect("a config");
    let shown = format!("{echoed} {echoed:?} {created} {created:?} {config:?} {config:#?}");
    assert!(
        !shown.contains(TOKEN) && !shown.contains("fakeWorkflowToken"),
        "{shown}"
    );
    assert!(!fake.comments().iter().any(|c| c.body.contains("fakeWorkflowToken")));
}

#[tokio::test]
async fn hostile_feedback_stays_inert() {
    let fake = FakeGithub::start(TOKEN);
    let event = event_file("hostile", REPO);
    let vars = actions_env(&fake, &event);
    // Shaped like the step summary: escaped text outside, feedback in a longer fence.
    let summary = "<details><summary>❌ failed: @everyone (c1)</summary>\n\n\
                   ping \\@everyone about \\#1 and GH\\-2\n\n\
                   ````text\n@everyone #1\n```\n</details>\n@everyone\n````\n\n</details>\n";
    assert!(matches!(
        run(&vars, None, summary, COMMENT_DEADLINE).await,
        CommentOutcome::Created { .. }
    ));
    let body = fake.comments().remove(0).body;
    let wj = '\u{2060}';
    assert!(
        body.contains(&format!("<summary>❌ failed: @{wj}everyone (c1)</summary>")),
        "{body}"
    );
    assert!(
        body.contains(&format!("ping \\@{wj}everyone about \\#{wj}1 and GH\\-{wj}2")),
        "{body}"
    );
    assert!(
        body.contains("\n````text\n@everyone #1\n```\n</details>\n@everyone\n````\n\n</details>\n"),
        "the feedback block is intact and still closes where it did: {body}"
    );
}

#[tokio::test]
async fn a_huge_summary_fits_githubs_limit() {
    let fake = FakeGithub::start(TOKEN);
    let event = event_file("huge", REPO);
    let vars = actions_env(&fake, &event);
    let summary = format!(
        "### ❌ failed\n\n````text\n{}\n````\n",
        "🎉 feedback line\n".repeat(20_000)
    );
    let outcome = run(&vars, None, &summary, COMMENT_DEADLINE).await;
    assert!(matches!(outcome, CommentOutcome::Created { .. }), "{outcome}");
    let body = fake.comments().remove(0).body;
    assert!(body.chars().count() <= 65_536);
    assert!(body.contains("\n````\n\n*Cut to stay under the comment size limit: "));
}

#[tokio::test]
async fn enterprise_server_paths() {
    let fake = FakeGithub::start_with_prefix(TOKEN, "/api/v3");
    let event = event_file("ghes", REPO);
    let vars = actions_env(&fake, &event);
    assert!(fake.api_url().ends_with("/api/v3"));
    assert!(matches!(run_default(&vars).await, CommentOutcome::Created { .. }));
    assert!(fake
        .requests()
        .iter()
        .all(|r| r.path.starts_with("/api/v3/repos/acme/bot/")));
}

mod gitlab {
    use super::*;
    use kapso_sim::gitlab::FakeGitlab;

    const GL_TOKEN: &str = "glpat-fakeProjectToken8Hn";

    fn gitlab_env(fake: &FakeGitlab, source_project: &str) -> HashMap<String, String> {
        [
            ("GITLAB_CI", "true"),
            ("CI_API_V4_URL", fake.api_url().as_str()),
            ("CI_MERGE_REQUEST_IID", "12"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "345"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", source_project),
            ("CI_MERGE_REQUEST_PROJECT_URL", "https://gitlab.example.com/acme/bot"),
            ("CI_JOB_NAME", "gate"),
            ("GITLAB_TOKEN", GL_TOKEN),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[tokio::test]
    async fn creates_then_updates_one_note() {
        let fake = FakeGitlab::start(GL_TOKEN);
        let vars = gitlab_env(&fake, "345");
        for i in 0..130 {
            fake.add_note("345", 12, &format!("review note {i}"), "octocat");
        }
        let first = run_default(&vars).await;
        let id = fake.notes().last().expect("a note").id;
        assert_eq!(
            first,
            CommentOutcome::Created {
                url: Some(format!(
                    "https://gitlab.example.com/acme/bot/-/merge_requests/12#note_{id}"
                ))
            }
        );
        let second = run_default(&vars).await;
        assert!(matches!(second, CommentOutcome::Updated { .. }), "{second}");
        let ours: Vec<_> = fake
            .notes()
            .into_iter()
            .filter(|n| n.body.starts_with("<!-- kapso-gate:gate -->\n"))
            .collect();
        assert_eq!(ours.len(), 1);
        assert_eq!((ours[0].id, ours[0].edits), (id, 1));
        let paths: Vec<String> = fake
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        let list = "/api/v4/projects/345/merge_requests/12/notes";
        assert_eq!(
            paths,
            [
                format!("GET {list}?per_page=100&page=1&sort=asc&order_by=created_at"),
                format!("GET {list}?per_page=100&page=2&sort=asc&order_by=created_at"),
                format!("POST {list}"),
                format!("GET {list}?per_page=100&page=1&sort=asc&order_by=created_at"),
                format!("GET {list}?per_page=100&page=2&sort=asc&order_by=created_at"),
                "GET /api/v4/user".to_owned(),
                format!("PUT {list}/{id}"),
            ]
        );
        for request in fake.requests() {
            assert_eq!(request.header("private-token"), Some(GL_TOKEN));
            assert_eq!(request.header("authorization"), None);
        }
    }

    #[tokio::test]
    async fn a_persons_note_with_the_marker_is_left_alone() {
        let fake = FakeGitlab::start(GL_TOKEN);
        let vars = gitlab_env(&fake, "345");
        let copy = fake.add_note("345", 12, "<!-- kapso-gate:gate -->\nlooks official", "mallory");
        let first = run_default(&vars).await;
        assert!(matches!(first, CommentOutcome::Created { .. }), "{first}");
        let second = run_default(&vars).await;
        assert!(matches!(second, CommentOutcome::Updated { .. }), "{second}");
        let notes = fake.notes();
        assert_eq!(notes.len(), 2);
        assert_eq!((notes[0].id, notes[0].edits), (copy, 0), "never edited");
        assert_eq!(
            (notes[1].login.as_str(), notes[1].edits),
            (kapso_sim::gitlab::PROJECT_BOT, 1)
        );
    }

    #[tokio::test]
    async fn a_fork_or_a_refusal_is_a_notice() {
        let fake = FakeGitlab::start(GL_TOKEN);
        let fork = run_default(&gitlab_env(&fake, "999")).await;
        assert_eq!(fork, CommentOutcome::Skipped(CommentSkip::Fork));
        assert!(fake.requests().is_empty());
        fake.fault(GithubFault::Status(403));
        let refused = run_default(&gitlab_env(&fake, "345")).await;
        assert_eq!(refused, CommentOutcome::Skipped(CommentSkip::Forbidden));
        assert!(!format!("{refused} {refused:?}").contains("fakeProjectToken"));
    }
}
