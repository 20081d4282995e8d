//! An in-process OCI distribution registry on a loopback port, for tests and demos.
//!
//! [`RegistryServer`] speaks the distribution API over HTTP/1.1 from memory: manifests (validated on push: parsed,
//! size-capped, referenced blobs and child manifests checked), blobs with byte ranges, uploads (monolithic,
//! chunked with `Content-Range`, streamed, cross-repository mounts), tag lists and the catalog with `n`/`last`
//! pagination and `Link`, and the referrers API. It can demand Basic credentials, or Bearer tokens from its own
//! `/token` endpoint, and its [`Faults`] make it fail, slow down or cut answers short on request.
//!
//! The server runs as tasks on the tokio runtime that starts it and stops when dropped. A panic in a request
//! handler is answered with a 500 and recorded; dropping the server then panics, so the test fails instead of the
//! panic going unnoticed.
//!
//! ```no_run
//! use std::sync::Arc;
//! use registry_client::{Client, ListOptions, RemoteClient};
//! use mocks::server::RegistryServer;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let server = RegistryServer::builder().basic_auth("alice", "pw").build_and_start().await?;
//! let client: Arc<dyn Client> =
//!     Arc::new(RemoteClient::builder(server.host()).insecure(true).basic_auth("alice", "pw").build()?);
//! let tags = client.with_segment("org/app").list_tags(ListOptions::default()).await;
//! assert!(tags.is_err()); // nothing pushed yet: NAME_UNKNOWN
//! assert!(server.request_count() > 0);
//! # Ok(()) }
//! ```

mod auth;
mod blobs;
mod body;
mod faults;
mod ids;
mod lists;
mod manifests;
mod referrers;
mod reply;
mod routes;
mod service;
mod store;
#[cfg(test)]
mod tests;
mod uploads;

use std::convert::Infallible;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub use faults::Faults;

use auth::{Auth, AuthMode};
use service::Shared;

/// The header carrying the digest of served or stored content.
const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// A registry server on a loopback port, serving from memory until dropped.
pub struct RegistryServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl fmt::Debug for RegistryServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryServer")
            .field("addr", &self.addr)
            .field("auth", &self.shared.auth)
            .field("requests", &self.request_count())
            .finish()
    }
}

/// Configures a [`RegistryServer`]: authentication and address.
#[derive(Debug, Clone)]
#[must_use]
pub struct ServerBuilder {
    auth: AuthMode,
    addr: SocketAddr,
}

impl ServerBuilder {
    /// Demand HTTP Basic credentials on every request (`WWW-Authenticate: Basic realm="mocks"`).
    pub fn basic_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> ServerBuilder {
        self.auth = AuthMode::Basic { username: username.into(), password: password.into() };
        self
    }

    /// Demand Bearer tokens, issued by the server's `/token` endpoint for these Basic credentials
    /// (`WWW-Authenticate: Bearer realm="http://<addr>/token",service="mocks",scope="..."`). Tokens are opaque,
    /// random, valid for 300 s and grant every scope.
    pub fn bearer_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> ServerBuilder {
        self.auth = AuthMode::Bearer { username: username.into(), password: password.into() };
        self
    }

    /// Listen on `addr` instead of `127.0.0.1:0` (a free port).
    pub fn addr(mut self, addr: SocketAddr) -> ServerBuilder {
        self.addr = addr;
        self
    }

    /// Bind and start serving on the current tokio runtime.
    pub async fn build_and_start(self) -> std::io::Result<RegistryServer> {
        let listener = TcpListener::bind(self.addr).await?;
        let addr = listener.local_addr()?;
        let auth = Auth::new(self.auth, format!("http://{addr}/token"));
        let shared = Arc::new(Shared::new(addr.to_string(), auth));
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(RegistryServer { addr, shared, accept })
    }
}

impl RegistryServer {
    /// Start an anonymous server on `127.0.0.1` and a free port.
    pub async fn start() -> std::io::Result<RegistryServer> {
        RegistryServer::builder().build_and_start().await
    }

    /// Start an anonymous server on `addr`.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<RegistryServer> {
        RegistryServer::builder().addr(addr).build_and_start().await
    }

    /// A builder, for authentication or a fixed address.
    pub fn builder() -> ServerBuilder {
        ServerBuilder { auth: AuthMode::Anonymous, addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)) }
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `host:port`, e.g. `127.0.0.1:40123`: what a client's registry name is.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The fault hooks.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// How many requests the server has received (token requests included).
    pub fn request_count(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// The panics recorded so far (each also fails the test when the server is dropped).
    pub fn panics(&self) -> Vec<String> {
        self.shared.panics.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        self.accept.abort();
        let panics = self.panics();
        if !panics.is_empty() && !std::thread::panicking() {
            panic!("the registry server at {} had {} panic(s): {}", self.addr, panics.len(), panics.join("; "));
        }
    }
}

/// Accept connections until aborted; aborting drops the connection set, which ends every connection.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
                // Out of file descriptors or similar: wait a little instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done {
                    if e.is_panic() {
                        let msg = format!("connection task panicked: {e}");
                        shared.panics.lock().unwrap_or_else(PoisonError::into_inner).push(msg);
                    }
                }
            }
        }
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let service = service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(service::serve(&shared, req).await) }
    });
    // Connection errors (a client going away, a body cut by a fault) end the connection, nothing more.
    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
}
