//! Running a server on its own thread with its own tokio runtime, so that it can be started
//! from plain `#[test]` functions and from inside another runtime alike, and stopped on drop.

use std::future::Future;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::thread::JoinHandle;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A server running on a background thread; dropping it stops the server and joins the thread.
#[derive(Debug)]
pub(crate) struct Background {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Binds `addr` now (so the server is listening when this returns), then runs
    /// `serve(listener)` on a new thread until dropped.
    pub fn spawn<F, Fut>(name: &str, addr: SocketAddr, serve: F) -> std::io::Result<Self>
    where
        F: FnOnce(TcpListener) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let listener = StdListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name(name.to_owned()).spawn(move || {
            runtime.block_on(async move {
                let listener = match TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("kapso-sim: cannot register listener: {e}");
                        return;
                    }
                };
                tokio::select! {
                    () = serve(listener) => {}
                    _ = stopped => {}
                }
            });
            // Connection tasks still running (sleeping in a delay, say) are dropped here.
            runtime.shutdown_background();
        })?;
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
