//! A registry client facade: the [`Client`] trait, Deckhouse-style, and [`RemoteClient`] implementing it over
//! `registry-core`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use registry_client::{Client, ListOptions, RemoteClient};
//!
//! # async fn demo() -> registry_client::Result<()> {
//! let client: Arc<dyn Client> =
//!     Arc::new(RemoteClient::builder("registry.example.com").basic_auth("user", "password").build()?);
//! for tag in client.with_segment("org/app").list_tags(ListOptions::default()).await? {
//!     println!("{tag}");
//! }
//! # Ok(()) }
//! ```

mod client;
mod conveniences;
mod copy;
mod digest_tag;
mod image;
mod inspect;
mod listing;
mod manifest_result;
mod options;
mod pages;
mod progress;
mod remote;
mod resolve;
mod scope;
pub mod sync;
mod transfer;

pub use client::{digest_reference, push_reference, Client};
pub use copy::{copy_image, CopyOptions, CopyReport};
pub use digest_tag::is_digest_tag;
pub use image::archive::docker_read::{DockerArchive, DockerArchiveImage};
pub use image::archive::docker_write::DockerArchiveWriter;
pub use image::archive::oci_read::OciArchive;
pub use image::archive::oci_write::OciArchiveWriter;
pub use image::artifact::{Artifact, ArtifactBuilder, EMPTY_JSON, EMPTY_MEDIA_TYPE};
pub use image::builder::{index_of, ImageBuilder};
pub use image::compression::{Compression, DecompressionLimits};
pub use image::extract_options::ExtractOptions;
pub use image::extract_summary::ExtractSummary;
pub use image::file_target::FileTarget;
pub use image::layout::client::LayoutClient;
pub use image::model::{slices_from, BlobSource, Image, MemoryBlobs, RemoteBlobs, MAX_CONFIG_SIZE};
pub use image::mutate::time::parse_rfc3339;
pub use image::mutate::Mutation;
pub use image::platform::Platform;
pub use image::unpack::{unpack_tar, unpack_tar_with_summary};
pub use image::validate::report::{Problem, ProblemKind, ValidationReport};
pub use image::validate::{validate, validate_image, validate_image_with, validate_with, ValidateOptions};
pub use inspect::{inspect, ArtifactDetails, ImageDetails, IndexEntry, Inspection, Layer};
pub use listing::{paged_stream, LIST_PAGE};
pub use manifest_result::ManifestResult;
pub use options::{ImageOptions, ListOptions};
pub use pages::{list_matching_tags, list_repositories_below, matching_names};
pub use progress::{ProgressEvent, ProgressFn};
pub use remote::builder::RemoteClientBuilder;
pub use remote::RemoteClient;
pub use resolve::resolve_image_manifest;
pub use scope::ClientScope;
pub use transfer::TransferOptions;

/// The attribute for implementing [`Client`] or [`BlobSource`] without depending on `async-trait` yourself.
pub use async_trait::async_trait;
/// The OCI image spec types (`registry_client::oci_spec::image::..`), the version this crate's signatures use.
pub use oci_spec;
pub use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
pub use registry_core::api::BlobPushed;
pub use registry_core::auth::{Credentials, Keychain};
pub use registry_core::manifest::Manifest;
pub use registry_core::transport::RetryConfig;
pub use registry_core::{
    self as core, ByteStream, CapabilitySnapshot, Digest, Error, ErrorKind, Reference, Repository, Result,
};
