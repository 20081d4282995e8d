//! OCI image layouts: [`LayoutClient`](client::LayoutClient), a tree of OCI image layout directories as a
//! `Client`.

mod blobs;
pub(crate) mod client;
mod errors;
mod finishing;
mod index;
mod listing;
mod manifests;
mod named;
mod pushes;
mod reach;
mod referrers;
mod refs;
mod store;
mod sweep;
