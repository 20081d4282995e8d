//! Blob uploads (`/v2/<name>/blobs/uploads/`), as methods of [`RegistryApi`](super::RegistryApi):
//!
//! - `session`: opening, asking, patching, closing and cancelling an upload session, and cross-repository mounts;
//! - `sized`: a blob of known size and digest that survives failures (one streamed PUT, or resumable chunks);
//! - `resume`: recording a chunked upload's session in the upload journal, and resuming one recorded there;
//! - `reader`: the source of a chunked upload, hashed once as it is first read;
//! - `stream`: a blob of unknown size from a one-time stream;
//! - `progress`: whether the registry's confirmed offset grows, and the bound on answers that leave it where it was;
//! - `recovery`: the error that ends an upload out of recoveries (whether a failure is worth recovering from is
//!   decided in [`transport::retry`](crate::transport::retry), as for every retry).

mod progress;
mod reader;
mod recovery;
mod resume;
mod session;
mod sized;
mod stream;
