//! Load check: creates 1000 runs, then polls them from 32 keep-alive connections until all are
//! finished, and prints the request rate the simulator sustained.
//!
//! `cargo run --release -p kapso-sim --example load`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use kapso_sim::{CaseSpec, Scenario, Sim};

const RUNS: usize = 1000;
const CONNECTIONS: usize = 32;

/// Sends one request on a keep-alive connection and returns the body.
fn send(reader: &mut BufReader<TcpStream>, method: &str, path: &str, body: &str) -> String {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: sim\r\nX-API-Key: k\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    reader.get_mut().write_all(request.as_bytes()).expect("write");
    let mut line = String::new();
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).expect("read");
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some(v) = trimmed.strip_prefix("Content-Length: ") {
            length = v.parse().expect("length");
        }
    }
    let mut buf = vec![0; length];
    reader.read_exact(&mut buf).expect("body");
    String::from_utf8(buf).expect("utf-8")
}

fn main() {
    let mut scenario = Scenario::new("k");
    for i in 0..10 {
        scenario = scenario.case(CaseSpec::passing(format!("c{i}"), 0.9).duration_ms(500));
    }
    let sim = Sim::start(scenario);
    let addr = sim.addr();
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let next = Arc::clone(&next);
            std::thread::spawn(move || {
                let mut conn = BufReader::new(TcpStream::connect(addr).expect("connect"));
                let mut ids = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= RUNS {
                        break;
                    }
                    let body = send(
                        &mut conn,
                        "POST",
                        &format!("/api/v1/test_cases/c{}/test_runs", n % 10),
                        r#"{"agent_test_run":{},"run_now":true}"#,
                    );
                    let value: serde_json::Value = serde_json::from_str(&body).expect("json");
                    ids.push(value["data"]["id"].as_str().expect("id").to_owned());
                }
                while !ids.is_empty() {
                    ids.retain(|id| {
                        let body = send(&mut conn, "GET", &format!("/api/v1/test_runs/{id}"), "");
                        !body.contains(r#""execution_completed":true"#)
                    });
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
    let elapsed = started.elapsed();
    let requests = sim.requests().len();
    println!(
        "{requests} requests in {elapsed:.2?}: {:.0} requests/s",
        requests as f64 / elapsed.as_secs_f64()
    );
}
