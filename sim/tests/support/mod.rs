//! A std-only HTTP/1.1 client for the simulator's tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response as received.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", self.body))
    }
}

/// One keep-alive connection.
#[derive(Debug)]
pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        Self {
            reader: BufReader::new(stream),
        }
    }

    /// Sends a request with the given target (origin- or absolute-form); `key` becomes
    /// `X-API-Key`. Returns `Err` when the connection ends before a whole response.
    pub fn send(&mut self, method: &str, target: &str, key: Option<&str>, body: Option<&str>) -> std::io::Result<Resp> {
        let mut request = format!("{method} {target} HTTP/1.1\r\nHost: sim\r\n");
        if let Some(key) = key {
            request.push_str(&format!("X-API-Key: {key}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body.unwrap_or(""));
        self.reader.get_mut().write_all(request.as_bytes())?;
        self.read_response()
    }

    fn read_response(&mut self) -> std::io::Result<Resp> {
        let eof = || std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(eof());
        }
        let status = line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(eof)?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(eof());
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            let (name, value) = trimmed.split_once(':').ok_or_else(eof)?;
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap_or(0));
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// One request on a fresh connection.
pub fn request(addr: SocketAddr, method: &str, path: &str, key: Option<&str>, body: Option<&str>) -> Resp {
    Conn::open(addr)
        .send(method, path, key, body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

pub const RUN_BODY: &str = r#"{"agent_test_run": {}, "run_now": true}"#;
