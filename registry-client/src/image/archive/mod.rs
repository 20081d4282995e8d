//! Archives: docker-archive (`docker save` / `docker load`) and oci-archive (a tar of an OCI layout), read as a
//! read-only `Client` without unpacking and written by streaming writers.
//!
//! - `tar_index`: one scan of a tar's headers, then each member's byte range by name (a leaf);
//! - `blobs`: the archive's blobs as a `BlobSource` of file ranges, verified;
//! - `contents`: what an opened archive holds (tags by repository, manifests, blobs);
//! - `read_client`: the read-only `Client` over the contents, shared by both formats;
//! - `docker_read`, `oci_read`: opening each format;
//! - `tar_sink`: writing a tar member by member, sizes patched in afterwards when unknown; `sink_slot`: driving it
//!   from async code;
//! - `docker_write`, `oci_write`: the writers of each format.

pub(crate) mod blobs;
pub(crate) mod contents;
pub(crate) mod docker_read;
pub(crate) mod docker_write;
pub(crate) mod oci_read;
pub(crate) mod oci_write;
pub(crate) mod read_client;
pub(crate) mod sink_slot;
pub(crate) mod tar_index;
pub(crate) mod tar_sink;
