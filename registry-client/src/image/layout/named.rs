//! Reads of a [`LayoutClient`] scope that has no layout directory of its own but is named in a parent layout's
//! `index.json` (`example.com/app:v1`, as skopeo's `oci:DIR:example.com/app:v1` writes it): the rule is
//! [`OciArchive`](crate::OciArchive)'s, names compared with the shared `ref_names` rule.

use registry_core::Result;

use super::client::LayoutClient;
use super::index::LayoutIndex;
use super::store::Layout;
use crate::image::ref_names::repository_key;

impl LayoutClient {
    /// The layout the scope's reads go to, and its index as the scope sees it: the scope's own layout when it
    /// exists (or when no parent names the scope); else the nearest layout above it whose `index.json` has names
    /// `<scope path relative to it>:<tag>`, seen through [`LayoutIndex::named_view`] and named in messages
    /// `oci:/parent:example.com/app`. `None` for the index when there is no layout. Errors as
    /// [`Layout::index`] (a parent's broken `index.json` included: it is reported, not skipped).
    pub(super) async fn read_view(&self) -> Result<(Layout, Option<LayoutIndex>)> {
        let own = self.layout()?;
        if let Some(index) = own.index().await? {
            return Ok((own, Some(index)));
        }
        for (dir, rel) in self.parents()? {
            let parent = Layout::new(dir.clone(), format!("oci:{}:{rel}", dir.display()));
            let Some(index) = parent.index().await? else { continue };
            let view = index.named_view(&repository_key(&rel));
            if !view.is_empty() {
                return Ok((parent, Some(view)));
            }
        }
        Ok((own, None))
    }
}
