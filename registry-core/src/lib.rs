//! The OCI / Docker registry protocol over `reqwest` + `tokio`.
//!
//! - [`reference`](mod@reference): typed, validated names (`Reference`, `Repository`, `Registry`);
//! - [`digest`]: content digests and a verifying stream;
//! - [`manifest`]: media types and manifest parsing;
//! - [`auth`]: credentials, challenges, token exchange and cache;
//! - [`transport`]: the HTTP request path (auth, retry, user agent, tracing);
//! - [`api`]: the distribution endpoints on a per-registry handle;
//! - [`error`]: the one error type.

pub mod api;
pub mod auth;
pub mod capabilities;
pub mod digest;
pub mod error;
pub mod manifest;
pub mod reference;
pub mod transport;

pub use capabilities::{Capabilities, CapabilitySnapshot};
pub use digest::{skip_bytes, Algorithm, ByteStream, Digest, DigestHasher, VerifyingStream};
pub use error::{Error, ErrorKind, RegistryErrorCode, Result};
pub use reference::{Reference, ReferenceError, Registry, Repository};
