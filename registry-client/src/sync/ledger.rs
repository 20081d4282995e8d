//! Which blobs each target registry has got in this run, so each is uploaded once and mounted after.
