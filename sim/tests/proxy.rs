//! The forward proxy: absolute-form forwarding, CONNECT tunnels, refusing non-local targets.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use kapso_sim::{CaseSpec, ForwardProxy, Scenario, Sim};
use support::{request, Conn, RUN_BODY};

fn proxy_addr(proxy: &ForwardProxy) -> std::net::SocketAddr {
    proxy.url().strip_prefix("http://").unwrap().parse().unwrap()
}

#[test]
fn forwards_absolute_form_requests() {
    let sim = Sim::start(Scenario::new("k").case(CaseSpec::new("c1")));
    let proxy = ForwardProxy::start();
    assert!(proxy.url().starts_with("http://127.0.0.1:"));
    let target = format!("{}/test_cases/c1", sim.base_url());
    let resp = Conn::open(proxy_addr(&proxy))
        .send("GET", &target, Some("k"), None)
        .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["data"]["id"], "c1");
    // A request with a body, on a fresh connection.
    let create = format!("{}/test_cases/c1/test_runs", sim.base_url());
    let resp = request(proxy_addr(&proxy), "POST", &create, Some("k"), Some(RUN_BODY));
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(resp.header("content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(proxy.requests(), [target, create]);
    let log = sim.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].path, "/api/v1/test_cases/c1");
    assert_eq!(log[1].body, RUN_BODY);
    assert_eq!(sim.runs().len(), 1);
}

#[test]
fn tunnels_connect() {
    let sim = Sim::start(Scenario::new("k"));
    let proxy = ForwardProxy::start();
    let mut stream = TcpStream::connect(proxy_addr(&proxy)).unwrap();
    write!(stream, "CONNECT {0} HTTP/1.1\r\nHost: {0}\r\n\r\n", sim.addr()).unwrap();
    let mut head = [0u8; 39];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 Connection Established\r\n\r\n");
    stream
        .write_all(b"GET /api/v1/test_runs/x HTTP/1.1\r\nX-API-Key: k\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut rest = String::new();
    stream.read_to_string(&mut rest).unwrap();
    assert!(rest.starts_with("HTTP/1.1 404"), "{rest}");
    assert_eq!(proxy.requests(), [format!("CONNECT {}", sim.addr())]);
}

#[test]
fn refuses_other_hosts() {
    let proxy = ForwardProxy::start();
    let mut conn = Conn::open(proxy_addr(&proxy));
    let resp = conn
        .send("GET", "http://example.com/api/v1/test_runs/x", None, None)
        .unwrap();
    assert_eq!(resp.status, 403);
    let mut conn = Conn::open(proxy_addr(&proxy));
    let resp = conn.send("CONNECT", "example.com:443", None, None).unwrap();
    assert_eq!(resp.status, 403);
    assert_eq!(
        proxy.requests(),
        ["http://example.com/api/v1/test_runs/x", "CONNECT example.com:443"]
    );
}
