//! Test doubles for the registry client.
//!
//! - [`server::RegistryServer`]: an in-process OCI distribution registry on a loopback port (HTTP/1.1, in memory),
//!   with optional Basic or Bearer authentication and fault hooks, for tests and demos.
//! - [`FakeClient`]: an in-memory [`Client`](registry_client::Client) that behaves like a registry (it passes the
//!   same conformance suite as `RemoteClient`), shared by clones and `with_segment` children, with one registry per
//!   host, seeding and inspection helpers, scripted failures ([`FakeClient::fail_next`]), latency and a call log.
//! - Test content: [`random_image`], [`multi_platform`], [`random_bytes`] and the [`ImageSpec`] builder.
//!
//! Both doubles keep their content in one typed in-memory registry (the crate-internal `store`: blobs,
//! manifests, tags, uploads, referrers), so the rules they enforce (what a push needs, what a lookup answers) are
//! the same by construction.

pub mod fake;
pub mod server;
mod store;

pub use fake::{
    multi_platform, random_bytes, random_image, seeded_bytes, Call, FakeBlobs, FakeClient, ImageSpec, Method,
};
