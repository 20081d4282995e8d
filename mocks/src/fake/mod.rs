//! [`FakeClient`]: an in-memory [`Client`](registry_client::Client) that behaves like a registry, with seeding
//! helpers, scripted failures, latency and a call log; plus test content ([`random_image`], [`ImageSpec`],
//! [`multi_platform`]).
//!
//! It is a real implementation, not a stub: it passes the same conformance suite as `RemoteClient` against
//! docker-registry, so code tested against it behaves the same against a registry. Where the two differ, the fake
//! is wrong.
//!
//! - `client`: the type, scoping, seeding, inspection, scripting;
//! - `client_impl`: the `Client` methods as called: logged, delayed, failed as scripted, then handed to
//! - `unlogged`: the `Client` implementation proper (the trait's required core; its provided methods run on it);
//! - `blobs`: blobs in and out (the content and the registry's rules are the crate's `store`, shared with the
//!   server);
//! - `script`: [`Method`], [`Call`], failures, latency, log; `shared`: the state clones share;
//! - `data`: test content.

mod blobs;
mod client;
mod client_impl;
mod data;
mod script;
mod shared;
mod unlogged;

#[cfg(test)]
mod tests;

pub use blobs::FakeBlobs;
pub use client::FakeClient;
pub use data::{multi_platform, random_bytes, random_image, seeded_bytes, ImageSpec, RANDOM_LABEL};
pub use script::{Call, Method};
