//! Test support: real-registry harness, token issuer, in-test HTTP server.
//!
//! - [`http::TestServer`]: a small recording HTTP/1.1 server for fake
//!   endpoints.
//! - [`token::TokenIssuer`] / [`token::TokenServer`]: a token endpoint that
//!   issues ES256 JWTs the real registry accepts.
//! - [`harness::DockerRegistry`]: the real `docker-registry` in a temp dir.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod background;
pub mod bench;
pub mod conformance;
pub mod generated;
pub mod harness;
pub mod http;
pub mod layers;
pub mod logs;
pub mod modgraph;
pub mod proxy;
pub mod reopen;
pub mod skopeo;
pub mod tls;
pub mod token;

pub use harness::{AuthMode, DockerRegistry};
pub use http::{TestRequest, TestResponse, TestServer};
pub use token::{Access, Scope, TokenAuth, TokenIssuer, TokenServer};

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
