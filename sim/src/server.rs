//! [`Sim`]: the simulated API server as a running object (start, address, accept loop, one task
//! per keep-alive connection) and the read-back of what it saw.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

use crate::api::{self, Reply};
use crate::background::Background;
use crate::http::{self, ReadError, Response};
use crate::scenario::Scenario;
use crate::state::{LoggedRequest, RunRecord, Shared};

/// A running simulated Kapso API. Dropping it shuts the server down.
#[derive(Debug)]
pub struct Sim {
    shared: Arc<Shared>,
    server: Background,
}

impl Sim {
    /// Starts on 127.0.0.1 with an ephemeral port, on a dedicated thread with its own tokio
    /// runtime; returns once listening. Works from plain tests and from inside a runtime.
    ///
    /// # Panics
    /// When no port can be bound.
    pub fn start(scenario: Scenario) -> Sim {
        Self::start_at(scenario, SocketAddr::from(([127, 0, 0, 1], 0))).expect("kapso-sim: cannot listen on 127.0.0.1")
    }

    /// Like [`Sim::start`] on a chosen address (port 0 picks a free port).
    pub fn start_at(scenario: Scenario, addr: SocketAddr) -> std::io::Result<Sim> {
        let shared = Arc::new(Shared::new(scenario));
        let for_server = Arc::clone(&shared);
        let server = Background::spawn("kapso-sim", addr, move |listener| accept_loop(listener, for_server))?;
        Ok(Sim { shared, server })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// For example `http://127.0.0.1:41234/api/v1` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr())
    }

    /// Every request received, in arrival order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.requests()
    }

    /// Every run created, in creation order.
    pub fn runs(&self) -> Vec<RunRecord> {
        self.shared.runs()
    }

    /// The scenario being served.
    pub fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve_connection(stream, &shared).await;
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                eprintln!("kapso-sim: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_connection(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        let request = match http::read_request(&mut stream, &mut buf).await {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(()),
            Err(ReadError::Io(e)) => return Err(e),
            Err(ReadError::Bad(status)) => {
                let body = serde_json::json!({
                    "error": http::reason(status),
                    "message": "Malformed or unsupported request",
                });
                return http::write_response(&mut stream, &Response::json(status, &body), true).await;
            }
        };
        let close = request.close;
        match api::handle(shared, request).await {
            Reply::Send(response) => {
                http::write_response(&mut stream, &response, close).await?;
                if close {
                    return Ok(());
                }
            }
            Reply::SendHalf(response) => return http::write_half_response(&mut stream, &response).await,
            Reply::Reset => return Ok(()),
        }
    }
}
