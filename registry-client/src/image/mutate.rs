//! Mutation: a new `Image` from an image with layers appended and config fields, annotations or platform set. (Being written.)
