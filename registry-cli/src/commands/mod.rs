//! One file per command: each parses its own flags and calls the library.

pub(crate) mod catalog;
pub(crate) mod completion;
pub(crate) mod config;
pub(crate) mod cp;
pub(crate) mod delete;
pub(crate) mod demo;
pub(crate) mod digest;
pub(crate) mod export;
pub(crate) mod extract;
pub(crate) mod inspect;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod ls;
pub(crate) mod manifest;
pub(crate) mod mutate;
pub(crate) mod referrers;
pub(crate) mod serve;
pub(crate) mod sync;
pub(crate) mod tag;
pub(crate) mod validate;
