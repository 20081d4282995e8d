//! The image model and what can be done with an image wherever it came from (a registry, an OCI layout, an
//! archive, memory): [`Image`](model::Image) and its [`BlobSource`](model::BlobSource), building images and
//! artifacts, platforms; flattening and safe extraction; OCI layouts and archives as sources and sinks; mutation;
//! validation.

pub(crate) mod archive;
pub(crate) mod artifact;
pub(crate) mod blocking;
pub(crate) mod builder;
pub(crate) mod compression;
pub(crate) mod extract;
pub(crate) mod extract_options;
pub(crate) mod extract_summary;
pub(crate) mod file_range;
pub(crate) mod file_target;
pub(crate) mod flatten;
pub(crate) mod layout;
pub(crate) mod model;
pub(crate) mod mutate;
pub(crate) mod platform;
pub(crate) mod ref_names;
pub(crate) mod tar_error;
pub(crate) mod temp_files;
pub(crate) mod unpack;
pub(crate) mod validate;
