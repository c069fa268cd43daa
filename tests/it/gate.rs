//! The gate's end-to-end scenarios: the real `kapso-gate` binary against kapso-sim, one scenario
//! per test. Every test also checks the invariants that hold in every scenario (runs are created with
//! `run_now: true`, no run is polled after it was seen finished, the key never shows).

use crate::support;
use crate::support::leak::{assert_no_secret_in_output, AddMask};
use crate::support::{assert_code, case, posts, runs_of, Finished, KEY, RUN_MS};
use kapso_sim::{CaseSpec, Endpoint, Fault, FaultAction, Scenario, Sim, SuiteSpec};
use std::process::Command;
use std::time::Duration;

/// Runs the gate and checks what must hold after every run against the simulator.
fn run_checked(sim: &Sim, cmd: &mut Command) -> Finished {
    let out = support::run(cmd);
    assert_no_secret_in_output(&out, KEY, AddMask::Forbidden);
    for run in sim.runs() {
        assert!(
            run.run_now,
            "run {} of {} was created with run_now false",
            run.id, run.case_id
        );
        assert_eq!(
            run.polls_after_finished_seen,
            0,
            "run {} of {} was polled after it was seen finished\n{}",
            run.id,
            run.case_id,
            out.all_output()
        );
    }
    for post in posts(sim) {
        assert_eq!(
            post.body, r#"{"agent_test_run":{},"run_now":true}"#,
            "POST {}",
            post.path
        );
    }
    out
}

#[test]
fn all_pass_exits_zero() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9).name("Refund policy"))
            .case(case("c2", 1.0))
            .case(case("c3", 0.8).name("Exactly at threshold")),
    );
    let out = run_checked(&sim, support::gate(&sim.base_url()).args(["c1", "c2", "c3"]));
    assert_code(&out, 0);
    assert_eq!(sim.runs().len(), 3);
    assert!(out.stdout.contains("Refund policy"), "{}", out.stdout);
    assert!(
        out.stdout.contains("Exactly at threshold"),
        "threshold is inclusive\n{}",
        out.stdout
    );
    assert!(!out.stdout.contains("FAIL"), "{}", out.stdout);
    assert!(!out.all_output().contains("warning"), "{}", out.all_output());
    assert!(
        out.stderr.contains("3 test cases"),
        "start line names the number of cases\n{}",
        out.stderr
    );
}

#[test]
fn one_below_threshold_exits_one_and_prints_its_feedback() {
    let feedback = "✅ Greets the customer\n❌ Invented opening hours (said 24/7)\n⚠️ Did not offer a human";
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("good", 0.95))
            .case(case("bad", 0.4).name("Opening hours").feedback(feedback)),
    );
    let out = run_checked(&sim, support::gate(&sim.base_url()).args(["good", "bad"]));
    assert_code(&out, 1);
    assert!(out.stdout.contains("FAIL"), "{}", out.stdout);
    assert!(out.stdout.contains("Opening hours"), "{}", out.stdout);
    for line in feedback.lines() {
        assert!(
            out.stdout.contains(line),
            "feedback line {line:?} missing from stdout\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("0.4"), "{}", out.stdout);
}

#[test]
fn crashed_run_exits_one_and_shows_the_error() {
    let sim = Sim::start(
        Scenario::new(KEY).case(case("ok", 0.9)).case(
            CaseSpec::new("boom")
                .crash("judge model timed out after 120s")
                .duration_ms(RUN_MS),
        ),
    );
    let out = run_checked(&sim, support::gate(&sim.base_url()).args(["ok", "boom"]));
    assert_code(&out, 1);
    assert!(
        out.stdout.contains("judge model timed out after 120s"),
        "the crash message is shown\n{}",
        out.stdout
    );
    assert!(out.stdout.contains("ERROR"), "{}", out.stdout);
}

#[test]
fn missing_score_exits_one() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("ok", 0.9))
            .case(CaseSpec::new("unscored").no_score().duration_ms(RUN_MS)),
    );
    let out = run_checked(&sim, support::gate(&sim.base_url()).args(["ok", "unscored"]));
    assert_code(&out, 1);
    assert!(out.stdout.contains("without a score"), "{}", out.stdout);
}

#[test]
fn wrong_key_exits_three_after_exactly_one_request() {
    let wrong = "kg-wrong-key-Lp2Vw8";
    let sim = Sim::start(Scenario::new(KEY).case(case("c1", 0.9)));
    let out = run_checked(
        &sim,
        support::gate(&sim.base_url())
            .env("KAPSO_API_KEY", wrong)
            .args(["c1", "-vv"]),
    );
    assert_code(&out, 3);
    assert_no_secret_in_output(&out, wrong, AddMask::Forbidden);
    let log = sim.requests();
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].status, 401);
    assert!(out.stdout.contains("401"), "{}", out.stdout);
}

#[test]
fn wrong_key_with_several_cases_and_one_connection_sends_one_request() {
    let wrong = "kg-wrong-key-Lp2Vw8";
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9))
            .case(case("c2", 0.9))
            .case(case("c3", 0.9)),
    );
    let out = run_checked(
        &sim,
        support::gate(&sim.base_url())
            .env("KAPSO_API_KEY", wrong)
            .args(["c1", "c2", "c3", "--concurrency", "1"]),
    );
    assert_code(&out, 3);
    assert_eq!(sim.requests().len(), 1, "{:#?}", sim.requests());
    assert!(
        out.stdout.contains("3 rejected"),
        "every case is rejected\n{}",
        out.stdout
    );
}

#[test]
fn payment_required_on_create_stops_everything() {
    let sim = Sim::start(Scenario::new(KEY).case(case("c1", 0.9)).case(case("c2", 0.9)).fault(
        Fault::on(Endpoint::CreateRun).then(FaultAction::status_with(
            402,
            r#"{"error":"Payment Required","message":"Insufficient credits"}"#,
            &[],
        )),
    ));
    let out = run_checked(
        &sim,
        support::gate(&sim.base_url()).args(["c1", "c2", "--concurrency", "1"]),
    );
    assert_code(&out, 3);
    assert_eq!(sim.requests().len(), 1, "{:#?}", sim.requests());
    assert!(out.stdout.contains("Insufficient credits"), "{}", out.stdout);
}

#[test]
fn unknown_case_exits_three_with_not_found() {
    let sim = Sim::start(Scenario::new(KEY).case(case("c1", 0.9)));
    let out = run_checked(&sim, support::gate(&sim.base_url()).arg("no-such-case"));
    assert_code(&out, 3);
    assert!(
        out.stdout.contains("test case no-such-case not found"),
        "{}",
        out.all_output()
    );
    assert!(sim.runs().is_empty());
}

#[test]
fn deadline_exits_four_and_prints_the_run_id() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("quick", 0.9))
            .case(CaseSpec::new("stuck").never_finishes()),
    );
    let out = run_checked(
        &sim,
        support::gate(&sim.base_url())
            .env("KAPSO_TIMEOUT", "1s")
            .args(["quick", "stuck"]),
    );
    assert_code(&out, 4);
    let stuck: Vec<_> = sim.runs().into_iter().filter(|r| r.case_id == "stuck").collect();
    assert_eq!(stuck.len(), 1);
    assert!(
        out.stdout.contains(&stuck[0].id),
        "the unfinished run's ID {} is printed\n{}",
        stuck[0].id,
        out.stdout
    );
    assert!(out.stdout.contains("INCOMPLETE"), "{}", out.stdout);
    assert!(stuck[0].polls >= 1, "the stuck run was polled");
}

/// `Retry-After` replaces the backoff delay but never beyond the deadline: a 10-minute wait
/// against a 1-second deadline ends the case as incomplete at once, without a second POST.
#[test]
fn retry_after_beyond_the_deadline_is_not_waited_for() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9))
            .fault(Fault::on(Endpoint::CreateRun).then(FaultAction::status_with(
                429,
                r#"{"error":"Too Many Requests"}"#,
                &[("Retry-After", "600")],
            ))),
    );
    let out = support::run_within(
        support::gate(&sim.base_url()).env("KAPSO_TIMEOUT", "1s").arg("c1"),
        Duration::from_secs(20),
    );
    assert_code(&out, 4);
    assert_eq!(posts(&sim).len(), 1, "no retry is sent past the deadline");
    assert!(out.stdout.contains("deadline"), "{}", out.stdout);
}

#[test]
fn retry_after_on_create_is_honoured() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9))
            .fault(Fault::on(Endpoint::CreateRun).then(FaultAction::status_with(
                429,
                r#"{"error":"Too Many Requests","message":"Rate limit exceeded"}"#,
                &[("Retry-After", "2")],
            ))),
    );
    let out = run_checked(&sim, support::gate(&sim.base_url()).args(["c1", "-v"]));
    assert_code(&out, 0);
    let posts = posts(&sim);
    assert_eq!(posts.len(), 2, "{posts:#?}");
    assert_eq!(posts[0].status, 429);
    let waited = posts[1].at - posts[0].at;
    assert!(
        waited >= Duration::from_secs(2),
        "the retried POST came {waited:?} after the 429, before Retry-After: 2"
    );
    assert_eq!(sim.runs().len(), 1);
}

#[test]
fn unavailable_then_created_makes_exactly_one_run() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9))
            .fault(Fault::on(Endpoint::CreateRun).then(FaultAction::status(503))),
    );
    let out = run_checked(&sim, support::gate(&sim.base_url()).arg("c1"));
    assert_code(&out, 0);
    let posts = posts(&sim);
    assert_eq!(
        posts.iter().map(|p| p.status).collect::<Vec<_>>(),
        vec![503, 201],
        "{posts:#?}"
    );
    assert_eq!(sim.runs().len(), 1);
}

#[test]
fn server_error_on_create_is_not_retried() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9))
            .fault(Fault::on(Endpoint::CreateRun).then(FaultAction::status_after_commit(500))),
    );
    let out = run_checked(&sim, support::gate(&sim.base_url()).args(["c1", "-v"]));
    assert_code(&out, 4);
    assert_eq!(posts(&sim).len(), 1, "{:#?}", sim.requests());
    assert_eq!(sim.runs().len(), 1, "only the run the failed POST created");
    assert!(out.stdout.contains("500"), "the reason is reported\n{}", out.stdout);
}

#[test]
fn gateway_errors_on_create_are_not_retried() {
    for status in [502, 504] {
        let sim = Sim::start(
            Scenario::new(KEY)
                .case(case("c1", 0.9))
                .fault(Fault::on(Endpoint::CreateRun).then(FaultAction::Html { status })),
        );
        let out = run_checked(&sim, support::gate(&sim.base_url()).arg("c1"));
        assert_code(&out, 4);
        assert_eq!(posts(&sim).len(), 1, "{status}: {:#?}", sim.requests());
    }
}

#[test]
fn duplicate_ids_run_once_each_and_are_reported() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9))
            .case(case("c2", 0.9))
            .case(case("c3", 0.9)),
    );
    let out = run_checked(
        &sim,
        support::gate(&sim.base_url())
            .env("KAPSO_TEST_CASE_IDS", "c2, c3\nc1")
            .args(["c1", "c2", "c1"]),
    );
    assert_code(&out, 0);
    for id in ["c1", "c2", "c3"] {
        assert_eq!(runs_of(&sim, id), 1, "{id}");
    }
    assert_eq!(sim.runs().len(), 3);
    assert!(
        out.all_output().contains("3 duplicate IDs dropped"),
        "{}",
        out.all_output()
    );
}

#[test]
fn suite_expands_to_all_its_cases() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9))
            .case(case("c2", 0.85))
            .case(case("c3", 1.0).suite("s1"))
            .case(case("outside", 0.1))
            .suite(SuiteSpec::new("s1").name("Support flows").cases(["c1", "c2"])),
    );
    let out = run_checked(&sim, support::gate(&sim.base_url()).args(["--suite", "s1"]));
    assert_code(&out, 0);
    for id in ["c1", "c2", "c3"] {
        assert_eq!(runs_of(&sim, id), 1, "{id}");
    }
    assert_eq!(runs_of(&sim, "outside"), 0);
    assert!(sim
        .requests()
        .iter()
        .any(|r| r.endpoint == Endpoint::GetSuite && r.path.ends_with("/test_suites/s1")));
    assert!(out.stderr.contains("3 test cases"), "{}", out.stderr);
}

#[test]
fn suite_and_direct_ids_are_united_without_duplicates() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9))
            .case(case("c2", 0.9))
            .case(case("c3", 0.9))
            .suite(SuiteSpec::new("s1").cases(["c1", "c2"])),
    );
    let out = run_checked(
        &sim,
        support::gate(&sim.base_url())
            .env("KAPSO_TEST_SUITE_IDS", "s1")
            .args(["c1", "c3"]),
    );
    assert_code(&out, 0);
    for id in ["c1", "c2", "c3"] {
        assert_eq!(runs_of(&sim, id), 1, "{id}");
    }
    assert!(
        out.all_output().contains("1 duplicate ID dropped"),
        "{}",
        out.all_output()
    );
}

#[test]
fn unknown_suite_exits_three_without_creating_runs() {
    let sim = Sim::start(Scenario::new(KEY).case(case("c1", 0.9)));
    let out = run_checked(&sim, support::gate(&sim.base_url()).args(["--suite", "nope"]));
    assert_code(&out, 3);
    assert!(sim.runs().is_empty());
    assert!(out.all_output().contains("not found"), "{}", out.all_output());
}

/// One bad input: the extra arguments and environment changes.
struct BadInput {
    what: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, Option<&'static str>)],
    /// Something the error message must say.
    says: &'static str,
}

/// Every input the gate must refuse with exit 2 before sending anything.
const BAD_INPUTS: &[BadInput] = &[
    BadInput {
        what: "missing key",
        args: &["c1"],
        env: &[("KAPSO_API_KEY", None)],
        says: "KAPSO_API_KEY",
    },
    BadInput {
        what: "empty key",
        args: &["c1"],
        env: &[("KAPSO_API_KEY", Some(""))],
        says: "KAPSO_API_KEY",
    },
    BadInput {
        what: "empty selection",
        args: &[],
        env: &[],
        says: "no test cases",
    },
    BadInput {
        what: "selection of separators only",
        args: &[],
        env: &[("KAPSO_TEST_CASE_IDS", Some(" ,\n, "))],
        says: "no test cases",
    },
    BadInput {
        what: "threshold NaN",
        args: &["c1", "--threshold", "NaN"],
        env: &[],
        says: "threshold",
    },
    BadInput {
        what: "threshold -1",
        args: &["c1", "--threshold=-1"],
        env: &[],
        says: "threshold",
    },
    BadInput {
        what: "threshold abc",
        args: &["c1", "--threshold", "abc"],
        env: &[],
        says: "threshold",
    },
    BadInput {
        what: "threshold inf from the environment",
        args: &["c1"],
        env: &[("KAPSO_THRESHOLD", Some("inf"))],
        says: "threshold",
    },
    BadInput {
        what: "bad poll interval",
        args: &["c1", "--poll-interval", "soon"],
        env: &[],
        says: "poll-interval",
    },
    BadInput {
        what: "bad timeout from the environment",
        args: &["c1"],
        env: &[("KAPSO_TIMEOUT", Some("forever"))],
        says: "timeout",
    },
    BadInput {
        what: "bad request timeout",
        args: &["c1", "--request-timeout", "10 parsecs"],
        env: &[],
        says: "request-timeout",
    },
    BadInput {
        what: "http on a non-loopback host",
        args: &["c1", "--base-url", "http://example.com/api/v1"],
        env: &[],
        says: "clear text",
    },
    BadInput {
        what: "http on a host that only looks like loopback",
        args: &["c1", "--base-url", "http://127.0.0.1.nip.io/api/v1"],
        env: &[],
        says: "clear text",
    },
    BadInput {
        what: "not a URL",
        args: &["c1", "--base-url", "app.kapso.ai"],
        env: &[],
        says: "base-url",
    },
    BadInput {
        what: "dot-dot ID",
        args: &["c1", ".."],
        env: &[],
        says: "ID",
    },
    BadInput {
        what: "dot ID",
        args: &["."],
        env: &[],
        says: "ID",
    },
    BadInput {
        what: "ID with a control character",
        args: &["c1", "a\u{7}b"],
        env: &[],
        says: "ID",
    },
    BadInput {
        what: "ID with an escape sequence",
        args: &["c\u{1b}[31m1"],
        env: &[],
        says: "ID",
    },
    BadInput {
        what: "dot-dot suite ID",
        args: &["--suite", ".."],
        env: &[],
        says: "ID",
    },
];

#[test]
fn each_bad_input_exits_two_before_any_request() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9))
            .case(case("a", 0.9))
            .case(case("b", 0.9)),
    );
    let mut failures = Vec::new();
    for input in BAD_INPUTS {
        let before = sim.requests().len();
        let mut cmd = support::gate(&sim.base_url());
        cmd.args(input.args);
        for (name, value) in input.env {
            match value {
                Some(value) => cmd.env(name, value),
                None => cmd.env_remove(name),
            };
        }
        let out = support::run(&mut cmd);
        assert_no_secret_in_output(&out, KEY, AddMask::Forbidden);
        let reached = sim.requests().len() - before;
        if out.code != 2 || reached != 0 || !out.stderr.contains(input.says) {
            failures.push(format!(
                "{}: exit {} (want 2), {reached} request(s) reached the server (want 0), stderr should say {:?}\n--- stdout\n{}--- stderr\n{}",
                input.what, out.code, input.says, out.stdout, out.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The ID rule: IDs must be non-empty and free of whitespace; only the environment variable is a
/// list split on commas, spaces and newlines. A positional argument is one ID.
#[test]
fn positional_id_with_a_space_exits_two_before_any_request() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9))
            .case(case("a", 0.9))
            .case(case("b", 0.9)),
    );
    for args in [&["a b"][..], &["c1", "a b"][..]] {
        let before = sim.requests().len();
        let out = run_checked(&sim, support::gate(&sim.base_url()).args(args));
        assert_code(&out, 2);
        assert_eq!(
            sim.requests().len(),
            before,
            "{args:?}: no request may reach the server"
        );
        assert!(out.stderr.contains("ID"), "{}", out.stderr);
    }
}

#[test]
fn failed_wins_over_rejected() {
    let sim = Sim::start(Scenario::new(KEY).case(case("low", 0.3)));
    let out = run_checked(&sim, support::gate(&sim.base_url()).args(["low", "missing"]));
    assert_code(&out, 1);
    assert!(out.stdout.contains("FAIL"), "{}", out.stdout);
    assert!(out.stdout.contains("REJECTED"), "{}", out.stdout);
}

#[test]
fn rejected_wins_over_incomplete() {
    let sim = Sim::start(
        Scenario::new(KEY).case(case("flaky", 0.9)).fault(
            Fault::on(Endpoint::CreateRun)
                .case("flaky")
                .then(FaultAction::status(500)),
        ),
    );
    let out = run_checked(&sim, support::gate(&sim.base_url()).args(["flaky", "missing"]));
    assert_code(&out, 3);
    assert!(out.stdout.contains("REJECTED"), "{}", out.stdout);
    assert!(out.stdout.contains("INCOMPLETE"), "{}", out.stdout);
}

#[test]
fn failed_wins_over_incomplete() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("low", 0.2))
            .case(CaseSpec::new("stuck").never_finishes()),
    );
    let out = run_checked(
        &sim,
        support::gate(&sim.base_url())
            .env("KAPSO_TIMEOUT", "1500ms")
            .args(["low", "stuck"]),
    );
    assert_code(&out, 1);
}

#[test]
fn ids_are_sent_as_one_encoded_path_segment() {
    let sim = Sim::start(Scenario::new(KEY).case(case("../x", 0.9)).case(case("a?b#c%d", 0.9)));
    let out = run_checked(&sim, support::gate(&sim.base_url()).args(["../x", "a?b#c%d"]));
    assert_code(&out, 0);
    let mut paths: Vec<String> = posts(&sim).into_iter().map(|p| p.path).collect();
    paths.sort();
    assert_eq!(
        paths,
        vec![
            "/api/v1/test_cases/..%2Fx/test_runs".to_owned(),
            "/api/v1/test_cases/a%3Fb%23c%25d/test_runs".to_owned(),
        ]
    );
    assert!(
        sim.requests().iter().all(|r| r.endpoint != Endpoint::Other),
        "{:#?}",
        sim.requests()
    );
    assert_eq!(runs_of(&sim, "../x"), 1);
    assert_eq!(runs_of(&sim, "a?b#c%d"), 1);
}

#[test]
fn requests_carry_the_key_user_agent_and_json_body() {
    let sim = Sim::start(Scenario::new(KEY).case(case("c1", 0.9)));
    let out = run_checked(&sim, support::gate(&sim.base_url()).arg("c1"));
    assert_code(&out, 0);
    let log = sim.requests();
    let user_agent = format!("kapso-gate/{}", env!("CARGO_PKG_VERSION"));
    for request in &log {
        assert_eq!(request.header("x-api-key"), Some(KEY), "{request:#?}");
        assert_eq!(request.header("user-agent"), Some(user_agent.as_str()), "{request:#?}");
    }
    let posts = posts(&sim);
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.path, "/api/v1/test_cases/c1/test_runs");
    assert_eq!(post.body, r#"{"agent_test_run":{},"run_now":true}"#);
    let content_type = post.header("content-type").unwrap_or_default();
    assert!(
        content_type.split(';').next().map(str::trim) == Some("application/json"),
        "content type {content_type:?}"
    );
    assert!(
        log.iter().any(|r| r.method == "GET" && r.endpoint == Endpoint::GetRun),
        "the run was polled"
    );
}

#[test]
fn runs_are_created_with_run_now_and_not_polled_after_finishing() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("fast", 0.9).duration_ms(1))
            .case(case("medium", 0.9).duration_ms(150))
            .case(case("slow", 0.9).duration_ms(350))
            .case(CaseSpec::new("crash").crash("boom").duration_ms(120))
            .case(case("low", 0.1).duration_ms(250)),
    );
    let out = run_checked(
        &sim,
        support::gate(&sim.base_url()).args(["fast", "medium", "slow", "crash", "low"]),
    );
    assert_code(&out, 1);
    let runs = sim.runs();
    assert_eq!(runs.len(), 5);
    for run in &runs {
        assert!(run.run_now, "{run:#?}");
        assert!(run.polls >= 1 || run.case_id == "fast", "{run:#?}");
        assert_eq!(run.polls_after_finished_seen, 0, "{run:#?}");
    }
}

#[test]
fn unauthorized_poll_stops_every_other_case() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(CaseSpec::new("c1").never_finishes())
            .case(CaseSpec::new("c2").never_finishes())
            .case(CaseSpec::new("c3").never_finishes())
            .fault(Fault::on(Endpoint::GetRun).case("c2").then(FaultAction::status(401))),
    );
    let out = run_checked(
        &sim,
        support::gate(&sim.base_url()).args(["c1", "c2", "c3", "--concurrency", "1"]),
    );
    assert_code(&out, 3);
    let log = sim.requests();
    let last = log.last().expect("requests were sent");
    assert_eq!(
        (last.endpoint, last.status),
        (Endpoint::GetRun, 401),
        "no request follows the 401: {log:#?}"
    );
    assert_eq!(log.iter().filter(|r| r.status == 401).count(), 1);
    assert!(out.stdout.contains("3 rejected"), "{}", out.stdout);
    assert!(
        !out.stdout.contains("INCOMPLETE"),
        "the other cases are rejected, not left incomplete\n{}",
        out.stdout
    );
}

#[test]
fn unauthorized_poll_stops_every_other_case_at_full_concurrency() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("c1", 0.9).duration_ms(5000))
            .case(case("c2", 0.9).duration_ms(5000))
            .case(case("c3", 0.9).duration_ms(5000))
            .fault(Fault::on(Endpoint::GetRun).case("c1").then(FaultAction::status(401))),
    );
    let out = run_checked(&sim, support::gate(&sim.base_url()).args(["c1", "c2", "c3"]));
    assert_code(&out, 3);
    let log = sim.requests();
    let unauthorized = log.iter().position(|r| r.status == 401).expect("a 401 was sent");
    // Requests already in flight may land after it, but no new round of polls may follow:
    // at most one request per other case after the 401.
    assert!(
        log.len() - unauthorized - 1 <= 2,
        "requests kept coming after the 401: {log:#?}"
    );
    assert!(out.stdout.contains("3 rejected"), "{}", out.stdout);
}

#[test]
fn threshold_and_scores_on_different_scales_warn() {
    let sim = Sim::start(Scenario::new(KEY).case(case("c1", 0.9)).case(case("c2", 1.0)));
    let out = run_checked(
        &sim,
        support::gate(&sim.base_url()).args(["c1", "c2", "--threshold", "8"]),
    );
    assert_code(&out, 1);
    assert!(out.all_output().contains("warning"), "{}", out.all_output());
    assert!(out.all_output().contains("threshold 8"), "{}", out.all_output());
}

#[test]
fn scores_above_one_with_a_fractional_threshold_warn() {
    let sim = Sim::start(Scenario::new(KEY).case(case("c1", 9.5)));
    let out = run_checked(&sim, support::gate(&sim.base_url()).arg("c1"));
    assert_code(&out, 0);
    assert!(out.all_output().contains("warning"), "{}", out.all_output());
    assert!(out.all_output().contains("scale"), "{}", out.all_output());
}

#[test]
fn no_ansi_escapes_without_a_terminal_or_with_no_color() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(case("ok", 0.9))
            .case(case("low", 0.2).feedback("❌ \u{1b}[31mred\u{1b}[0m and a bell \u{7}"))
            .case(
                CaseSpec::new("boom")
                    .crash("\u{1b}]0;title\u{7} crashed")
                    .duration_ms(RUN_MS),
            ),
    );
    for no_color in [None, Some("1")] {
        let mut cmd = support::gate(&sim.base_url());
        cmd.args(["ok", "low", "boom", "missing"]);
        if let Some(value) = no_color {
            cmd.env("NO_COLOR", value);
        }
        let out = run_checked(&sim, &mut cmd);
        assert_code(&out, 1);
        assert!(
            !out.stdout.contains('\u{1b}') && !out.stderr.contains('\u{1b}'),
            "NO_COLOR={no_color:?}: an ANSI escape was printed\n{:?}",
            out.all_output()
        );
        assert!(!out.all_output().contains('\u{7}'), "{:?}", out.all_output());
        assert!(out.stdout.contains("red"), "{}", out.stdout);
    }
}

#[test]
fn key_never_appears_in_any_output() {
    let scenario = || {
        Scenario::new(KEY)
            .case(case("ok", 0.9))
            .case(case("low", 0.3).feedback("❌ wrong"))
            .case(CaseSpec::new("boom").crash("crashed").duration_ms(RUN_MS))
            .case(CaseSpec::new("stuck").never_finishes())
            .suite(SuiteSpec::new("s1").cases(["ok", "low"]))
            .fault(
                Fault::on(Endpoint::CreateRun)
                    .case("ok")
                    .then(FaultAction::status_with(429, "{}", &[("Retry-After", "0")]))
                    .then(FaultAction::status(503)),
            )
            .fault(Fault::on(Endpoint::GetRun).case("low").then(FaultAction::status(502)))
            .fault(Fault::on(Endpoint::CreateRun).case("flaky").then(FaultAction::Reset))
    };
    let invocations: [&[&str]; 5] = [
        &["ok", "low", "boom", "stuck", "missing", "flaky"],
        &["--suite", "s1", "boom"],
        &["ok", "--threshold", "abc"],
        &["ok", "--base-url", "http://example.com"],
        &[".."],
    ];
    // Each invocation has its own simulator; run them side by side to keep the test short.
    std::thread::scope(|scope| {
        for verbosity in [None, Some("-v"), Some("-vv")] {
            for args in invocations {
                scope.spawn(move || {
                    let sim = Sim::start(scenario());
                    let mut cmd = support::gate(&sim.base_url());
                    cmd.env("KAPSO_TIMEOUT", "1s").args(args);
                    if let Some(flag) = verbosity {
                        cmd.arg(flag);
                    }
                    let out = run_checked(&sim, &mut cmd);
                    assert!(out.code != 0, "{args:?} {verbosity:?}: {}", out.all_output());
                });
            }
        }
    });
    // And with a key Kapso refuses.
    let sim = Sim::start(scenario());
    let out = support::run(
        support::gate(&sim.base_url())
            .env("KAPSO_API_KEY", "kg-refused-key-Hs4Qm1")
            .args(["ok", "low", "-vv"]),
    );
    assert_code(&out, 3);
    assert_no_secret_in_output(&out, "kg-refused-key-Hs4Qm1", AddMask::Forbidden);
}

#[test]
fn help_lists_every_exit_code_and_hides_the_key() {
    let out = support::run(
        support::gate("http://127.0.0.1:9/api/v1")
            .env("KAPSO_TEST_CASE_IDS", "c1")
            .env("KAPSO_THRESHOLD", "0.93")
            .arg("--help"),
    );
    assert_code(&out, 0);
    assert_no_secret_in_output(&out, KEY, AddMask::Forbidden);
    assert!(out.stdout.contains("KAPSO_API_KEY"), "{}", out.stdout);
    for (code, name) in [
        (0, "passed"),
        (1, "failed"),
        (2, "usage"),
        (3, "rejected"),
        (4, "incomplete"),
    ] {
        assert!(
            out.stdout
                .lines()
                .any(|line| line.trim_start().starts_with(&format!("{code} ")) && line.contains(name)),
            "exit code {code} ({name}) is not listed\n{}",
            out.stdout
        );
    }
    assert!(
        !out.stdout.contains("0.93"),
        "environment values are hidden\n{}",
        out.stdout
    );
}

#[test]
fn a_flag_wins_over_its_variable() {
    let sim = Sim::start(Scenario::new(KEY).case(case("c1", 0.6)));
    let out = run_checked(
        &sim,
        support::gate(&sim.base_url())
            .env("KAPSO_THRESHOLD", "0.9")
            .args(["c1", "--threshold", "0.5"]),
    );
    assert_code(&out, 0);
}

/// On a terminal the gate may colour its output, but `NO_COLOR` turns every escape off. Needs
/// util-linux `script` for a pseudo-terminal; without it only the pipe case above is checked.
#[test]
fn no_color_wins_on_a_terminal() {
    let script = std::path::Path::new("/usr/bin/script");
    if !script.exists() {
        eprintln!("skipped: /usr/bin/script is not available to provide a terminal");
        return;
    }
    let sim = Sim::start(Scenario::new(KEY).case(case("ok", 0.9)).case(case("low", 0.2)));
    let gate = env!("CARGO_BIN_EXE_kapso-gate");
    let mut escapes = Vec::new();
    for no_color in [false, true] {
        let template = support::gate(&sim.base_url());
        let mut cmd = Command::new(script);
        cmd.env_clear();
        for (name, value) in template.get_envs() {
            if let Some(value) = value {
                cmd.env(name, value);
            }
        }
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        cmd.env("SHELL", "/bin/sh")
            .env("TERM", "xterm")
            .args(["-qec", &format!("'{gate}' ok low"), "/dev/null"])
            .stdin(std::process::Stdio::null());
        let out = support::run(&mut cmd);
        assert_no_secret_in_output(&out, KEY, AddMask::Forbidden);
        assert_code(&out, 1);
        assert!(out.stdout.contains("low"), "{}", out.all_output());
        escapes.push(out.stdout.contains('\u{1b}'));
    }
    assert_eq!(
        escapes,
        vec![true, false],
        "colour on a terminal (else this test proves nothing), none with NO_COLOR"
    );
}
