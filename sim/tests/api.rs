//! End-to-end tests of the simulated API over real TCP connections.

mod support;

use std::time::{Duration, Instant};

use kapso_sim::{AgentSpec, CaseSpec, Endpoint, Fault, FaultAction, RateLimit, Scenario, Sim, SuiteSpec, TrialSpec};
use support::{request, Conn, RUN_BODY};

const KEY: &str = "k-test";

fn create(sim: &Sim, case: &str) -> serde_json::Value {
    let resp = request(
        sim.addr(),
        "POST",
        &format!("/api/v1/test_cases/{case}/test_runs"),
        Some(KEY),
        Some(RUN_BODY),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    resp.json()["data"].clone()
}

fn get_run(conn: &mut Conn, id: &str) -> serde_json::Value {
    let resp = conn
        .send("GET", &format!("/api/v1/test_runs/{id}"), Some(KEY), None)
        .expect("get run");
    assert_eq!(resp.status, 200, "{}", resp.body);
    resp.json()["data"].clone()
}

#[test]
fn base_url_has_no_trailing_slash() {
    let sim = Sim::start(Scenario::new(KEY));
    let url = sim.base_url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(url.ends_with("/api/v1"), "{url}");
}

#[test]
fn wrong_or_missing_key_is_401() {
    let sim = Sim::start(Scenario::new(KEY).case(CaseSpec::passing("c1", 0.9)));
    for key in [None, Some("nope")] {
        let resp = request(sim.addr(), "GET", "/api/v1/test_cases/c1", key, None);
        assert_eq!(resp.status, 401);
        assert_eq!(
            resp.json(),
            serde_json::json!({"error": "Unauthorized", "message": "Invalid API key"})
        );
        assert_eq!(resp.header("content-type"), Some("application/json; charset=utf-8"));
    }
    assert!(sim.runs().is_empty());
}

#[test]
fn run_lifecycle_reaches_finished_on_one_keep_alive_connection() {
    let sim = Sim::start(
        Scenario::new(KEY).case(
            CaseSpec::new("c1")
                .name("Refund")
                .score(0.85)
                .feedback("✅ ok")
                .duration_ms(300),
        ),
    );
    let created = create(&sim, "c1");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["execution_completed"], false);
    assert!(created["score"].is_null());
    assert!(created["started_at"].is_string());
    assert_eq!(created["test_case"]["id"], "c1");
    assert_eq!(created["metadata"], serde_json::json!({}));

    let mut conn = Conn::open(sim.addr());
    let first = get_run(&mut conn, &id);
    assert_eq!(first["execution_completed"], false);
    assert!(first["feedback"].is_null());
    let deadline = Instant::now() + Duration::from_secs(3);
    let finished = loop {
        let run = get_run(&mut conn, &id);
        if run["execution_completed"] == true {
            break run;
        }
        assert!(Instant::now() < deadline, "run never finished");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(finished["score"], 0.85);
    assert_eq!(finished["feedback"], "✅ ok");
    assert!(finished["ended_at"].is_string());
    assert!(finished["error"].is_null());
    assert!(finished["conversation"].as_array().unwrap().len() >= 2);
    assert!(finished["full_history"].as_array().unwrap().len() >= 2);
    // One more poll after the finished state was seen.
    get_run(&mut conn, &id);

    let runs = sim.runs();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.id, id);
    assert_eq!(run.case_id, "c1");
    assert_eq!(run.trial, 0);
    assert!(run.run_now);
    assert_eq!(run.finishes_at, Some(run.created_at + Duration::from_millis(300)));
    assert!(run.polls >= 3);
    assert_eq!(run.polls_after_finished_seen, 1);
}

#[test]
fn crash_and_unscored_shapes() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(CaseSpec::new("boom").crash("judge exploded").duration_ms(0))
            .case(CaseSpec::new("mute").no_score().duration_ms(0)),
    );
    let id = create(&sim, "boom")["id"].as_str().unwrap().to_owned();
    let mut conn = Conn::open(sim.addr());
    let run = get_run(&mut conn, &id);
    assert_eq!(run["execution_completed"], false);
    assert!(run["score"].is_null());
    assert_eq!(
        run["error"],
        serde_json::json!({"message": "judge exploded", "type": "RuntimeError"})
    );

    let id = create(&sim, "mute")["id"].as_str().unwrap().to_owned();
    let run = get_run(&mut conn, &id);
    assert_eq!(run["execution_completed"], true);
    assert!(run["score"].is_null());
    assert!(run["error"].is_null());
}

#[test]
fn trials_cycle_per_case() {
    let sim = Sim::start(
        Scenario::new(KEY).case(
            CaseSpec::new("flaky")
                .trial(TrialSpec::scored(0.2).duration_ms(0))
                .trial(TrialSpec::scored(0.9).duration_ms(0)),
        ),
    );
    let mut conn = Conn::open(sim.addr());
    let scores: Vec<f64> = (0..3)
        .map(|_| {
            let id = create(&sim, "flaky")["id"].as_str().unwrap().to_owned();
            get_run(&mut conn, &id)["score"].as_f64().unwrap()
        })
        .collect();
    assert_eq!(scores, [0.2, 0.9, 0.2]);
    let trials: Vec<usize> = sim.runs().iter().map(|r| r.trial).collect();
    assert_eq!(trials, [0, 1, 2]);
}

#[test]
fn run_now_false_never_executes() {
    let sim = Sim::start(Scenario::new(KEY).case(CaseSpec::new("c1").duration_ms(0)));
    let resp = request(
        sim.addr(),
        "POST",
        "/api/v1/test_cases/c1/test_runs",
        Some(KEY),
        Some(r#"{"agent_test_run": {}}"#),
    );
    assert_eq!(resp.status, 201);
    let id = resp.json()["data"]["id"].as_str().unwrap().to_owned();
    std::thread::sleep(Duration::from_millis(30));
    let run = get_run(&mut Conn::open(sim.addr()), &id);
    assert!(run["execution_completed"].is_null());
    assert!(run["score"].is_null());
    assert!(run["started_at"].is_null());
    let record = &sim.runs()[0];
    assert!(!record.run_now);
    assert_eq!(record.finishes_at, None);
}

#[test]
fn missing_agent_test_run_is_422() {
    let sim = Sim::start(Scenario::new(KEY).case(CaseSpec::new("c1")));
    for body in [Some(r#"{"run_now": true}"#), Some("not json"), Some("[1]"), None] {
        let resp = request(sim.addr(), "POST", "/api/v1/test_cases/c1/test_runs", Some(KEY), body);
        assert_eq!(resp.status, 422, "{body:?}");
        assert_eq!(
            resp.json(),
            serde_json::json!({"errors": {"agent_test_run": ["can't be blank"]}})
        );
    }
    assert!(sim.runs().is_empty());
}

#[test]
fn unknown_things_are_404() {
    let sim = Sim::start(Scenario::new(KEY).case(CaseSpec::new("c1")));
    let cases = [
        ("POST", "/api/v1/test_cases/nope/test_runs", Some(RUN_BODY)),
        ("GET", "/api/v1/test_runs/nope", None),
        ("GET", "/api/v1/test_cases/nope", None),
        ("GET", "/api/v1/test_suites/nope", None),
        ("GET", "/api/v1/agents/nope/test_suites", None),
        ("GET", "/api/v1/whatever", None),
    ];
    for (method, path, body) in cases {
        let resp = request(sim.addr(), method, path, Some(KEY), body);
        assert_eq!(resp.status, 404, "{method} {path}");
        assert_eq!(resp.json()["error"], "Not found", "{method} {path}");
    }
    let resp = request(
        sim.addr(),
        "POST",
        "/api/v1/test_cases/nope/test_runs",
        Some(KEY),
        Some(RUN_BODY),
    );
    assert_eq!(resp.json()["message"], "Test case not found");
    assert!(sim.runs().is_empty());
}

#[test]
fn ids_are_percent_decoded() {
    let sim = Sim::start(Scenario::new(KEY).case(CaseSpec::new("a/b c")));
    let resp = request(sim.addr(), "GET", "/api/v1/test_cases/a%2Fb%20c", Some(KEY), None);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["data"]["id"], "a/b c");
    let created = create(&sim, "a%2Fb%20c");
    assert_eq!(created["test_case"]["id"], "a/b c");
    assert_eq!(sim.runs()[0].case_id, "a/b c");
    // Unencoded, the slash makes it a different route.
    let resp = request(sim.addr(), "GET", "/api/v1/test_cases/a/b", Some(KEY), None);
    assert_eq!(resp.status, 404);
}

#[test]
fn case_suite_and_agent_listing() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(CaseSpec::new("c1").name("Refund").description("wants money back"))
            .case(CaseSpec::new("c2"))
            .case(CaseSpec::new("c3").suite("s2"))
            .suite(SuiteSpec::new("s1").name("Support").cases(["c1", "c2"]))
            .suite(SuiteSpec::new("s2").agent("agent-x"))
            .agent(AgentSpec::new("agent-x").suite("s1")),
    );
    let case = request(sim.addr(), "GET", "/api/v1/test_cases/c1", Some(KEY), None).json();
    let case = &case["data"];
    for field in [
        "id",
        "name",
        "description",
        "script",
        "rubric",
        "test_suite_id",
        "created_at",
        "updated_at",
    ] {
        assert!(case.get(field).is_some(), "missing {field}");
    }
    assert_eq!(case["name"], "Refund");
    assert_eq!(case["test_suite_id"], "s1");

    let suite = request(sim.addr(), "GET", "/api/v1/test_suites/s1", Some(KEY), None).json();
    let suite = &suite["data"];
    assert_eq!(suite["name"], "Support");
    let ids: Vec<&str> = suite["test_cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c1", "c2"]);

    let list = request(sim.addr(), "GET", "/api/v1/agents/agent-x/test_suites", Some(KEY), None).json();
    let suites = list["data"].as_array().unwrap();
    let ids: Vec<&str> = suites.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["s1", "s2"]);
    assert_eq!(suites[1]["test_cases"][0]["id"], "c3");
}

#[test]
fn rate_limit_429_with_headers() {
    let sim = Sim::start(Scenario::new(KEY).case(CaseSpec::new("c1")).rate_limit(3, 60_000));
    let mut conn = Conn::open(sim.addr());
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let resp = conn.send("GET", "/api/v1/test_cases/c1", Some(KEY), None).unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("x-ratelimit-limit"), Some("3"));
        remaining.push(resp.header("x-ratelimit-remaining").unwrap().to_owned());
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    // Counted before auth: even a bad key is limited.
    let resp = conn.send("GET", "/api/v1/test_cases/c1", Some("bad"), None).unwrap();
    assert_eq!(resp.status, 429);
    assert_eq!(resp.header("retry-after"), Some("60"));
    assert_eq!(resp.header("x-ratelimit-limit"), Some("3"));
    assert_eq!(resp.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(
        resp.json(),
        serde_json::json!({"error": "Rate limit exceeded", "message": "Too many requests"})
    );
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 200, 429]);
}

#[test]
fn rate_limit_window_slides_and_fixed_retry_after() {
    let sim = Sim::start(Scenario::new(KEY).rate_limit_with(RateLimit {
        limit: 1,
        window_ms: 200,
        retry_after_secs: Some(7),
        ..RateLimit::default()
    }));
    let mut conn = Conn::open(sim.addr());
    let get = |conn: &mut Conn| conn.send("GET", "/api/v1/test_suites/x", Some(KEY), None).unwrap();
    assert_eq!(get(&mut conn).status, 404);
    let limited = get(&mut conn);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("7"));
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(get(&mut conn).status, 404);
}

#[test]
fn fault_sequence_then_normal() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(CaseSpec::new("c1").duration_ms(0))
            .case(CaseSpec::new("c2").duration_ms(0))
            .fault(
                Fault::on(Endpoint::CreateRun)
                    .case("c1")
                    .then(FaultAction::status_with(
                        503,
                        r#"{"error":"busy"}"#,
                        &[("Retry-After", "1")],
                    ))
                    .then(FaultAction::Reset)
                    .then(FaultAction::Html { status: 502 })
                    .then(FaultAction::status_after_commit(500))
                    .then(FaultAction::delay(50)),
            ),
    );
    let post = |case: &str| {
        Conn::open(sim.addr()).send(
            "POST",
            &format!("/api/v1/test_cases/{case}/test_runs"),
            Some(KEY),
            Some(RUN_BODY),
        )
    };
    // Another case is unaffected and does not consume the actions.
    assert_eq!(post("c2").unwrap().status, 201);

    let first = post("c1").unwrap();
    assert_eq!(first.status, 503);
    assert_eq!(first.header("retry-after"), Some("1"));
    assert_eq!(first.body, r#"{"error":"busy"}"#);
    assert!(post("c1").is_err(), "reset expected");
    let html = post("c1").unwrap();
    assert_eq!(html.status, 502);
    assert!(html.header("content-type").unwrap().starts_with("text/html"));
    assert!(html.body.contains("<html>"));
    assert_eq!(post("c1").unwrap().status, 500);
    let started = Instant::now();
    assert_eq!(post("c1").unwrap().status, 201);
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(post("c1").unwrap().status, 201);

    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [201, 503, 0, 502, 500, 201, 201]);
    // c2, the run created despite the 500, and the two normal ones.
    assert_eq!(sim.runs().len(), 4);
}

#[test]
fn body_mangling_faults() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(CaseSpec::new("c1").duration_ms(0).feedback("short"))
            .fault(
                Fault::on(Endpoint::GetRun)
                    .then(FaultAction::Truncated)
                    .then(FaultAction::WrongDataType)
                    .then(FaultAction::HugeFeedback { bytes: 100_000 })
                    .then(FaultAction::ResetMidBody)
                    .then(FaultAction::Redirect {
                        status: 302,
                        location: "http://127.0.0.1:9/elsewhere".into(),
                    }),
            ),
    );
    let id = create(&sim, "c1")["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/test_runs/{id}");
    let get = || Conn::open(sim.addr()).send("GET", &path, Some(KEY), None);

    let truncated = get().unwrap();
    assert_eq!(truncated.status, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&truncated.body).is_err());
    assert_eq!(get().unwrap().json(), serde_json::json!({"data": "a string"}));
    let huge = get().unwrap().json();
    assert_eq!(huge["data"]["feedback"].as_str().unwrap().len(), 100_000);
    assert!(get().is_err(), "reset mid-body expected");
    let redirect = get().unwrap();
    assert_eq!(redirect.status, 302);
    assert_eq!(redirect.header("location"), Some("http://127.0.0.1:9/elsewhere"));
    assert_eq!(get().unwrap().json()["data"]["feedback"], "short");
    // Only the HugeFeedback and the last response showed the finished run intact.
    let run = &sim.runs()[0];
    assert_eq!(run.polls, 6);
    assert_eq!(run.polls_after_finished_seen, 3);
}

#[test]
fn a_late_request_is_stamped_and_counted_only_when_it_arrives() {
    // One slot a minute: the late request is counted when it arrives, not when it was sent.
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(CaseSpec::new("c1").duration_ms(0))
            .rate_limit(3, 60_000)
            .fault(
                Fault::on(Endpoint::CreateRun)
                    .then(FaultAction::late(300))
                    .then(FaultAction::status(503)),
            ),
    );
    let mut conn = Conn::open(sim.addr());
    let mut send = |path: &str, body| conn.send("POST", path, Some(KEY), body).expect("answer");
    assert_eq!(send("/api/v1/nowhere", None).status, 404);
    let late = send("/api/v1/test_cases/c1/test_runs", Some(RUN_BODY));
    assert_eq!(late.status, 201, "a late request is handled normally");
    assert_eq!(late.header("x-ratelimit-remaining"), Some("1"));
    assert_eq!(
        send("/api/v1/test_cases/c1/test_runs", Some(RUN_BODY)).status,
        503,
        "the late request took only its own action"
    );
    let log = sim.requests();
    assert!(
        log[1].at >= log[0].at + Duration::from_millis(300),
        "stamped {:?} after the request before it, which was answered before it was sent",
        log[1].at - log[0].at
    );
}

#[test]
fn request_log_contents() {
    let sim = Sim::start(Scenario::new(KEY).case(CaseSpec::new("c1")));
    let addr = sim.addr();
    let mut conn = Conn::open(addr);
    conn.send(
        "POST",
        &format!("http://{addr}/api/v1/test_cases/c1/test_runs?src=proxy"),
        Some(KEY),
        Some(RUN_BODY),
    )
    .unwrap();
    conn.send("GET", "/api/v1/nowhere", None, None).unwrap();
    let log = sim.requests();
    assert_eq!(log.len(), 2);
    let first = &log[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/api/v1/test_cases/c1/test_runs?src=proxy");
    assert_eq!(first.endpoint, Endpoint::CreateRun);
    assert_eq!(first.status, 201);
    assert_eq!(first.body, RUN_BODY);
    assert_eq!(first.header("x-api-key"), Some(KEY));
    assert!(first.headers.iter().all(|(n, _)| *n == n.to_lowercase()));
    let second = &log[1];
    assert_eq!(second.endpoint, Endpoint::Other);
    assert_eq!(second.status, 401);
    assert!(second.at >= first.at);
}

#[test]
fn connection_close_is_honoured() {
    let sim = Sim::start(Scenario::new(KEY));
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(sim.addr()).unwrap();
    stream
        .write_all(b"GET /api/v1/test_runs/x HTTP/1.1\r\nConnection: close\r\nX-API-Key: k-test\r\n\r\n")
        .unwrap();
    let mut all = String::new();
    stream.read_to_string(&mut all).unwrap();
    assert!(all.starts_with("HTTP/1.1 404"), "{all}");
    assert!(all.contains("Connection: close"));
}

#[test]
fn scenario_round_trips_through_json() {
    let scenario = Scenario::new(KEY)
        .case(CaseSpec::passing("c1", 0.9).suite("s"))
        .fault(
            Fault::on(Endpoint::GetRun)
                .then(FaultAction::status(500))
                .then(FaultAction::Reset),
        )
        .rate_limit(10, 1000);
    let text = serde_json::to_string(&scenario).unwrap();
    assert!(text.contains(r#""kind":"reset""#), "{text}");
    assert!(text.contains(r#""endpoint":"get_run""#), "{text}");
    let back: Scenario = serde_json::from_str(&text).unwrap();
    assert_eq!(back, scenario);
    // Minimal files rely on defaults.
    let minimal: Scenario = serde_json::from_str(
        r#"{"api_key":"k","cases":[{"id":"c","trials":[{"score":0.5}]}],
            "faults":[{"endpoint":"CreateRun","actions":[{"kind":"status","status":502}]}]}"#,
    )
    .unwrap();
    assert_eq!(minimal.cases[0].trials[0].duration_ms, 1000);
    assert_eq!(minimal.faults[0].endpoint, Endpoint::CreateRun);
}

#[test]
fn demo_scenario_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/demo.json");
    let scenario = Scenario::load(path).unwrap();
    assert_eq!(scenario.api_key, "sim-demo-key");
    assert_eq!(scenario.cases.len(), 5);
    assert_eq!(scenario.suites[0].id, "support-regressions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_and_stops_inside_a_runtime() {
    let sim = Sim::start(Scenario::new(KEY));
    let addr = sim.addr();
    let resp = tokio::task::spawn_blocking(move || request(addr, "GET", "/api/v1/test_runs/x", Some(KEY), None))
        .await
        .unwrap();
    assert_eq!(resp.status, 404);
    drop(sim);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[tokio::test]
async fn starts_inside_a_current_thread_runtime() {
    let sim = Sim::start(Scenario::new(KEY));
    assert!(sim.base_url().contains("127.0.0.1"));
}

#[test]
fn underscores_can_be_spelled_as_json_escapes() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(CaseSpec::passing("c_1", 0.9).feedback("snake_case"))
            .escape_underscores(),
    );
    let resp = request(sim.addr(), "GET", "/api/v1/test_cases/c_1", Some(KEY), None);
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(!resp.body.contains('_'), "every underscore is escaped: {}", resp.body);
    assert!(resp.body.contains("c\\u005f1"), "{}", resp.body);
    assert_eq!(resp.json()["data"]["id"], "c_1", "the same text once decoded");
}

#[test]
fn a_case_returns_the_script_and_rubric_it_was_given() {
    let sim = Sim::start(
        Scenario::new(KEY)
            .case(
                CaseSpec::new("c1")
                    .script("Ask for a refund")
                    .rubric("Refunds within 30 days"),
            )
            .case(CaseSpec::new("c2")),
    );
    let created = create(&sim, "c1");
    assert_eq!(created["test_case"]["script"], "Ask for a refund");
    assert_eq!(created["test_case"]["rubric"], "Refunds within 30 days");
    // Without them, both are derived from the description and the name.
    let resp = request(sim.addr(), "GET", "/api/v1/test_cases/c2", Some(KEY), None);
    let case = &resp.json()["data"];
    assert!(
        case["script"]
            .as_str()
            .is_some_and(|s| s.contains("Simulated test case c2")),
        "{case}"
    );
    assert!(case["rubric"].as_str().is_some_and(|s| s.contains("Case c2")), "{case}");
}
