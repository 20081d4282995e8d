//! Validation: every blob digest and size, every diff_id, config/manifest agreement, index children present. (Being written.)
