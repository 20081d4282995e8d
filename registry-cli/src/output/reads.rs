//! What the read commands print (`ls`, `catalog`, `digest`, `manifest`, `config`, `inspect`, `referrers`, `tag`, `delete`): text and JSON shapes.
