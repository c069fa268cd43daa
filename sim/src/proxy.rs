//! [`ForwardProxy`]: a minimal HTTP forward proxy for proxy tests. It forwards absolute-form
//! requests (one per client connection, unchanged target, `Connection: close`) and tunnels
//! `CONNECT`, only towards 127.0.0.1 / localhost; other targets get 403.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::background::Background;
use crate::http::{self, ReadError, Request, Response};

/// A running forward proxy. Dropping it shuts it down.
#[derive(Debug)]
pub struct ForwardProxy {
    seen: Arc<Mutex<Vec<String>>>,
    server: Background,
}

impl ForwardProxy {
    /// Starts on 127.0.0.1 with an ephemeral port, on its own thread and runtime.
    ///
    /// # Panics
    /// When no port can be bound.
    pub fn start() -> ForwardProxy {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let for_server = Arc::clone(&seen);
        let server = Background::spawn(
            "kapso-sim-proxy",
            SocketAddr::from(([127, 0, 0, 1], 0)),
            move |listener| accept_loop(listener, for_server),
        )
        .expect("kapso-sim: cannot start the forward proxy");
        ForwardProxy { seen, server }
    }

    /// For example `http://127.0.0.1:41235`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Request targets seen, in order: absolute URLs, or `CONNECT host:port`.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

async fn accept_loop(listener: TcpListener, seen: Arc<Mutex<Vec<String>>>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let _ = serve(stream, &seen).await;
                });
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}

async fn serve(mut client: TcpStream, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    let mut buf = Vec::new();
    let request = match http::read_request(&mut client, &mut buf).await {
        Ok(Some(request)) => request,
        Ok(None) => return Ok(()),
        Err(ReadError::Io(e)) => return Err(e),
        Err(ReadError::Bad(status)) => return refuse(&mut client, status, "bad request").await,
    };
    let connect = request.method.eq_ignore_ascii_case("CONNECT");
    let entry = if connect {
        format!("CONNECT {}", request.target)
    } else {
        request.target.clone()
    };
    seen.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
    let authority = if connect {
        Some(request.target.as_str())
    } else {
        request
            .target
            .strip_prefix("http://")
            .map(|rest| rest.split(['/', '?']).next().unwrap_or(rest))
    };
    let Some(authority) = authority else {
        return refuse(&mut client, 400, "absolute-form http:// target required").await;
    };
    let Some(upstream_addr) = local_target(authority, if connect { None } else { Some(80) }) else {
        return refuse(&mut client, 403, "only 127.0.0.1 / localhost targets are allowed").await;
    };
    let mut upstream = match TcpStream::connect(upstream_addr).await {
        Ok(s) => s,
        Err(e) => return refuse(&mut client, 502, &format!("cannot connect: {e}")).await,
    };
    upstream.set_nodelay(true)?;
    if connect {
        client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await?;
        upstream.write_all(&buf).await?;
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        return Ok(());
    }
    upstream.write_all(&forwarded(&request)).await?;
    tokio::io::copy(&mut upstream, &mut client).await?;
    client.shutdown().await
}

/// The request as sent upstream: same request line, hop-by-hop headers replaced by
/// `Connection: close`.
fn forwarded(request: &Request) -> Vec<u8> {
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in &request.headers {
        if !matches!(
            name.as_str(),
            "connection" | "proxy-connection" | "keep-alive" | "proxy-authorization"
        ) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&request.body);
    bytes
}

/// `host[:port]` to a loopback address, or `None` when the host is not local.
fn local_target(authority: &str, default_port: Option<u16>) -> Option<SocketAddr> {
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
        _ => (authority, default_port?),
    };
    let ip: std::net::IpAddr = match host.to_ascii_lowercase().as_str() {
        "127.0.0.1" | "localhost" => [127, 0, 0, 1].into(),
        "[::1]" => std::net::Ipv6Addr::LOCALHOST.into(),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

async fn refuse(client: &mut TcpStream, status: u16, message: &str) -> std::io::Result<()> {
    let response = Response {
        status,
        headers: Vec::new(),
        content_type: Some("text/plain; charset=utf-8".into()),
        body: format!("{message}\n").into_bytes(),
    };
    http::write_response(client, &response, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_targets() {
        assert_eq!(
            local_target("127.0.0.1:8080", None),
            Some(SocketAddr::from(([127, 0, 0, 1], 8080)))
        );
        assert_eq!(
            local_target("localhost", Some(80)),
            Some(SocketAddr::from(([127, 0, 0, 1], 80)))
        );
        assert!(local_target("[::1]:9", None).is_some());
        assert_eq!(local_target("example.com:443", None), None);
        assert_eq!(local_target("127.0.0.1", None), None);
    }
}
