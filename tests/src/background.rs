//! A loopback listener served on its own thread with its own tokio runtime until stopped: the machinery shared by
//! the in-test servers ([`crate::http::TestServer`], [`crate::proxy::TestProxy`]), so they work the same from
//! `#[tokio::test]` (any flavor) and from plain `#[test]` functions.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Locks `m`, carrying on after a panic of another holder (the data are test records).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running listener; stops (and joins its thread) when dropped or [`Background::stop`]ped.
#[derive(Debug)]
pub(crate) struct Background {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Binds `addr` (port 0 picks a free port) and serves every accepted connection with `serve` on a background
    /// runtime. `on_error` hears a failure to set the runtime up; connections still running when stopped get
    /// `grace` to finish. `what` names the server in panics and the thread name.
    ///
    /// # Panics
    /// If the address cannot be bound or the thread cannot be spawned.
    pub(crate) fn start<F, Fut>(
        what: &str,
        addr: SocketAddr,
        grace: Duration,
        on_error: impl FnOnce(String) + Send + 'static,
        serve: F,
    ) -> Background
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind(addr).unwrap_or_else(|e| panic!("{what}: cannot bind {addr}: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{what}: local_addr: {e}"));
        listener.set_nonblocking(true).unwrap_or_else(|e| panic!("{what}: set_nonblocking: {e}"));
        let (tx, rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("{what}-{addr}"))
            .spawn(move || run(listener, rx, grace, on_error, serve))
            .unwrap_or_else(|e| panic!("{what}: cannot spawn thread: {e}"));
        Background { addr, shutdown: Some(tx), thread: Some(thread) }
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, gives running connections their grace period, and joins the thread. Idempotent.
    pub(crate) fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            // The receiver is gone only if the thread already ended.
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run<F, Fut>(
    listener: std::net::TcpListener,
    shutdown: oneshot::Receiver<()>,
    grace: Duration,
    on_error: impl FnOnce(String),
    serve: F,
) where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return on_error(format!("cannot build tokio runtime: {e}")),
    };
    runtime.block_on(async move {
        let listener = match TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => return on_error(format!("cannot register listener: {e}")),
        };
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        tokio::spawn(serve(stream));
                    }
                }
            }
        }
    });
    runtime.shutdown_timeout(grace);
}
