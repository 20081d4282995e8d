//! OCI image layouts: `LayoutClient`, an OCI layout directory tree as a `Client`. (Being written.)
