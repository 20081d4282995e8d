//! An in-process OCI distribution registry on a loopback port, for tests and demos.
//!
//! [`RegistryServer`] speaks the distribution API over HTTP/1.1 from memory: manifests (validated on push: parsed,
//! size-capped, referenced blobs and child manifests checked), blobs with byte ranges, uploads (monolithic,
//! chunked with `Content-Range`, streamed, cross-repository mounts), tag lists and the catalog with `n`/`last`
//! pagination and `Link`, and the referrers API. It can demand Basic credentials, or Bearer tokens from its own
//! `/token` endpoint, and its [`Faults`] make it fail, slow down or cut answers short on request.
//!
//! Its content lives in the crate's typed store, the one behind `FakeClient` too, so both enforce the same rules
//! (what a push needs, what a lookup answers); this module adds HTTP on top.
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

// Layers, top to bottom (a file imports only files below it): `registry_server` (the public type, the listener)
// -> `service` (the request pipeline and the router) -> the handlers `manifests`, `blobs`, `uploads`, `lists`,
// `referrers` -> `state` (what connections share) -> `auth` -> `routes` (paths to typed names) -> `reply`
// (answers and errors) -> the crate's `store`; `faults`, `body` and `ids` import none of these.
mod auth;
mod blobs;
mod body;
mod faults;
mod ids;
mod lists;
mod manifests;
mod referrers;
mod registry_server;
mod reply;
mod routes;
mod service;
mod state;
#[cfg(test)]
mod tests;
mod uploads;

pub use faults::Faults;
pub use registry_server::{RegistryServer, ServerBuilder};
