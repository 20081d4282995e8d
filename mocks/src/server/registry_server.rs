//! [`RegistryServer`] and its [`ServerBuilder`]: binding, the accept loop, one task per connection, panics
//! recorded and reported on drop, and the switches for the choices the OCI spec leaves to a registry.

use std::convert::Infallible;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::auth::{Auth, AuthMode};
use super::faults::Faults;
use super::service;
use super::state::Shared;

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

    /// Every request received so far (token requests included), as `METHOD path?query`, in order: for tests
    /// that check which requests a client sent.
    pub fn request_log(&self) -> Vec<String> {
        self.shared.request_log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The panics recorded so far (each also fails the test when the server is dropped).
    pub fn panics(&self) -> Vec<String> {
        self.shared.panics()
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
                        shared.record_panic_message(format!("connection task panicked: {e}"));
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

/// Switches for the choices the OCI spec leaves to registries, so clients' fallbacks can be tested here too.
impl RegistryServer {
    /// Whether DELETE by tag deletes the tag (the default, as the OCI spec allows) or is refused with 405
    /// `UNSUPPORTED`, as registries refuse it that only delete by digest.
    pub fn set_tag_deletes(&self, allowed: bool) {
        self.shared.behaviour.set_tag_deletes(allowed);
    }

    /// Whether the referrers API (`/v2/<name>/referrers/<digest>`) is served (the default) or answers
    /// `404 page not found` (text/plain) as docker-registry 2.8.2 does; without it, a manifest PUT with a `subject`
    /// gets no `OCI-Subject` header, which tells clients to maintain the referrers tag (`sha256-<hex>`) instead.
    pub fn set_referrers_api(&self, enabled: bool) {
        self.shared.behaviour.set_referrers_api(enabled);
    }

    /// Whether the referrers API filters by `artifactType` and says so with `OCI-Filters-Applied` (the default), or
    /// ignores the filter, which the spec allows (clients then filter themselves).
    pub fn set_referrers_filtering(&self, enabled: bool) {
        self.shared.behaviour.set_referrers_filtering(enabled);
    }

    /// Serve referrers in pages of at most `n`, each with a `Link` to the next (`None`: all in one page, the
    /// default).
    pub fn set_referrers_page_size(&self, n: Option<usize>) {
        self.shared.behaviour.set_referrers_page(n);
    }

    /// Refuse what docker-registry 2.8.2 lacks: DELETE by tag, and the referrers API.
    pub fn like_docker_registry(&self) {
        self.set_tag_deletes(false);
        self.set_referrers_api(false);
    }
}
