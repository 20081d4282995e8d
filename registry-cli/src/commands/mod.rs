//! One file per command: each parses its own flags and calls the library.

pub(crate) mod cp;
pub(crate) mod demo;
pub(crate) mod sync;
