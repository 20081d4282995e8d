//! Hostile and malformed input: bad references, segments and builder settings; registries that send oversized,
//! corrupt, mislabelled or lying content; error bodies that are huge; links and locations that point elsewhere;
//! authentication failures. Every test asserts the error kind and that the message names the problem.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod blobs;
mod errors;
mod input;
mod lists;
mod manifests;
mod support;
mod uploads;
