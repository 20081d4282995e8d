//! The distribution API endpoints, as methods of [`RegistryApi`], a cheap-to-clone handle on one registry.

mod blobs;
pub(crate) mod headers;
mod lists;
mod manifests;
mod page_size;
mod pager;
mod ping;
mod referrers;
mod registry_api;
mod transfer;
mod upload;
mod upload_journal;

pub use manifests::{ManifestHead, ManifestPut};
pub use pager::{Page, PageFuture, Pager, MAX_PAGES, MAX_STALLED_PAGES};
pub use referrers::{
    add_to_referrers_index, filter_artifact_type, has_artifact_type, referrers_tag, remove_from_referrers_index,
    ReferrersPage, MAX_REFERRERS_PAGES,
};
pub use registry_api::RegistryApi;
pub use transfer::{
    BlobPushed, MountOutcome, TransferConfig, UploadSession, MAX_CHUNK_SIZE, MAX_REGISTRY_CHUNK, MAX_RETRY_AFTER,
};
pub use upload_journal::UploadJournal;
