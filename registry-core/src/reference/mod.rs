//! Image references: `[registry/]path[:tag][@digest]`, validated on construction.
//!
//! The grammar is docker's (the `reference` package of the distribution project), with bracketed IPv6 registry
//! addresses as newer versions accept them:
//!
//! - the part before the first `/` is a registry domain when it contains `.` or `:`, is `localhost`, or contains an
//!   uppercase letter; otherwise the whole name is a path on Docker Hub, where a single-component path gets
//!   `library/` prepended (`alpine` is `docker.io/library/alpine`);
//! - `docker.io`, `index.docker.io` and `registry-1.docker.io` all name Docker Hub and are written `docker.io`;
//! - a domain is `component ('.' component)* [':' port]` or `'[' ipv6 ']' [':' port]`, a component being letters,
//!   digits and inner `-`, a port a number from 1 to 65535;
//! - a path is `component ('/' component)*`, a component being lowercase letters and digits separated by one `.`,
//!   one or two `_`, or any number of `-`;
//! - a tag is `[A-Za-z0-9_][A-Za-z0-9_.-]*`, at most 128 characters; it follows the last `:` after the last `/`;
//! - a digest follows `@` and must be a sha256 or sha512 digest (see [`Digest`](crate::Digest));
//! - the whole name (`registry/path`, as written after canonicalisation) is at most 255 characters.
//!
//! ```
//! use registry_core::{Reference, ReferenceError};
//!
//! let r: Reference = "alpine".parse().map_err(|e: ReferenceError| e.to_string())?;
//! assert_eq!(r.to_string(), "docker.io/library/alpine:latest");
//! assert_eq!(r.repository().registry().api_host(), "registry-1.docker.io");
//! assert_eq!(r.identifier(), "latest");
//!
//! let r = Reference::parse("localhost:5000/team/app:v1").map_err(|e| e.to_string())?;
//! assert_eq!(r.repository().path(), "team/app");
//! assert!(r.repository().registry().is_loopback());
//! # Ok::<(), String>(())
//! ```

mod error;
mod grammar;
mod image_ref;
mod registry;
mod repository;

pub use error::ReferenceError;
pub use image_ref::Reference;
pub use registry::Registry;
pub use repository::Repository;

#[cfg(test)]
mod tests;
